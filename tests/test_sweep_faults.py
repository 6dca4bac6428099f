"""`bwkit sweep` when things go wrong: workers that cannot see the client's files, and a client killed with its
cluster mid-sweep. Their own file, so that the test runner can run them beside the grid's tests."""
import json

import pytest

from bwkit.experiments import sweeps as sweep

pytest.importorskip("dask.distributed")
# tracking off: a sweep's MLflow parent and children are test_tune.py's (the same TrackedParent); here each
# sweep would create and migrate a store of its own and log every run's ONNX model, asserted by no test
TINY = {"samples": 300, "epochs": 1, "window_size": 5, "hidden_size": 4, "tracking": False}


def test_workers_without_the_clients_disk_send_their_run_folders_back(tmp_path, monkeypatch):
    from dask.distributed import LocalCluster

    client_runs, worker_runs = tmp_path / "client", tmp_path / "worker"
    monkeypatch.setenv("BWKIT_RUNS", str(client_runs))
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                      local_directory=str(tmp_path / "elsewhere"), env={"BWKIT_RUNS": str(worker_runs)}) as cluster:
        record = sweep.run_sweep(TINY, sweep.parse_grid(["learning_rate=0.001"]), sweep_id="apart",
                             scheduler=cluster.scheduler_address, log=lambda *_: None, progress=False)
    run = client_runs / "sweeps" / "apart" / "apart-000"
    assert record["results"]["apart-000"]["status"] == "succeeded"
    assert json.loads((run / "run.json").read_text())["status"] == "succeeded" and (run / "best_model.pth").exists()
    assert not list(worker_runs.rglob("run.json"))                  # nothing left on the worker's side


def test_a_killed_client_and_its_cluster_leave_a_sweep_that_a_rerun_finishes(tmp_path, monkeypatch):
    """SIGKILL to the client's whole process group (its LocalCluster included) once one run has finished."""
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {**os.environ, "BWKIT_RUNS": str(tmp_path)}
    settings = [f"--set={k}={v}" for k, v in TINY.items()]
    client = subprocess.Popen([sys.executable, "-m", "bwkit.cli", "sweep", "--grid", "hidden_size=4,8", "--workers", "1",
                               "--sweep-id", "cut", *settings], env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = tmp_path / "sweeps" / "cut" / "cut-000" / "run.json"
    deadline = time.monotonic() + 180
    while not (first.exists() and json.loads(first.read_text())["status"] == "succeeded"):
        assert time.monotonic() < deadline and client.poll() is None
        time.sleep(0.2)
    os.killpg(client.pid, signal.SIGKILL)
    client.wait(timeout=30)
    monkeypatch.setenv("BWKIT_RUNS", str(tmp_path))
    said = []
    record = sweep.run_sweep(TINY, sweep.parse_grid(["hidden_size=4,8"]), sweep_id="cut", workers=1, log=said.append,
                         progress=False)
    assert "skipping 1 that succeeded" in said[0] and record["skipped"] == ["cut-000"]
    assert record["results"]["cut-001"]["status"] == "succeeded"
