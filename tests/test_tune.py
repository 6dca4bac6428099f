"""`bwkit tune` on a 2-worker LocalCluster: its client killed after two trials, the study continued
with a hopeless point enqueued through Optuna's own API, which the pruner stops early.

The trials train for real (the pruner reads their epochs) but their 03_evaluate and 04_export are the stand-ins of
tests/notebooks/stand_in_stages/: what is tested is the search; the real stages are the tiny run's to test. So a
trial's value is its lowest validation loss in the training log (the search's objective when a run has no report)."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from bwkit.errors import ParameterError
from bwkit.experiments import parse_space, run_tune
from bwkit.pipeline import STAND_INS
from bwkit.runs import ROOT, RunFolder, configure
from bwkit.training import read_epochs
from conftest import stand_ins_for

optuna = pytest.importorskip("optuna")
pytest.importorskip("dask.distributed")
pytest.importorskip("mlflow")

# Slow enough epochs (batch 8) that the client reads a trial's log while it trains.
TINY = {"samples": 1500, "epochs": 12, "patience": 12, "window_size": 8, "hidden_size": 4, "batch_size": 8,
        "known_future": False, "residual": True, "compare_window_only": False, "linear_path": False}
SPACE = ["learning_rate=log:1e-6:1e-2"]
# Three finished trials: the two the kill leaves (the pruner compares with no fewer) and the hopeless one
TRIALS = 3
HOPELESS = {"learning_rate": 1e-6}


def _succeeded(folder) -> dict:
    """run id -> run.json of every trial folder whose run succeeded."""
    found = {}
    for path in folder.glob("*-t*/run.json"):
        try:
            record = json.loads(path.read_text())
        except ValueError:
            continue
        if record["status"] == "succeeded":
            found[path.parent.name] = record
    return found


def _killed_after_two_trials(root) -> dict:
    """`bwkit tune` as a user starts it, killed (its whole process group: client, cluster, kernels) once two
    trials' runs have succeeded; Dask's lines, the workers' included, never reached its terminal. Returns those two
    runs' records."""
    sets = [a for k, v in TINY.items() for a in ("--set", f"{k}={v}")]
    terminal = (root / "terminal.txt").open("w")
    process = subprocess.Popen([sys.executable, "-m", "bwkit.cli", "tune", "--study-id", "s", "--trials", str(TRIALS),
                                "--workers", "2", *[a for s in SPACE for a in ("--space", s)], *sets],
                               cwd=ROOT, env={**os.environ, "BWKIT_RUNS": str(root), "PYTHONUNBUFFERED": "1"},
                               start_new_session=True, stdout=terminal, stderr=subprocess.STDOUT)
    folder = root / "studies" / "s"
    try:
        for _ in range(1200):   # at most ten minutes on a loaded machine
            if len(_succeeded(folder)) >= 2 or process.poll() is not None:
                break
            time.sleep(0.5)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
        terminal.close()
    finished = _succeeded(folder)
    assert len(finished) >= 2, "two trials should have finished before the kill"
    printed = (root / "terminal.txt").read_text()
    assert "study s:" in printed and "distributed" not in printed, printed[-2000:]
    assert "distributed.nanny" in (folder / "dask.log").read_text()
    return finished


def test_a_killed_study_continues_without_losing_a_finished_trial_and_prunes_a_hopeless_one(tmp_path, monkeypatch,
                                                                                              readable):
    monkeypatch.setenv("BWKIT_RUNS", str(tmp_path))
    monkeypatch.setenv(STAND_INS, str(stand_ins_for(tmp_path / "stand-ins", "03_evaluate", "04_export")))
    before = _killed_after_two_trials(tmp_path)
    folder = tmp_path / "studies" / "s"
    study = optuna.load_study(study_name="s", storage=f"sqlite:///{folder / 'study.db'}")
    study.enqueue_trial(HOPELESS)
    base = {k: v for k, v in configure(TINY).items() if k not in {"run_dir", "output"}}
    # one worker: only the hopeless trial is left to run
    record = run_tune(base, parse_space(SPACE), TRIALS, study_id="s", seed=0, workers=1, log=lambda *_: None)

    rows = {r["run_id"]: r for r in record["rows"]}
    assert sum(r["state"] in {"COMPLETE", "PRUNED"} for r in rows.values()) == TRIALS
    for run_id, earlier in before.items():   # finished before the kill: kept, never run again
        assert rows[run_id]["state"] == "COMPLETE"
        assert json.loads((folder / run_id / "run.json").read_text())["started"] == earlier["started"]
        losses = [e["val_loss"] for e in read_epochs(RunFolder(folder / run_id).log)]
        assert rows[run_id]["value"] == pytest.approx(min(losses))   # its best validation loss
    hopeless = next(r for r in rows.values() if r["params"] == HOPELESS)
    assert hopeless["state"] == "PRUNED" and hopeless["pruned"].startswith("pruned by the search at epoch")
    log = (folder / hopeless["run_id"] / "training_output.log").read_text()
    assert "# stopped at epoch" in log and hopeless["epochs_trained"] < TINY["epochs"]
    assert json.loads((folder / hopeless["run_id"] / "run.json").read_text())["status"] == "succeeded"
    assert (folder / hopeless["run_id"] / "stand_in_04_export.txt").is_file()   # the stand-ins ran on the workers

    best = min((r for r in rows.values() if r["state"] == "COMPLETE"), key=lambda r: r["value"])
    assert record["best"]["run_id"] == best["run_id"] and os.path.exists(record["best_run_page"])
    page = open(record["page"]).read()
    assert f"Best trial: {best['number']}" in page and page.count("data:image/png;base64") >= 2
    assert "studies/s/index.html" in (tmp_path / "index.html").read_text()
    readable(folder / "index.html")                      # the study's page and a trial's, measured
    readable(folder / best["run_id"] / "index.html")
    trial_page = (folder / best["run_id"] / "index.html").read_text()
    assert "href='../index.html'" in trial_page and "this run's study" in trial_page   # the way back to its study

    from mlflow.tracking import MlflowClient   # the search is a parent MLflow run with its trials nested

    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    experiment = client.get_experiment_by_name("bwkit").experiment_id
    parents = client.search_runs([experiment], "tags.`bwkit.kind` = 'tune'")
    children = client.search_runs([experiment], f"tags.`mlflow.parentRunId` = '{parents[0].info.run_id}'")
    assert {c.info.run_name for c in children} >= {hopeless["run_id"]}

    # continued over another space or other parameters, the study is refused before anything starts (its table and
    # sampler would mix two searches); study.json stays the search it was
    for space, other in ((["learning_rate=log:1e-5:1e-2"], base), (SPACE, {**base, "epochs": 5})):
        with pytest.raises(ParameterError, match="began with another search .*give a new --study-id"):
            run_tune(other, parse_space(space), TRIALS + 1, study_id="s", workers=1, log=lambda *_: None)
    assert json.loads((folder / "study.json").read_text())["space"] == record["space"]
