"""Two clients of one sweep id: the second is refused at once, naming the first, and touches nothing."""
import os
import socket

import pytest

from bwkit.errors import RunError
from bwkit.experiments import run_sweep
from bwkit.runs import SweepFolder, held


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
