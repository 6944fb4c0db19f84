"""Start a local Ray, or join a running cluster, and say where its dashboard is."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

LOCAL_OBJECT_STORE_BYTES = 2 * 1024**3
AUTH_TOKEN_FILE = Path.home() / ".ray" / "auth_token"


def start_ray(address: str | None) -> float:
    """Join the cluster at ``address``, or start a local Ray with its dashboard; print its URL.

    Returns the cluster's GPUs.

    Ray 2.59+ starts local clusters (``ray start`` too) with token authentication, but a driver
    that joins one by address sends no token unless ``RAY_AUTH_MODE=token``, which Ray reads when
    it is imported. So when a token is at hand and the variable is unset, it is set here, before
    Ray is imported.
    """
    if address and "ray" in sys.modules and "RAY_AUTH_MODE" not in os.environ:
        raise RuntimeError("start_ray must run before ray is imported")
    if address and "RAY_AUTH_MODE" not in os.environ and _auth_token_available():
        os.environ["RAY_AUTH_MODE"] = "token"
    import ray

    if address:
        context = ray.init(address=address, logging_level=logging.WARNING)
    else:
        context = ray.init(
            address="local",
            include_dashboard=True,
            dashboard_host="127.0.0.1",
            object_store_memory=LOCAL_OBJECT_STORE_BYTES,
            logging_level=logging.WARNING,
        )
    resources = ray.cluster_resources()
    where = f"cluster at {address}" if address else "local Ray"
    print(f"{where}: {resources.get('CPU', 0):g} CPUs, {resources.get('GPU', 0):g} GPUs", flush=True)
    if context.dashboard_url:
        print(f"Ray dashboard: http://{context.dashboard_url}", flush=True)
    return resources.get("GPU", 0)


def _auth_token_available() -> bool:
    return bool(os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")) or AUTH_TOKEN_FILE.is_file()
