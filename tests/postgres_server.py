"""A real PostgreSQL server for the tests: Debian's package, a throwaway cluster on a free local port.

``.ci/run`` installs the package (``apt-get install postgresql``). PostgreSQL will not run as root,
so as root the cluster belongs to the ``postgres`` user the package made.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


def postgres_bin() -> Path:
    """The folder of ``initdb`` and ``pg_ctl`` (Debian keeps them out of PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).parent
    raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql (.ci/run does)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def postgres_server(password: str | None = None) -> Iterator[str]:
    """A running PostgreSQL server with an empty database ``search``; yields its URL.

    With ``password``, the server checks it (``scram-sha-256``), as a real one does; without, it trusts
    every local connection (and the URL's password means nothing).
    """
    binaries = postgres_bin()
    folder = Path(tempfile.mkdtemp(prefix="pg-test-"))  # not under pytest's root-only folders
    as_user: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", free_port()

    def run(*command: str) -> None:
        environment = {**os.environ, "PGPASSWORD": password or ""}
        subprocess.run([*as_user, *command], check=True, capture_output=True, cwd=folder, env=environment)

    if password is None:
        run(str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
    else:
        (folder / "password").write_text(password + "\n")
        os.chmod(folder / "password", 0o644)
        run(str(binaries / "initdb"), "-D", str(data), "-A", "scram-sha-256", "-U", "postgres",
            f"--pwfile={folder / 'password'}")  # fmt: skip
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    run(str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start")
    try:
        run(str(binaries / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "search")
        yield f"postgresql://postgres:{password or 'secret'}@127.0.0.1:{port}/search"
    finally:
        run(str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(folder, ignore_errors=True)
