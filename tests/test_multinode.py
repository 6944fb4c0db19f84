"""The search on a real multi-node Ray cluster whose worker nodes cannot see the driver's files.

One head node (1 CPU, with the dashboard and the job API) for the module (``tests/ray_nodes.py``).
The tests that need the head alone, or a node of their own that they add and kill, come first; the
rest share one worker node (1 CPU), added when the first of them starts. Trial storage is a real
S3-compatible server on localhost: moto's server mode.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from tests.conftest import ROOT
from tests.ray_nodes import FAST_NODE_DEATH, RAY, RayCluster, free_port, wait_for
from tests.test_cli import signal_when_printed

pytestmark = pytest.mark.cluster

S3_ENV = {"AWS_ACCESS_KEY_ID": "any", "AWS_SECRET_ACCESS_KEY": "any", "AWS_DEFAULT_REGION": "us-east-1"}
"""moto accepts any credentials; without some, uploads go unsigned and moto keeps their chunk framing."""
SMALL_KERAS = "units: {type: int, low: 16, high: 64}\nepochs: {type: int, low: 4, high: 4}\n"
SVC_ON_MNIST_ROWS = ["--dataset", "mnist", "--max-train-samples", "8000", "--scheduler", "none"]
SLOWER_MLP = "units: {type: int, low: 64, high: 128}\nepochs: {type: int, low: 150, high: 150}\n"
CHECKPOINTED_EPOCHS = 6
"""Epochs a trial has checkpointed when the node-loss test kills its node."""
TRIAL_ACTOR = "ImplicitFunc"
"""The class of the actor that runs a function trainable's trial."""
LONGER_KERAS = "units: {type: int, low: 16, high: 64}\nepochs: {type: int, low: 25, high: 25}\n"


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """A moto S3 server on localhost with an empty bucket; yields the ``--storage-path`` of a prefix in it."""
    import pyarrow.fs

    port = free_port()
    server = subprocess.Popen(
        [_script("moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    os.environ.update(S3_ENV)
    filesystem = pyarrow.fs.S3FileSystem(endpoint_override=endpoint, allow_bucket_creation=True)
    wait_for(lambda: _try(lambda: filesystem.create_dir("runs") or True), timeout=30)
    yield f"s3://runs/searches?endpoint_override={endpoint}"
    server.kill()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, s3):
    """The head node; the tests add worker nodes that cannot see ``cluster.hidden``."""
    hidden = tmp_path_factory.mktemp("runs")
    env = {**S3_ENV, **FAST_NODE_DEATH, "RAY_AUTH_MODE": "token", "PATH": f"{_bin()}:{os.environ['PATH']}"}
    ray_cluster = RayCluster(hidden, env)
    ray_cluster.start_head(cpus=1)
    yield ray_cluster
    ray_cluster.stop()


@pytest.fixture(scope="module")
def worker(cluster):
    """One worker node (1 CPU) for the tests after the head-alone ones (pytest runs them in file order)."""
    node = cluster.add_worker(cpus=1)
    yield node
    cluster.remove(node)


def search(cluster, *args, timeout=600, **popen):
    dataset = [] if "--resume" in args else ["--dataset", "digits"]  # a resume takes the recorded one
    command = [sys.executable, "-m", "search.run", *dataset, "--address", cluster.address, *args]
    environment = {**os.environ, **cluster.env}
    if popen:
        return subprocess.Popen(command, cwd=ROOT, env=environment, text=True, **popen)
    return subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=timeout)


def space(tmp_path, text):
    path = tmp_path / "space.yaml"
    path.write_text(text)
    return str(path)


def test_trials_beyond_the_clusters_size_are_demand_an_autoscaler_sees(cluster, tmp_path):
    """On the head alone (1 CPU), ``--max-concurrent 3`` leaves 2 trials waiting: the pending placement
    groups that ``ray status`` lists as demands, and that an autoscaler answers with nodes."""
    process = search(cluster, "--family", "mlp", "--num-samples", "3", "--max-concurrent", "3",
                     "--space", space(tmp_path, SLOWER_MLP), "--dataset", "mnist", "--max-train-samples", "6000",
                     "--scheduler", "none", "--output-dir", str(cluster.hidden / "demand"),
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        demands = wait_for(lambda: _pending_demands(cluster), timeout=120)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=120)
    assert "{'CPU': 1.0} * 1 (PACK): 2+ pending placement groups" in demands


def _pending_demands(cluster) -> str | None:
    status = subprocess.run([RAY, "status", f"--address={cluster.address}"], capture_output=True, text=True,
                            env={**os.environ, **cluster.env}, timeout=60).stdout  # fmt: skip
    demands = status[status.find("Demands:") :]
    return demands if "2+ pending placement groups" in demands else None


def test_a_node_started_partway_through_a_search_receives_trials(cluster, tmp_path):
    out = cluster.hidden / "elastic"
    # trials of several seconds: long enough that the head's reused worker does not take every trial first
    process = search(cluster, "--family", "mlp", "--num-samples", "5", "--space", space(tmp_path, SLOWER_MLP),
                     "--dataset", "mnist", "--max-train-samples", "6000", "--scheduler", "none", "--output-dir",
                     str(out), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    lines = []
    for line in process.stdout:
        lines.append(line)
        if "== mlp: searching" in line:  # the search has started, on the head alone
            break
    node = cluster.add_worker(cpus=1)
    try:
        output, _ = process.communicate(timeout=600)
    finally:
        cluster.remove(node)
    assert process.returncode == 0, "".join(lines) + output
    assert f"cluster at {cluster.address}: 1 CPUs" in "".join(lines), "the search started on the head alone"
    assert "the cluster grew to 2 nodes, 2 CPUs, 0 GPUs: 2 trials at once" in output
    trials = pd.read_csv(out / "trials.csv")
    on_new_node = trials[trials["node"] == node.node_id]
    assert len(on_new_node) >= 2, trials[["node", "started_at"]]
    print(f"first trial on the new node {on_new_node['started_at'].min() - node.started_at:.1f} s after its start")


def test_a_trial_lost_with_its_node_is_retried_and_not_failed(cluster, s3, tmp_path):
    node = cluster.add_worker(cpus=1)
    out = cluster.hidden / "node-loss"
    process = search(cluster, "--family", "keras_mlp", "--num-samples", "2", "--max-concurrent", "2",
                     "--time-budget", "10m", "--scheduler", "none", "--space", space(tmp_path, LONGER_KERAS),
                     "--storage-path", s3, "--output-dir", str(out),
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        wait_for(lambda: out.joinpath("settings.json").exists(), timeout=120)
        experiment = json.loads((out / "settings.json").read_text())["experiment_name"]
        # both first trials, one per node, are training: each has saved its 6th epoch's checkpoint
        wait_for(lambda: _trials_past_checkpoint(s3, experiment, CHECKPOINTED_EPOCHS) >= 2, timeout=180, every=1)
        assert wait_for(lambda: _trials_running_on(cluster, node.node_id), timeout=60, every=2)
        os.kill(node.raylet_pid(), signal.SIGKILL)
        killed_at = time.time()
        output, _ = process.communicate(timeout=600)
    finally:
        cluster.remove(node)
    assert process.returncode == 0, output
    assert "a trial's worker or node died; it runs again from its last checkpoint" in output
    assert "Traceback" not in output, "one line about it, not Ray Tune's traceback of the dead actor"
    assert "(raylet)" not in output, "nor Ray's own message to every driver that the node died"
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 2 and (trials["status"] == "completed").all(), trials
    retried = trials[trials["attempts"] > 1]
    assert len(retried) == 1, "the trial that was on the dead node ran again"
    assert retried["started_at"].iloc[0] > killed_at and retried["node"].iloc[0] != node.node_id
    # from scratch it would report the epochs before the kill twice: 25 + 6 or more
    assert 25 <= retried["reports"].iloc[0] < 25 + CHECKPOINTED_EPOCHS, "it carried on from its last checkpoint"
    report = json.loads((out / "report.json").read_text())
    assert report["trials"]["failed"] == 0 and report["trials"]["retried"] == 1
    restarted = retried["started_at"].iloc[0] - killed_at
    print(f"node killed; its trial restarted {restarted:.1f} s later on the head, reports {retried['reports'].iloc[0]}")


def _trials_running_on(cluster, node_id: str) -> bool:
    result = subprocess.run(
        [RAY, "list", "actors", f"--address={cluster.dashboard}", "--format=json"],
        capture_output=True, text=True, env={**os.environ, **cluster.env}, timeout=60,
    )  # fmt: skip
    if result.returncode != 0 or not result.stdout.startswith("["):  # "No resource in the cluster"
        return False
    actors = json.loads(result.stdout)
    return any(a["node_id"] == node_id and a["state"] == "ALIVE" and a["class_name"] == TRIAL_ACTOR for a in actors)


def _trials_past_checkpoint(storage_path: str, experiment: str, epochs: int) -> int:
    """Trials whose latest checkpoint in the bucket (``checkpoint_000005``: the 6th) holds ``epochs`` or more."""
    try:
        files = _bucket_files(storage_path, experiment)
    except OSError:
        return 0
    latest = {}
    for name in files:
        if match := re.search(r"(.*)/checkpoint_(\d+)", name):
            latest[match.group(1)] = max(latest.get(match.group(1), 0), int(match.group(2)) + 1)
    return sum(done >= epochs for done in latest.values())


def test_a_checkpointing_family_without_shared_storage_stops_before_the_search(cluster, worker, tmp_path):
    out = cluster.hidden / "no-storage"
    result = search(cluster, "--family", "keras_mlp", "--output-dir", str(out))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: keras_mlp trials save checkpoints, and this cluster has 2 nodes: pass --storage-path with a folder "
        "every node mounts (NFS) or a bucket (s3://bucket/prefix)"
    )
    assert not (out / "tune").exists(), "no trial started"


def test_a_bucket_that_does_not_exist_is_bad_input(s3, tmp_path):
    missing = s3.replace("s3://runs/", "s3://no-such-bucket/")
    result = subprocess.run([sys.executable, "-m", "search.run", "--family", "svc", "--dataset", "digits",
                             "--storage-path", missing, "--output-dir", str(tmp_path / "run")],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 2
    assert (
        result.stderr
        == f"error: --storage-path {missing}: the bucket 'no-such-bucket' does not exist; create it first\n"
    )
    assert not (tmp_path / "run").exists()


def test_a_run_whose_driver_and_disk_are_lost_goes_on_from_its_copy_in_the_bucket(s3, tmp_path):
    """Head loss: the driver and its local Ray killed, its disk thrown away; on a new machine with an empty disk,
    ``--resume s3://...`` goes on from the bucket alone, keeping every trial that had finished, and the results
    end up in the bucket."""
    from tests.test_nothing_lost import finished_ids, start_search

    nothing = s3.replace("/searches?", "/searches/no-such-run?")
    refused = subprocess.run([sys.executable, "-m", "search.run", "--resume", nothing], cwd=tmp_path,
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert "no run's copy there" in refused.stderr and not list(tmp_path.iterdir())

    first_disk, second_disk = tmp_path / "first-head", tmp_path / "second-head"
    out = first_disk / "run"
    process = start_search(out, "--storage-path", s3, num_samples=8)

    def copy_in_bucket(folder):
        return _fetch_copy(s3, json.loads((out / "settings.json").read_text())["experiment_name"], folder)

    def bucket_caught_up() -> bool:  # the copy's journal holds every trial the driver's journal saw finish
        if not (out / "study.journal").exists():
            return False
        local = finished_ids(out)
        return len(local) >= 3 and local <= finished_ids(copy_in_bucket(tmp_path / "copied"))

    wait_for(bucket_caught_up, timeout=180)
    process.kill()  # the driver, and with it its local Ray: the head node is gone
    output, _ = process.communicate(timeout=30)
    kept = finished_ids(copy_in_bucket(tmp_path / "at-kill"))
    uri, result = _resume_on_a_new_head(output, first_disk, second_disk)
    assert "going on from" in result.stdout
    resumed = second_disk / "runs" / "run"
    trials = pd.read_csv(resumed / "trials.csv")
    assert kept <= set(trials["trial_id"]), "every trial the bucket had seen finish is kept"
    assert len(trials) == 8 and trials["trial_id"].is_unique
    assert not first_disk.exists(), "nothing was written where the lost disk was"
    experiment = json.loads((resumed / "settings.json").read_text())["experiment_name"].split("-rebuilt-")[0]
    names = {name.rsplit("/run/", 1)[-1] for name in _bucket_files(s3, experiment) if "/run/" in name}
    assert {"settings.json", "study.journal", "trials.csv", "report.json", "report.html", "model.joblib"} <= names


def test_families_searched_at_once_go_on_from_their_copy_in_the_bucket_after_the_head_is_lost(s3, tmp_path):
    """The same for a several-family run: the bucket holds the whole run folder, every family's in it, kept
    current as their trials end; ``--resume s3://...`` on an empty disk finishes every family and ranks them."""
    from tests.test_cli import finished_trials

    first_disk, second_disk = tmp_path / "first-head", tmp_path / "second-head"
    out, families = first_disk / "run", ["logistic", "mlp"]
    command = [sys.executable, "-m", "search.run", "--family", ",".join(families), "--dataset", "digits",
               "--max-train-samples", "400", "--num-samples", "40", "--scheduler", "none", "--patience", "0",
               "--time-budget", "10m", "--storage-path", s3, "--output-dir", str(out)]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def copy_in_bucket(folder):
        return _fetch_copy(s3, json.loads((out / "families.json").read_text())["experiment_name"], folder)

    def bucket_has_finished_trials() -> bool:  # while the search runs: its copy's journals are a few seconds behind
        if not (out / "families.json").exists():
            return False
        return sum(map(len, finished_trials(copy_in_bucket(tmp_path / "copied")).values())) >= 3

    wait_for(bucket_has_finished_trials, timeout=240)
    assert not (out / "report.json").exists(), "the search was still running"
    process.kill()  # the driver; its watchdog ends the families' searches and its local Ray
    output, _ = process.communicate(timeout=60)
    kept = finished_trials(copy_in_bucket(tmp_path / "at-kill"))
    uri, result = _resume_on_a_new_head(output, first_disk, second_disk)
    resumed = second_disk / "runs" / uri.split("?")[0].rsplit("/", 1)[-1]
    for family in families:
        trials = pd.read_csv(resumed / family / "trials.csv")
        assert kept.get(family, set()) <= set(trials["trial_id"]), f"{family}: every trial the bucket had is kept"
        assert trials["trial_id"].is_unique  # (the allocator may end a family behind the other before its 40)
    assert sorted(r["family"] for r in json.loads((resumed / "report.json").read_text())) == families
    assert not first_disk.exists(), "nothing was written where the lost disk was"
    experiment = json.loads((resumed / "families.json").read_text())["experiment_name"]
    names = {name.rsplit("/run/", 1)[-1] for name in _bucket_files(s3, experiment) if "/run/" in name}
    assert {"families.json", "report.json", "ranking.json", "mlp/model.joblib", "logistic/trials.csv"} <= names


def test_trials_run_on_both_nodes_with_their_results_in_the_bucket(cluster, worker, s3, tmp_path):
    """Keras trials checkpoint into the bucket; svc's (no checkpoints) are the job test's, below."""
    out = cluster.hidden / "both-keras_mlp"
    result = search(cluster, "--family", "keras_mlp", "--num-samples", "6", "--storage-path", s3, "--output-dir",
                    str(out), "--space", space(tmp_path, SMALL_KERAS))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert_ran_on_every_node_with_state_in_the_bucket(cluster, s3, out)
    listed = _bucket_files(s3, json.loads((out / "settings.json").read_text())["experiment_name"])
    assert sum("checkpoint_" in name and name.endswith("model.keras") for name in listed) == 6
    assert not list(out.glob("tune")), "nothing of Ray Tune's in the run folder"


def assert_ran_on_every_node_with_state_in_the_bucket(cluster, s3: str, out) -> None:
    trials = pd.read_csv(out / "trials.csv")
    assert (trials["status"] != "failed").all()
    assert set(trials["node"]) == set(cluster.node_ids()), "trials ran on the head and on the worker node"
    print(f"trials per node {trials['node'].str[:8].value_counts().to_dict()}")
    settings = json.loads((out / "settings.json").read_text())
    assert settings["storage_path"] == s3
    listed = _bucket_files(s3, settings["experiment_name"])
    assert any("experiment_state" in name for name in listed)


def test_an_interrupted_search_resumes_from_the_bucket(cluster, worker, s3, tmp_path):
    out = cluster.hidden / "resume"
    process = search(cluster, "--family", "keras_mlp", "--num-samples", "4", "--max-concurrent", "2",
                     "--space", space(tmp_path, SMALL_KERAS), "--storage-path", s3, "--output-dir", str(out),
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    stderr = signal_when_printed(process, "trial   1/4", signal.SIGINT)
    assert process.returncode == 130, stderr

    result = search(cluster, "--resume", str(out))
    assert result.returncode == 0, result.stderr
    assert json.loads((out / "report.json").read_text())["trials"]["total"] == 4
    assert len(_bucket_files(s3, json.loads((out / "settings.json").read_text())["experiment_name"])) > 0


def test_a_job_submitted_to_the_cluster_runs_there_and_an_svc_trial_lost_with_its_node_runs_again(
    cluster, worker, s3, tmp_path
):
    """svc fits a few thousand MNIST rows, so that its trials last long enough to need both nodes; the
    worker node dies (its raylet killed) while it runs one, which has no checkpoint: it runs again from
    the start on the head. (The worker node is this module's last test's.)"""
    out = cluster.hidden / "job"
    command = [RAY, "job", "submit", "--address", cluster.dashboard, "--working-dir", ".", "--",
               "python", "-m", "search.run", "--family", "svc", *SVC_ON_MNIST_ROWS, "--num-samples", "4",
               "--storage-path", s3, "--output-dir", str(out)]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **cluster.env}, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        assert wait_for(lambda: _trials_running_on(cluster, worker.node_id), timeout=300, every=2)
        actors = ray_list(cluster, "actors")
        assert any(actor["repr_name"] == "svc_trial" for actor in actors), "the dashboard names the trials' actors"
        os.kill(worker.raylet_pid(), signal.SIGKILL)
        output, _ = process.communicate(timeout=600)
    finally:
        process.kill()
    assert process.returncode == 0, output[-5000:]
    joined = re.search(rf"cluster at [\d.]+:{cluster.port}: 2 nodes, 2 CPUs", output)
    assert joined, "the job joined the cluster it was sent to (RAY_ADDRESS), not a Ray of its own"
    assert "trial   4/4" in output, "the job's logs show the progress lines"
    assert f"results: {out}" in output
    assert "a trial's worker or node died; it runs again from the start (no checkpoint)" in output
    assert "Traceback" not in output and "ActorUnavailableError" not in output, "one line about it, no dump"
    assert "(raylet)" not in output, "nor Ray's own message to every driver that the node died"
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 4 and (trials["status"] == "completed").all(), trials
    retried = trials[trials["attempts"] > 1]
    assert len(retried) == 1 and retried["node"].iloc[0] != worker.node_id, "run again, on the head"
    report = json.loads((out / "report.json").read_text())
    assert report["trials"]["total"] == 4 and report["trials"]["failed"] == 0 and report["trials"]["retried"] == 1
    settings = json.loads((out / "settings.json").read_text())
    assert settings["storage_path"] == s3
    assert any("experiment_state" in name for name in _bucket_files(s3, settings["experiment_name"]))
    retrain = [task["name"] for task in ray_list(cluster, "tasks") if task["name"].startswith("retrain svc ")]
    assert retrain and "C=" in retrain[0] and "gamma=" in retrain[0], "and the retrain's task, with its config"
    print(f"trials per node {trials['node'].str[:8].value_counts().to_dict()}; reports {retried['reports'].tolist()}")


def ray_list(cluster, kind: str) -> list[dict]:
    """What the Ray dashboard's state API lists (``ray list actors``, ``ray list tasks``)."""
    command = [RAY, "list", kind, "--address", cluster.dashboard, "--detail", "--format", "json", "--limit", "1000"]
    result = subprocess.run(command, env={**os.environ, **cluster.env}, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _resume_on_a_new_head(output: str, first_disk, second_disk) -> tuple[str, subprocess.CompletedProcess]:
    """The lost head's disk deleted, ``--resume`` of the bucket URI the run printed, from an empty folder on another:
    the URI and the finished command (exit 0, no traceback)."""
    uri = re.search(r"elsewhere: --resume (\S+)", output).group(1)
    shutil.rmtree(first_disk)
    second_disk.mkdir()
    command = [sys.executable, "-m", "search.run", "--resume", uri]
    process = subprocess.Popen(command, cwd=second_disk, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONFAULTHANDLER": "1"})  # fmt: skip
    try:
        stdout, stderr = process.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        stdout, stderr = _abort_with_stacks(process)
        raise AssertionError(f"--resume still running after 600 s; its output and stacks:\n{stdout[-6000:]}\n"
                             f"{stderr[-20000:]}") from None  # fmt: skip
    result = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return uri, result


def _abort_with_stacks(process: subprocess.Popen) -> tuple[str, str]:
    """SIGABRT to a hung run's Python processes, its families' first: each prints every thread's stack
    (``PYTHONFAULTHANDLER``) on its standard error, which the run relays; what the run printed."""
    import psutil

    for child in psutil.Process(process.pid).children(recursive=True):
        try:
            if "search.run" in " ".join(child.cmdline()):
                child.send_signal(signal.SIGABRT)
        except psutil.Error:  # ended meanwhile
            pass
    time.sleep(3)
    process.send_signal(signal.SIGABRT)
    try:
        return process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()


def _bucket_files(storage_path: str, experiment: str) -> list[str]:
    import pyarrow.fs

    filesystem, path = pyarrow.fs.FileSystem.from_uri(storage_path)
    selector = pyarrow.fs.FileSelector(f"{path}/{experiment}", recursive=True)
    return [info.path for info in filesystem.get_file_info(selector)]


def _fetch_copy(storage_path: str, experiment: str, folder) -> object:
    """The run's copy in the bucket (``<experiment>/run/``), as files in ``folder`` (replaced)."""
    import pyarrow.fs

    shutil.rmtree(folder, ignore_errors=True)
    filesystem, path = pyarrow.fs.FileSystem.from_uri(storage_path)
    place = f"{path}/{experiment}/run"
    for info in filesystem.get_file_info(pyarrow.fs.FileSelector(place, recursive=True, allow_not_found=True)):
        if info.type == pyarrow.fs.FileType.File:
            local = folder / info.path[len(place) + 1 :]
            local.parent.mkdir(parents=True, exist_ok=True)
            with filesystem.open_input_stream(info.path) as stream:
                local.write_bytes(stream.read())
    return folder


def _bin() -> str:
    return os.path.dirname(sys.executable)


def _script(name: str) -> str:
    return os.path.join(_bin(), name)


def _try(action):
    try:
        return action()
    except Exception:  # noqa: BLE001 - the server is not up yet
        return None
