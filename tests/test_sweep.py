"""`bwkit sweep` on a 2-worker LocalCluster, its comparison page, re-running a sweep id, and
workers that cannot see the client's files."""
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from bwkit import cli
from bwkit.experiments import sweeps as sweep
from bwkit.errors import ParameterError
from bwkit.pipeline import STAND_INS
from conftest import stand_ins_for

pytest.importorskip("dask.distributed")
# tracking off: a sweep's MLflow parent and children are test_tune.py's (the same TrackedParent); here each
# sweep would create and migrate a store of its own and log every run's ONNX model, asserted by no test
TINY = {"samples": 300, "epochs": 1, "window_size": 5, "hidden_size": 4, "tracking": False}


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """A 2x2 sweep whose window 400 combinations fail (300 rows), on a 2-worker LocalCluster. The runs' 04_export
    is the stand-in (tests/notebooks/stand_in_stages): a comparison reads what 02 and 03 wrote, and the real export
    is the tiny run's to test."""
    import contextlib
    import io

    root = tmp_path_factory.mktemp("sweeps")
    bar = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stderr(bar):
        mp.setenv("BWKIT_RUNS", str(root))
        mp.setenv(STAND_INS, str(stand_ins_for(root.parent / (root.name + "-stand-ins"), "04_export")))
        grid = sweep.parse_grid(["hidden_size=4,8", "window_size=5,400"])
        record = sweep.run_sweep(TINY, grid, sweep_id="grid", workers=2, log=lambda *_: None, progress=True)
    record["progress"] = bar.getvalue()
    return root / "sweeps" / "grid", record


def test_every_combination_is_a_run_folder_and_a_failure_does_not_stop_the_sweep(swept):
    folder, record = swept
    assert sorted(record["runs"]) == [f"grid-00{n}" for n in range(4)]
    statuses = {rid: json.loads((folder / rid / "run.json").read_text())["status"] for rid in record["runs"]}
    assert sorted(statuses.values()) == ["failed", "failed", "succeeded", "succeeded"]
    failed = [r for r in record["results"].values() if r["status"] == "failed"]
    assert all("a 70/15/15 split needs at least" in r["error"] for r in failed)
    assert len(list((folder / "data").glob("*.csv"))) == 1        # the data, generated once for the sweep


def test_the_progress_counts_epochs_and_dasks_own_lines_go_to_the_sweeps_log(swept):
    folder, record = swept
    assert "sweep: 100%" in record["progress"] and "4/4 [" in record["progress"] and "epoch" in record["progress"]
    assert "Worker process still alive" not in record["progress"]
    assert "distributed" in (folder / "dask.log").read_text()          # the cluster's lines, kept beside the runs


def test_the_comparison_page_shows_what_differs_and_the_best(swept):
    folder, record = swept
    page = (folder / "05_compare.html").read_text()
    assert record["comparison"].endswith("05_compare.html")
    assert "hidden_size" in page and "window_size" in page and "#e6f4ea" in page   # the best row, highlighted
    assert "data:image/png;base64" in page and "one run each" in page
    assert "sweeps/grid/05_compare.html" in (folder.parent.parent / "index.html").read_text()


def test_the_sweep_pages_read_at_1400_by_900_and_link_across(swept, readable):
    """The comparison page (seaborn: each metric per swept value, the heat map, the curves by swept value), a run of
    the sweep and the list of runs: measured; each links back and across."""
    folder, _ = swept
    root = folder.parent.parent
    for path in (folder / "05_compare.html", folder / "grid-000" / "index.html", root / "index.html"):
        readable(path)
    assert (folder / "compare_heatmap.png").is_file() and (folder / "compare_parameters.png").is_file()
    compare_page = (folder / "05_compare.html").read_text()
    assert re.search(r"href=[\"']\.\./\.\./index\.html", compare_page)            # back to the list
    assert re.search(r"href=[\"']grid-000/index\.html", compare_page)               # each run's page, from the ranking
    assert "sd 0.0" not in compare_page and "n/a" in compare_page                  # one run each: no spread to show
    run_page = (folder / "grid-000" / "index.html").read_text()
    assert "href='../05_compare.html'" in run_page and "href='../../../index.html'" in run_page


def test_rerunning_a_sweep_id_finishes_only_what_is_missing(swept, monkeypatch):
    folder, record = swept
    failed = sorted(rid for rid, r in record["results"].items() if r["status"] == "failed")
    succeeded = sorted(set(record["runs"]) - set(failed))
    # A failed run made to look unfinished, as a client killed mid-run leaves one: the rerun then runs no stage,
    # only the failing combinations' data check (a killed client's run finished by a rerun: test_sweep_faults.py)
    unfinished = folder / failed[0] / "run.json"
    data = json.loads(unfinished.read_text())
    data["status"] = "running"
    unfinished.write_text(json.dumps(data))
    monkeypatch.setenv("BWKIT_RUNS", str(folder.parent.parent))
    said = []
    again = sweep.run_sweep(TINY, sweep.parse_grid(["hidden_size=4,8", "window_size=5,400"]), sweep_id="grid", workers=1,
                            log=said.append, progress=False)
    assert "skipping 2 that succeeded; running 0 new, 1 failed, 1 unfinished, 0 changed" in said[0]
    assert again["skipped"] == succeeded and sorted(again["results"]) == failed


def test_a_sweep_id_rerun_as_another_experiment_is_refused_and_its_runs_are_kept(swept, monkeypatch):
    """Another grid under the same id replaced a run that had succeeded (its checkpoint overwritten) and dropped
    the others from sweep.json, saying only "1 changed"."""
    folder, record = swept
    monkeypatch.setenv("BWKIT_RUNS", str(folder.parent.parent))
    def files():   # every file but the lock, which each client takes
        return {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file() and p.name != ".lock"}

    before = files()
    for grid, changes, says in ((["hidden_size=4"], {}, "grid: "), (["hidden_size=4,8", "window_size=5,400"],
                                {"epochs": 2}, "--set epochs: 1 then, 2 now")):
        with pytest.raises(ParameterError, match=f"sweep 'grid' began with another experiment \\({says}.*give a new "
                                                 "--sweep-id"):
            sweep.run_sweep({**TINY, **changes}, sweep.parse_grid(grid), sweep_id="grid", workers=1,
                            log=lambda *_: None, progress=False)
    assert files() == before


@pytest.mark.parametrize("pairs, message", [(["epoch=1,2"], "Did you mean 'epochs'"),
                                            (["epochs=1,many"], "expects int"), (["epochs"], "--grid expects"),
                                            (["run_dir=a,b"], "cannot be swept")])
def test_grid_values_are_checked_before_anything_starts(pairs, message):
    with pytest.raises(ParameterError, match=message):
        sweep.parse_grid(pairs)


def test_a_swept_seed_with_repeats_is_refused():
    """Repeat r adds r to the seed: seed=1,2 with two repeats ran seed 2 in both groups."""
    with pytest.raises(ParameterError, match="--grid seed with --repeats"):
        sweep.plan(TINY, sweep.parse_grid(["seed=1,2"]), 2, sweep_id="s")
    assert len(sweep.plan(TINY, sweep.parse_grid(["seed=1,2"]), 1, sweep_id="s")) == 2


def test_compare_of_run_folders_from_the_cli(tiny_run, tmp_path, monkeypatch, capsys, readable):
    """Run folders named as the user stands (relative): the kernel, started from the repository, looked for them
    there, and the command failed with papermill's ruler line for a message."""
    monkeypatch.setenv("BWKIT_RUNS", str(tmp_path))
    monkeypatch.chdir(tiny_run.root.parent)
    for twice in ([tiny_run.root.name, f"./{tiny_run.root.name}"], ["--sweep", "s", tiny_run.root.name], [],
                  [tiny_run.root.name, "nope"], [tiny_run.root.name, "a,b"]):   # refused before a kernel starts
        assert cli.main(["compare", *twice]) == 2, twice
    err = capsys.readouterr().err
    assert f"{tiny_run.root} is named twice: each run folder once" in err and "give either --sweep ID or run folders" in err
    assert "nope has no run.json: not a bwkit run folder: it cannot be compared" in err and "a,b: a run folder whose" in err
    copy = shutil.copytree(tiny_run.root, tmp_path / "copy")   # the same configuration, run again
    assert cli.main(["compare", tiny_run.root.name, str(copy)]) == 0
    page = capsys.readouterr().out.strip()
    assert page.endswith("05_compare.html") and "Only one configuration" in open(page).read()
    listed = (tmp_path / "index.html").read_text()
    assert "Comparisons (bwkit compare)" in listed and f"comparisons/{os.path.basename(os.path.dirname(page))}/" in listed
    readable(Path(page))
