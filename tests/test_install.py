"""A non-editable install: build the wheel, install it into a fresh venv, search from another folder."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "venv", "runs", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache"
)

WHERE_THINGS_ARE = """
import json, search
from search.core.data import load_dataset
from search.core.spaces import default_space_path
mnist = load_dataset("mnist")
print(json.dumps({"package": search.__file__, "space": str(default_space_path("svc")),
                  "mnist": mnist.source, "images": len(mnist.y)}))
"""


def run(command: list, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "SEARCH_DATA_DIR")}
    return subprocess.run(
        [str(part) for part in command], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=environment
    )


@pytest.fixture(scope="module")
def installed_python(tmp_path_factory) -> Path:
    """A fresh venv holding the project's wheel; its dependencies are the test environment's.

    The wheel is built offline from a copy of the source tree (so the checkout gets no build/
    folder). The fresh venv reaches the test environment's packages through a ``.pth`` line, which
    adds that folder to ``sys.path`` without running the editable install's hook that lives there.
    """
    tmp = tmp_path_factory.mktemp("install")
    source, wheels, venv = tmp / "source", tmp / "wheels", tmp / "venv"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    built = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", wheels, source], tmp)
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("mnist_search-*.whl")
    assert run([sys.executable, "-m", "venv", venv], tmp).returncode == 0
    python = venv / "bin" / "python"
    installed = run([python, "-m", "pip", "install", "--no-deps", "--no-index", wheel], tmp)
    assert installed.returncode == 0, installed.stderr
    (site_packages,) = venv.glob("lib/python*/site-packages")
    (site_packages / "test-environment.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return python


@pytest.mark.install
def test_the_wheel_carries_the_spaces_and_mnist(installed_python, tmp_path):
    result = run([installed_python, "-c", WHERE_THINGS_ARE], tmp_path)
    assert result.returncode == 0, result.stderr
    where = json.loads(result.stdout)
    venv = installed_python.parent.parent
    assert Path(where["package"]).is_relative_to(venv), "the installed package, not the checkout"
    assert Path(where["space"]).is_relative_to(venv) and Path(where["space"]).is_file()
    assert str(venv) in where["mnist"] and where["images"] == 70_000
    installed = Path(where["package"]).parent
    modules = {path.relative_to(ROOT / "search") for path in (ROOT / "search").rglob("*.py")}
    assert modules <= {path.relative_to(installed) for path in installed.rglob("*.py")}, "every module is in the wheel"


@pytest.mark.install
def test_the_installed_command_runs_a_digits_search_from_another_folder(installed_python, tmp_path):
    result = run(
        [installed_python, "-m", "search.run", "--family", "logistic", "--dataset", "digits", "--num-samples", "4",
         "--quiet", "--output-dir", "run"],
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["trials"]["total"] == 4 and report["test_accuracy"] > 0.9
    settings = json.loads((tmp_path / "run" / "settings.json").read_text())
    assert Path(settings["space_path"]).is_relative_to(installed_python.parent.parent)


@pytest.mark.install
def test_the_installed_package_answers_as_mnist_search_and_python_m_search(installed_python, tmp_path):
    command = installed_python.parent / "mnist-search"
    for invocation, prog in (([command], "mnist-search"), ([installed_python, "-m", "search"], "python -m search")):
        result = run([*invocation, "--help"], cwd=tmp_path, timeout=120)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"usage: {prog} [-h] [--family"), "named as the user called it"
    bad = run([command, "--family", "xgboost"], cwd=tmp_path, timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and bad.stderr.endswith("(see mnist-search --help)\n")
