"""`bwkit reproduce`: the same record gives the same run, and a run that differs is told apart by its weights, its
metrics and its ONNX outputs. A run on an external CSV whose data changed is refused: test_real_data.py."""
import json
import shutil

import numpy as np
import pytest

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


def test_a_run_that_differs_is_reported_as_drift_by_its_weights_metrics_and_onnx_outputs(tiny_run, tmp_path):
    """What a reproduction compares, on a copy of the tiny run whose checkpoint, report and ONNX file were each
    changed a little, as a tampered record's reproduction changes them (without training it again)."""
    import onnx
    import torch
    from onnx import numpy_helper

    from bwkit.pipeline.reproduction import compare

    other = RunFolder(shutil.copytree(tiny_run.root, tmp_path / "other"))
    checkpoint = torch.load(other.checkpoint, map_location="cpu", weights_only=True)
    name = next(n for n in checkpoint["state_dict"] if n.endswith("weight_ih_l0"))
    checkpoint["state_dict"][name] = checkpoint["state_dict"][name] + 1e-3
    torch.save(checkpoint, other.checkpoint)
    report = json.loads(other.report.read_text())
    report["comparison"]["LSTM"]["average"]["correlation"] += 1e-9
    other.report.write_text(json.dumps(report))
    model = onnx.load(other.onnx("v1"))
    weight = next(w for w in model.graph.initializer if w.data_type == onnx.TensorProto.FLOAT and len(w.dims) == 2)
    weight.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(weight) + np.float32(1e-2), weight.name))
    onnx.save(model, other.onnx("v1"))

    result = compare(tiny_run, other)
    drifted = {row["what"]: row["difference"] for row in result["drift"]}
    assert drifted == {f"weights {name}": pytest.approx(1e-3, rel=1e-3), "LSTM average correlation": pytest.approx(1e-9),
                       "ONNX outputs on the test windows": drifted.get("ONNX outputs on the test windows")}
    assert drifted["ONNX outputs on the test windows"] > 0
    assert result["verdict"] == f"drifted (3 of {result['compared']} comparisons differ)"

    # a run trained before the head read the last row, reproduced since (or the other way round): the head's first
    # layer has another shape, said as such (it was left out of the comparison without a word)
    checkpoint["model"]["last_to_head"] = False
    hidden = checkpoint["model"]["hidden_size"]
    checkpoint["state_dict"]["head.0.weight"] = checkpoint["state_dict"]["head.0.weight"][:, :hidden].clone()
    torch.save(checkpoint, other.checkpoint)
    rows = {row["what"]: row for row in compare(tiny_run, other)["drift"]}
    assert rows["weights head.0.weight shape"]["reproduced"] == [hidden, hidden]
    assert rows["weights head.0.weight shape"]["original"][1] > hidden


def test_a_reproduction_on_other_vector_units_names_them_beside_the_drift(tiny_run, tmp_path):
    """The same CPU model name can come with or without AVX-512, and the two train to different last digits: a
    reproduction says so where the record of either run shows it, instead of a bare drift."""
    from bwkit.pipeline.reproduction import compare
    from bwkit.runs import environment

    assert "avx" in environment()["machine"]["vector_units"] or not open("/proc/cpuinfo").read().count(" avx")
    other = RunFolder(shutil.copytree(tiny_run.root, tmp_path / "elsewhere"))
    record = json.loads(other.run_json.read_text())
    here = record["environment"]["machine"]["vector_units"]
    elsewhere = "avx avx2" if "avx512" in here else "avx avx2 avx512f"   # whichever this machine is not
    record["environment"]["machine"]["vector_units"] = elsewhere
    record["environment"]["machine"]["platform"] = "another kernel build"
    other.run_json.write_text(json.dumps(record))
    differ = compare(tiny_run, other)["versions_differ"]
    assert differ["machine vector_units"] == [here, elsewhere] and "machine platform" not in differ
    assert compare(tiny_run, tiny_run)["versions_differ"] == {}


def test_the_vector_units_name_a_cap_set_on_the_kernels(monkeypatch):
    from bwkit.runs.env import vector_units

    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert vector_units().endswith("ONEDNN_MAX_CPU_ISA=AVX2")


def test_a_run_that_did_not_succeed_is_refused_as_a_bad_argument_before_anything_runs(tiny_run, tmp_path, capsys):
    """Exit 2 and nothing ran, as `bwkit resume` refuses a run with nothing to resume (it was "run failed", exit 1)."""
    copy = RunFolder(shutil.copytree(tiny_run.root, tmp_path / "copy"))
    copy.run_json.write_text(json.dumps({**json.loads(copy.run_json.read_text()), "status": "failed"}))
    assert cli.main(["reproduce", str(copy.root)]) == 2
    assert capsys.readouterr().err.startswith("bwkit: run tiny is 'failed' in its record: only a succeeded run can be reproduced")
    assert not (tmp_path / "tiny-reproduced").exists()


def test_a_run_missing_a_file_the_comparison_reads_is_refused_before_anything_trains(tiny_run, tmp_path, capsys):
    """It retrained all four stages, then died on the missing checkpoint with a bare OS error (exit 1)."""
    copy = RunFolder(shutil.copytree(tiny_run.root, tmp_path / "copy"))
    copy.checkpoint.unlink()
    assert cli.main(["reproduce", str(copy.root)]) == 2
    err = capsys.readouterr().err
    assert f"has no {copy.checkpoint.name}, which the reproduction compares with" in err and "Traceback" not in err
    assert not (tmp_path / "tiny-reproduced").exists()
