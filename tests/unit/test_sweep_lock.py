"""Two clients of one sweep or study id: the second is refused at once, naming the first, and touches nothing; a
sweep or search stopped by Ctrl-C or an error closes its MLflow parent run."""
import os
import socket

import pytest

from bwkit.errors import RunError
from bwkit.experiments import run_sweep, run_tune
from bwkit.runs import FOLDER_LOCK, STUDIES, SweepFolder, held


def test_a_second_client_of_a_live_sweep_is_refused_naming_the_holder(tmp_path):
    sweep = SweepFolder(tmp_path, "overlap")
    sweep.root.mkdir(parents=True)
    (sweep.root / "overlap-000").mkdir()   # the first client's live run folder
    (sweep.root / "overlap-000" / "run.json").write_text('{"run_id": "overlap-000", "status": "running"}')
    with held(sweep.lock, "sweep 'overlap'"):
        with pytest.raises(RunError, match=f"in use by pid {os.getpid()} on {socket.gethostname()}"):
            run_sweep({"epochs": 1}, {"seed": [1]}, sweep_id="overlap", runs_root=tmp_path, log=lambda *_: None,
                      progress=False)
    assert (sweep.root / "overlap-000" / "run.json").read_text().startswith('{"run_id": "overlap-000"')
    assert sorted(p.name for p in sweep.root.iterdir()) == [".lock", "overlap-000"]


def test_the_lock_is_free_again_when_its_holder_lets_go(tmp_path):
    lock = tmp_path / ".lock"
    with held(lock, "it"):
        pass
    with held(lock, "it"):   # no stale lock: flock is released with its holder
        pass


def test_a_second_client_of_a_live_study_is_refused_and_leaves_its_running_trial_alone(tmp_path):
    """Without the lock the second `bwkit tune` of a study marked the first one's running trial FAIL and deleted its
    run folder while it trained."""
    study = tmp_path / STUDIES / "s"
    (study / "s-t000").mkdir(parents=True)
    (study / "s-t000" / "run.json").write_text('{"run_id": "s-t000", "status": "running"}')
    with held(study / FOLDER_LOCK, "study 's'"):
        with pytest.raises(RunError, match=f"study 's' .* is in use by pid {os.getpid()}"):
            run_tune({"epochs": 1}, {}, 1, study_id="s", runs_root=tmp_path, log=lambda *_: None)
    assert sorted(p.name for p in study.iterdir()) == [FOLDER_LOCK, "s-t000"]


@pytest.mark.parametrize("stop, status", [(KeyboardInterrupt, "KILLED"), (RuntimeError, "FAILED")])
def test_a_sweep_or_search_stopped_closes_its_mlflow_parent_run(tmp_path, monkeypatch, stop, status):
    """Ctrl-C (or an error) in a tracked sweep or search left its parent run RUNNING in MLflow for ever."""
    from bwkit.experiments import parents

    ended = []
    monkeypatch.setattr(parents, "start_parent", lambda *args, **kwargs: "parent-1")
    monkeypatch.setattr(parents, "end_parent", lambda parent, metrics, failed, killed=False, **kwargs:
                        ended.append((parent, "KILLED" if killed else "FAILED" if failed else "FINISHED")))
    tracked = parents.TrackedParent("sweep", "g", params={}, uri=None, runs_root=tmp_path, folder=tmp_path)
    with pytest.raises(stop):
        with tracked.closed_if_stopped():
            raise stop()
    assert ended == [("parent-1", status)]
    with tracked.closed_if_stopped():
        pass   # a block that ends well leaves the closing to the sweep's own summary
    assert len(ended) == 1


def test_a_sweep_task_run_again_after_its_worker_died_starts_afresh(tmp_path):
    """Dask runs a task again when its worker dies; the first try's folder, left "running", made the second fail
    with "run ... already exists" and kept its record "running" for good."""
    from bwkit.experiments.sweeps import run_task
    from bwkit.runs import configure

    (tmp_path / "g-000").mkdir()
    (tmp_path / "g-000" / "run.json").write_text('{"run_id": "g-000", "status": "running"}')   # the dead try's
    config = configure({"data_path": str(tmp_path / "missing.csv"), "tracking": False})
    result = run_task("g-000", config, str(tmp_path), data=None)
    assert result["status"] == "failed" and "already exists" not in result["error"]
    assert "missing.csv" in result["error"]   # this try's own outcome, in its own record
    assert '"status": "failed"' in (tmp_path / "g-000" / "run.json").read_text()
