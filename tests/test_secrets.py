"""No secret in what a run writes: a database password stays out of the run folder and Ray Tune's state,
and a resume finds it where PostgreSQL's own tools look, or asks for it in one line. The server checks
passwords (scram-sha-256), as a real one does."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from search.records.credentials import has_credentials, remember, with_password, without_password
from search.records.study import open_study_place
from tests.conftest import ROOT
from tests.postgres_server import postgres_server
from tests.test_cli import run_cli, signal_when_printed

PASSWORD = "pw-7f3a9c1e"


def test_a_url_is_recorded_without_its_password_which_this_process_alone_keeps():
    url = "postgresql://me:pa55@db.example:5432/searches"
    assert without_password(url) == "postgresql://me@db.example:5432/searches"
    assert remember(url) == "postgresql://me@db.example:5432/searches"
    assert with_password("postgresql://me@db.example:5432/searches") == url
    assert with_password("postgresql://other@db/x") == "postgresql://other@db/x", "unknown: as recorded"
    assert without_password("sqlite:///runs/study.db") == "sqlite:///runs/study.db"
    assert has_credentials("s3://KEY:SECRET@bucket/prefix") and not has_credentials("s3://bucket/p?x=http://h:9")


@pytest.fixture(scope="module")
def database():
    with postgres_server(password=PASSWORD) as url:
        yield url


def files_holding(folder: Path, text: str) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file() and text.encode() in path.read_bytes()]


@pytest.mark.postgres
def test_no_file_of_a_run_holds_the_database_password_and_resume_asks_for_it(database, tmp_path):
    assert PASSWORD in database
    out = tmp_path / "run"
    command = [sys.executable, "-m", "search.run", "--family", "mlp", "--dataset", "digits", "--num-samples", "3",
               "--max-concurrent", "1", "--study-storage", database, "--output-dir", str(out)]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stderr = signal_when_printed(process, "trial   1/3", signal.SIGINT)
    assert process.returncode == 130, stderr
    assert not files_holding(out, PASSWORD), "settings.json, tuner.pkl, the searcher's state: no password"

    asked = run_cli("--resume", str(out), "--quiet", env={"PGPASSWORD": "", "PGPASSFILE": str(tmp_path / "none")})
    assert asked.returncode == 2 and asked.stderr.count("\n") == 1, asked.stderr
    assert "asks for a password" in asked.stderr and "PGPASSWORD" in asked.stderr and PASSWORD not in asked.stderr

    wrong = run_cli("--resume", str(out), "--study-storage", database.replace("/search", "/other"))
    assert wrong.returncode == 2 and "give that database's URL again" in wrong.stderr

    settings = json.loads((out / "settings.json").read_text())
    assert settings["study_storage"] == database.replace(f":{PASSWORD}@", "@"), "recorded without its password"
    with pytest.MonkeyPatch.context() as environment:  # where libpq looks, as a resume on its own would
        environment.setenv("PGPASSWORD", PASSWORD)
        assert open_study_place(settings["study_storage"], settings["study_name"], out, create=False).load()

    resumed = run_cli("--resume", str(out), "--quiet", "--study-storage", database, env={"PGPASSWORD": ""})
    assert resumed.returncode == 0, resumed.stderr
    assert (out / "report.json").is_file()
    assert not files_holding(out, PASSWORD), "nor after the resume and its reports"


def test_a_storage_uri_with_credentials_is_refused_before_anything_starts(tmp_path):
    out = tmp_path / "run"
    result = run_cli("--family", "svc", "--storage-path", "s3://KEY:SECRET@bucket/runs", "--output-dir", str(out),
                     timeout=120)  # fmt: skip
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "credentials do not go in the URI" in result.stderr and "SECRET" not in result.stderr
    assert not out.exists()
