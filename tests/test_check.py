"""`bwkit check`: a complete run folder passes; a missing, altered or added file is named."""
import shutil

import pytest

from bwkit.pipeline import check
from bwkit import cli


@pytest.fixture
def copy(tiny_run, tmp_path):
    return shutil.copytree(tiny_run.root, tmp_path / "copy")


def test_a_complete_run_folder_passes_every_check(tiny_run, capsys):
    assert cli.main(["check", str(tiny_run.root)]) == 0
    out = capsys.readouterr().out
    assert "ONNX answers a batch of 256" in out and out.rstrip().endswith("all checks passed")
    assert "FAIL" not in out


@pytest.mark.parametrize("damage, expected", [
    (lambda run: (run / "bandwidth_lstm_v1.onnx").unlink(), "FAIL file bandwidth_lstm_v1.onnx"),
    (lambda run: (run / "training_output.log").write_text("edited\n"), "changed or missing: training_output.log"),
    (lambda run: (run / "extra.txt").write_text("x"), "added: extra.txt"),
])
def test_a_damaged_folder_fails_and_says_what(copy, capsys, damage, expected):
    damage(copy)
    assert cli.main(["check", str(copy)]) == 1
    out = capsys.readouterr().out
    assert expected in out and "check(s) failed" in out


def test_a_folder_without_a_record_fails(tmp_path):
    lines = []
    assert check.print_checks(tmp_path, lines.append) == 1 and "run.json readable" in lines[0]


def test_the_services_snapshots_are_not_an_alteration(copy, capsys):
    """`bwkit serve` keeps its links in the run's serving folder while it runs: the run's own files are unchanged."""
    from bwkit.runs import RunFolder

    RunFolder(copy).serving.mkdir()
    RunFolder(copy).serving_snapshot.write_bytes(b"links")
    assert cli.main(["check", str(copy)]) == 0
    assert "FAIL" not in capsys.readouterr().out


def test_a_killed_run_is_named_killed_with_the_way_to_finish_it(copy, capsys):
    """A run whose process died says so (and how to finish it), not "ok every file as the run left it" with no
    manifest to compare with; check reads the record and never writes it."""
    import json

    from bwkit.runs import RunFolder

    record = json.loads(RunFolder(copy).run_json.read_text())
    record.update(status="running", process={**record["process"], "pid": 2 ** 22 + 12345})   # no such process
    del record["manifest"]
    RunFolder(copy).run_json.write_text(json.dumps(record))
    before = RunFolder(copy).run_json.read_bytes()
    assert cli.main(["check", str(copy)]) == 1
    out = capsys.readouterr().out
    assert f"is gone: it was killed; bwkit resume {copy} finishes it" in out
    assert "run.json has no manifest (the run never ended)" in out and "as the run left it" not in out
    assert RunFolder(copy).run_json.read_bytes() == before
