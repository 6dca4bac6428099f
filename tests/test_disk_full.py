"""A full disk (a small tmpfs) under `bwkit run` and `bwkit predict`: one line, a record that tells the truth,
no partial file left behind. Needs root to mount a tmpfs (as CI and these machines run); skipped otherwise."""
import json
import subprocess

import pytest

from bwkit import cli


@pytest.fixture
def small_disk(tmp_path):
    """Mount a tmpfs of the given size (KiB) under tmp_path; unmounted at the end."""
    mounted = []

    def mount(kib: int):
        point = tmp_path / f"disk{len(mounted)}"
        point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kib}k", "tmpfs", str(point)],
                              capture_output=True, text=True)
        if done.returncode:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], check=False)


def test_predict_onto_a_full_disk_says_so_and_leaves_nothing(tiny_run, small_disk, capsys):
    disk = small_disk(64)
    code = cli.main(["predict", str(tiny_run.root), str(tiny_run.data), "-o", str(disk / "out.csv")])
    err = capsys.readouterr().err
    assert code == 1 and "no space left on" in err and "Traceback" not in err, err
    assert list(disk.iterdir()) == []


@pytest.mark.parametrize("kib", [8, 900])
def test_a_run_on_a_full_disk_ends_failed_in_its_record_or_says_it_could_not_write_one(small_disk, monkeypatch,
                                                                                        capsys, kib):
    disk = small_disk(kib)
    monkeypatch.setenv("BWKIT_RUNS", str(disk))
    code = cli.main(["run", "--run-id", "full", "--set", "samples=500", "--set", "epochs=1", "--set", "window_size=8",
                     "--set", "hidden_size=4", "--set", "known_future=False", "--set", "residual=True"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err and "no space left on" in err, err
    assert not list(disk.rglob("*.partial")), list(disk.rglob("*.partial"))
    for notebook in disk.rglob("*.ipynb"):   # a stage's notebook is whole (as far as it ran) or not there
        json.loads(notebook.read_text())
    record = disk / "full" / "run.json"
    if record.exists():   # room for the record: it says failed, and why
        run = json.loads(record.read_text())
        assert run["status"] == "failed" and "no space left on" in run["error"], run.get("error")
        assert not (disk / "full" / ".run.json.reserve").exists()
    else:                  # no room to tell the truth: no record tells an old one, and the terminal says so
        assert not (disk / "full").exists() or "could not be written" in err, err
