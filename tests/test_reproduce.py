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


def test_a_reproduction_on_other_vector_units_names_them_beside_the_drift(tiny_run, tmp_path):
    """The same CPU model name can come with or without AVX-512, and the two train to different last digits: a
    reproduction says so where the record of either run shows it, instead of a bare drift."""
    import shutil

    from bwkit.pipeline.reproduction import compare
    from bwkit.runs import environment

    assert "avx" in environment()["machine"]["vector_units"] or not open("/proc/cpuinfo").read().count(" avx")
    other = RunFolder(shutil.copytree(tiny_run.root, tmp_path / "elsewhere"))
    record = json.loads(other.run_json.read_text())
    record["environment"]["machine"]["vector_units"] = "avx avx2"
    record["environment"]["machine"]["platform"] = "another kernel build"
    other.run_json.write_text(json.dumps(record))
    differ = compare(tiny_run, other)["versions_differ"]
    assert differ["machine vector_units"][1] == "avx avx2" and "machine platform" not in differ
    assert compare(tiny_run, tiny_run)["versions_differ"] == {}


def test_the_vector_units_name_a_cap_set_on_the_kernels(monkeypatch):
    from bwkit.runs.env import vector_units

    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert vector_units().endswith("ONEDNN_MAX_CPU_ISA=AVX2")
