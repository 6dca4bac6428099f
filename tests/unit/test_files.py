"""Whole files or none: what `bwkit.files.whole_file` promises every writer that goes through it."""
import errno
import os
import threading

import pytest

from bwkit import synth
from bwkit.errors import DiskFull
from bwkit.files import whole_file


def test_a_finished_write_replaces_the_file_and_leaves_nothing_beside_it(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with whole_file(target) as partial:
        partial.write_text("new")
        assert target.read_text() == "old"   # a reader meanwhile sees the old file, whole
    assert target.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]


@pytest.mark.parametrize("failure, raised", [(OSError(errno.ENOSPC, "No space left on device"), DiskFull),
                                             (OSError(errno.EIO, "Input/output error"), OSError),
                                             (KeyboardInterrupt(), KeyboardInterrupt)])
def test_a_write_that_fails_half_way_keeps_the_old_file_and_no_partial(tmp_path, failure, raised):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(raised) as caught:
        with whole_file(target) as partial:
            partial.write_text("half of the new")
            raise failure
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    if raised is DiskFull:
        assert str(caught.value) == f"no space left on {tmp_path} (writing out.txt)"


def test_writers_at_once_each_get_a_partial_file_of_their_own(tmp_path):
    target, seen = tmp_path / "out.txt", []
    both_open = threading.Barrier(2)

    def write(text):
        with whole_file(target) as partial:
            partial.write_text(text)
            seen.append(partial)
            both_open.wait(timeout=10)

    threads = [threading.Thread(target=write, args=(t,)) for t in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen[0] != seen[1] and target.read_text() in {"a", "b"} and len(list(tmp_path.iterdir())) == 1


def test_generating_over_an_existing_csv_onto_a_full_disk_keeps_the_old_csv(tmp_path, monkeypatch):
    """`-p output data.csv` over a CSV that is there: a full disk half-way used to leave half of a new file."""
    target = synth.write(tmp_path / "data.csv", 50, 1, profile="dwcp", start="2025-01-01")
    before = target.read_bytes()

    def half_then_full(frame, path):
        path.write_text(frame.head(5).to_csv(index=False))
        raise OSError(errno.ENOSPC, "No space left on device", str(path))
    monkeypatch.setattr(synth, "write_csv", half_then_full)
    with pytest.raises(DiskFull, match="no space left on .*data.csv"):
        synth.write(target, 80, 2, profile="dwcp", start="2025-01-01")
    assert target.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["data.csv"]


def test_a_symlink_is_written_through_and_the_replaced_files_permissions_are_kept(tmp_path):
    real, link = tmp_path / "real.csv", tmp_path / "link.csv"
    real.write_text("old")
    real.chmod(0o640)
    link.symlink_to(real)
    with whole_file(link) as partial:
        partial.write_text("new")
    assert link.is_symlink() and real.read_text() == "new" and (real.stat().st_mode & 0o777) == 0o640


def test_a_writer_killed_outright_leaves_a_partial_file_that_the_next_write_removes(tmp_path):
    import subprocess
    import sys

    target = tmp_path / "out[1].txt"   # a name that is also a glob pattern
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = tmp_path / f".out[1].txt.{int(gone.stdout)}.0123456789ab.partial"   # as SIGKILL leaves it
    live = tmp_path / f".out[1].txt.{os.getpid()}.0123456789ab.partial"      # another thread of this process, writing
    other = tmp_path / f".other.txt.{int(gone.stdout)}.0123456789ab.partial"   # another file's: not this write's
    for path in (dead, live, other):
        path.write_text("half")
    with whole_file(target) as partial:
        partial.write_text("whole")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, other.name, "out[1].txt"])
