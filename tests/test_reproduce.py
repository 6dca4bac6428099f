"""`bwkit reproduce`: the same record gives the same run. A run on an external CSV reproduced (a tampered record
drifts, changed data is refused) is test_real_data.py's, on its run of the real slice."""
import json

from bwkit import cli
from bwkit.runs.artifacts import RunFolder


def test_a_run_reproduces_exactly_on_the_same_machine(tiny_run, capsys):
    assert cli.main(["reproduce", str(tiny_run.root), "--run-id", "tiny-again"]) == 0
    out = capsys.readouterr().out
    assert "reproduced exactly: " in out and "[1/4] 01_generate_data" in out
    again = RunFolder(tiny_run.root.parent / "tiny-again")
    result = json.loads(again.run_json.read_text())["reproduction"]
    assert result["of"] == "tiny" and result["drift"] == [] and result["compared"] > 100
    assert result["check"] == []                                  # bwkit check passes on the new folder
    assert "reproduced exactly" in again.index.read_text()
