"""`bwkit sweep` when things go wrong: a client killed with its cluster mid-sweep, and workers that cannot see the
client's files. Their own file, so that the test runner can run them beside the grid's tests.

What is tested here is the orchestration, so the runs' stages are the stand-ins of tests/notebooks/stand_in_stages/
(seconds each; the real stages' sweep is test_sweep.py's grid). One sweep serves both tests: its client is killed,
and the rerun that finishes it runs on workers with a disk of their own."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from bwkit.experiments import sweeps as sweep
from bwkit.pipeline import STAND_INS
from conftest import STAND_IN_STAGES

pytest.importorskip("dask.distributed")
# tracking off: a sweep's MLflow parent and children are test_tune.py's (the same TrackedParent); here each
# sweep would create and migrate a store of its own and log every run, asserted by no test
TINY = {"samples": 300, "epochs": 1, "window_size": 5, "hidden_size": 4, "tracking": False}
GRID = ["hidden_size=4,8"]


def _kill_once_one_run_succeeded(root) -> None:
    """`bwkit sweep` as a user starts it, on one worker; SIGKILL to its whole process group (its LocalCluster
    included) once the first run has succeeded."""
    settings = [f"--set={k}={v}" for k, v in TINY.items()]
    client = subprocess.Popen([sys.executable, "-m", "bwkit.cli", "sweep", "--grid", *GRID, "--workers", "1",
                               "--sweep-id", "cut", *settings], env={**os.environ, "BWKIT_RUNS": str(root)},
                              start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = root / "sweeps" / "cut" / "cut-000" / "run.json"
    try:
        deadline = time.monotonic() + 180
        while not (first.exists() and json.loads(first.read_text())["status"] == "succeeded"):
            assert time.monotonic() < deadline and client.poll() is None
            time.sleep(0.2)
    finally:
        os.killpg(client.pid, signal.SIGKILL)
        client.wait(timeout=30)


@pytest.fixture(scope="module")
def rerun_apart(tmp_path_factory):
    """The killed sweep, run again by an in-process client on a 1-worker LocalCluster whose workers have their own
    runs folder and files: (the runs root, the worker's runs folder, what the rerun said, its record)."""
    from dask.distributed import LocalCluster

    root = tmp_path_factory.mktemp("cut")
    worker_runs, said = root.parent / (root.name + "-worker"), []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(STAND_INS, str(STAND_IN_STAGES))
        mp.setenv("BWKIT_RUNS", str(root))
        _kill_once_one_run_succeeded(root)
        with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                          local_directory=str(root.parent / (root.name + "-elsewhere")),
                          env={"BWKIT_RUNS": str(worker_runs)}) as cluster:
            record = sweep.run_sweep(TINY, sweep.parse_grid(GRID), sweep_id="cut", scheduler=cluster.scheduler_address,
                                     log=said.append, progress=False)
    return root, worker_runs, said, record


def test_a_killed_client_and_its_cluster_leave_a_sweep_that_a_rerun_finishes(rerun_apart):
    _, _, said, record = rerun_apart
    assert "skipping 1 that succeeded" in said[0] and record["skipped"] == ["cut-000"]
    assert record["results"]["cut-001"]["status"] == "succeeded"


def test_workers_without_the_clients_disk_send_their_run_folders_back(rerun_apart):
    root, worker_runs, _, _ = rerun_apart
    run = root / "sweeps" / "cut" / "cut-001"
    assert json.loads((run / "run.json").read_text())["status"] == "succeeded"
    assert (run / "stand_in_04_export.txt").is_file() and (run / "04_export.html").is_file()   # every stage's files
    assert not list(worker_runs.rglob("run.json"))                  # nothing left on the worker's side
