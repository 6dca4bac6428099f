"""Verdicts carry their uncertainty, and the calibrated bands reach the report, the ONNX file and its consumer."""
import json
from types import SimpleNamespace

import numpy as np
import onnx

from bwkit.training import trained
from bwkit.evaluation import Calibration, MethodBands, uncertainty
from bwkit.evaluation.methods import MODEL


def figures(low, high, diff=None):
    diff = (low + high) / 2 if diff is None else diff
    return {"rel_mse_diff": diff, "rel_low": low, "rel_high": high, "block": 7}


def test_the_sentence_says_beats_only_when_the_interval_excludes_zero():
    ev = SimpleNamespace(tests={
        "ridge": {"average": figures(-0.05, 0.02), "a": figures(-0.1, -0.01), "b": figures(0.01, 0.2)},
        "persistence": {"average": figures(-0.6, -0.4), "a": figures(-0.7, -0.5), "b": figures(-0.5, -0.1)}})
    text = uncertainty.verdict_sentence(ev)
    assert text.startswith("The model is indistinguishable from ridge (-1.5 % MSE, 95 % interval -5.0 to +2.0 %)")
    assert "beats persistence (-50.0 % MSE" in text and "blocks of 7 rows" in text
    assert "worse than ridge on b" in text and "ridge on a" not in text
    ev.tests["ridge"] = {"average": figures(-0.2, -0.1), "a": figures(-0.3, -0.2), "b": figures(-0.2, -0.01)}
    assert uncertainty.verdict_sentence(ev).endswith("It beats every baseline on every target too.")


def test_the_report_tests_every_method_and_scores_both_bands(tiny_run):
    report = json.loads(tiny_run.report.read_text())
    others = [m for m in report["comparison"] if m != MODEL]
    assert sorted(report["significance"]) == sorted(others)
    for per_target in report["significance"].values():
        assert set(per_target) == set(report["per_target"]) | {"average"}
        for t in per_target.values():
            assert t["rel_low"] <= t["rel_mse_diff"] <= t["rel_high"] and 0 <= t["dm_p"] <= 1 and t["block"] >= 1
    assert "block length" in report["block_rule"]
    for method in (MODEL, "persistence"):
        scored = report["intervals"]["methods"][method]["test"]
        assert {(s["level"], s["target"]) for s in scored} == {(lvl, t) for lvl in (0.8, 0.95)
                                                              for t in report["per_target"]}
        assert all(0 <= s["coverage"] <= 1 and s["width"] > 0 for s in scored)
    assert "prediction intervals" in report["summary"] and "95 % interval" in report["summary"]


def test_a_consumer_rebuilds_the_bands_from_the_onnx_file_alone(tiny_run):
    """The bands shipped in the ONNX metadata, applied to the test windows, give the coverage the report states."""
    model = onnx.load(str(next(tiny_run.root.glob("*.onnx"))))
    props = {p.key: json.loads(p.value) for p in model.metadata_props}
    shipped, features = props["bwkit.intervals"], props["bwkit.features"]
    run = trained.load(tiny_run, log=lambda *a: None)
    test = run.prepared.splits["test"]
    from bwkit.training.model import predict

    predicted = predict(run.model, test.X)
    calibrated = Calibration(shipped["levels"], shipped["method"], shipped["validation_rows"],
                             {MODEL: MethodBands.from_dict(shipped)})   # a shipped recipe reads as a method's bands
    half = uncertainty.half_widths(calibrated, MODEL, test.X, features=features, targets=props["bwkit.targets"])
    for i, level in enumerate(shipped["levels"]):
        inside = np.abs(test.Y - predicted) <= half[i]
        for j, target in enumerate(props["bwkit.targets"]):
            assert inside[:, j].mean() == shipped["test_coverage"][f"{level:g}"][target]
    meta = json.loads(tiny_run.metadata("v1").read_text())
    assert meta["intervals"] == shipped
