"""bwkit.evaluation.bands: a Calibration is read-only, and its JSON is the report's "intervals" key for key."""
from __future__ import annotations

import copy
import json
import pickle
from dataclasses import FrozenInstanceError, replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from bwkit.data import Telemetry
from bwkit.evaluation import Calibration, MethodBands, uncertainty
from bwkit.evaluation.baselines import persistence
from bwkit.features import prepare
from bwkit.runs import write_json

TARGETS = ["y", "z"]
SCORE_KEYS = ["level", "target", "coverage", "width", "interval_score", "pinball", "rows"]
# A report's "intervals" as bwkit has written it since the adaptive bands: one method, one target, a constant-width
# floor (null: strict JSON has no infinity), scored on test.
REPORTED = {
    "levels": [0.8, 0.95], "method": "split conformal ...", "validation_rows": 120,
    "methods": {"LSTM": {
        "multiplier": {"0.8": {"y": 1.25}, "0.95": {"y": 2.5}},
        "adaptive": {"gamma": 0.005, "grid": 4, "quantiles": {"y": [0.0, 0.5, 1.0, 2.0, 3.0]}},
        "scale": {"columns": {"y": "y"}, "floor_share": {"y": None}, "window_std": {"y": False}, "base": {"y": 2.0}},
        "test": [{"level": 0.8, "target": "y", "coverage": 0.75, "width": 5.0, "interval_score": 7.5,
                  "pinball": 0.375, "rows": 40},
                 {"level": 0.95, "target": "y", "coverage": 0.95, "width": 10.0, "interval_score": 11.0,
                  "pinball": 0.1375, "rows": 40}],
        "adaptive_test": [{"level": 0.8, "target": "y", "coverage": 0.8, "width": 5.5, "interval_score": 7.0,
                           "pinball": 0.35, "rows": 40},
                          {"level": 0.95, "target": "y", "coverage": 0.925, "width": 9.0, "interval_score": 12.0,
                           "pinball": 0.15, "rows": 40}]}}}


@pytest.fixture(scope="module")
def calibrated() -> Calibration:
    """interval_check on telemetry whose targets are inputs: a drifting y, a z whose noise doubles every 100 rows."""
    rows, rng = 900, np.random.default_rng(3)
    y = np.cumsum(rng.standard_normal(rows)) * 0.1 + 5
    z = rng.standard_normal(rows) * (1 + (np.arange(rows) % 200 > 100)) + 10
    X = np.column_stack([rng.standard_normal(rows), y, z]).astype(np.float32)
    t = Telemetry(Path("synthetic.csv"), "0" * 64, 1_762_128_000.0 + 60.0 * np.arange(rows), np.zeros(rows, np.int64),
                  ["a", "y", "z"], TARGETS, X, np.column_stack([y, z]))
    prepared = prepare(t, 10, False)
    val, test = prepared.splits["val"], prepared.splits["test"]
    noisy = lambda split: t.Y[split.row] + rng.standard_normal((len(split), 2)) * 0.3   # noqa: E731
    on_val = {"LSTM": noisy(val), "persistence": persistence(t.Y, val.row)}
    on_test = {"LSTM": noisy(test), "persistence": persistence(t.Y, test.row)}
    ev = SimpleNamespace(actual=t.Y[test.row], predictions=on_test, scored=test.observed, targets=TARGETS)
    return uncertainty.interval_check(ev, prepared, t, on_val=on_val)[0]


def plain(value) -> bool:
    """Whether a value is JSON's own types all the way down (no read-only mapping or tuple left in it)."""
    if isinstance(value, dict):
        return type(value) is dict and all(plain(v) for v in value.values())
    if isinstance(value, list):
        return all(plain(v) for v in value)
    return value is None or type(value) in (str, int, float, bool)


def test_the_json_has_the_reports_keys_in_the_reports_order(calibrated):
    d = calibrated.to_dict()
    assert plain(d) and list(d) == ["levels", "method", "validation_rows", "methods"]
    assert d["levels"] == [0.8, 0.95] and d["method"] == uncertainty.INTERVAL_METHOD
    assert type(d["validation_rows"]) is int
    assert list(d["methods"]) == ["LSTM", "persistence"]
    for entry in d["methods"].values():
        assert list(entry) == ["multiplier", "adaptive", "scale", "test", "adaptive_test"]
        assert list(entry["multiplier"]) == ["0.8", "0.95"]
        assert all(list(m) == TARGETS for m in entry["multiplier"].values())
        assert list(entry["adaptive"]) == ["gamma", "grid", "quantiles"]
        assert list(entry["adaptive"]["quantiles"]) == TARGETS
        assert list(entry["scale"]) == ["columns", "floor_share", "window_std", "base"]
        assert all(list(part) == TARGETS for part in entry["scale"].values())
        assert all(list(s) == SCORE_KEYS for s in entry["test"] + entry["adaptive_test"])
        assert [(s["level"], s["target"]) for s in entry["test"]] == [(lvl, t) for lvl in (0.8, 0.95) for t in TARGETS]
    shares = [s for entry in d["methods"].values() for s in entry["scale"]["floor_share"].values()]
    assert np.inf in shares and any(np.isfinite(shares))   # both kinds of floor: the round trips below see both


def test_a_calibration_reads_back_from_its_report_json_to_the_same_bytes(calibrated, tmp_path):
    assert Calibration.from_dict(calibrated.to_dict()) == calibrated
    first = write_json(tmp_path / "a.json", calibrated.to_dict()).read_text()   # as write_report writes it
    again = write_json(tmp_path / "b.json", Calibration.from_dict(json.loads(first)).to_dict()).read_text()
    assert again == first and "null" in first   # the infinite floors come back as null, and stay null


def test_a_report_of_todays_shape_loads_and_writes_back_unchanged():
    loaded = Calibration.from_dict(REPORTED)
    assert loaded.to_dict() == REPORTED and json.dumps(loaded.to_dict()) == json.dumps(REPORTED)
    bands = loaded.methods["LSTM"]
    np.testing.assert_array_equal(bands.multipliers(loaded.levels, ["y"]), [[1.25], [2.5]])
    assert bands.scale.floor_share["y"] is None and bands.adaptive.array(["y"]).shape == (1, 5)
    assert [s["coverage"] for s in bands.adaptive_test] == [0.8, 0.925]


def test_a_report_from_before_the_adaptive_bands_loads_and_ships_without_them():
    entry = {k: v for k, v in REPORTED["methods"]["LSTM"].items() if k not in ("adaptive", "adaptive_test")}
    older = {**REPORTED, "methods": {"LSTM": entry}}
    loaded = Calibration.from_dict(older)
    assert loaded.methods["LSTM"].adaptive is None and loaded.to_dict() == older
    shipped = uncertainty.shipped_bands(loaded)
    assert "adaptive" not in shipped and "adaptive_test_coverage" not in shipped
    assert shipped["test_coverage"] == {"0.8": {"y": 0.75}, "0.95": {"y": 0.95}}


def test_the_shipped_recipe_reads_as_the_models_bands_without_their_scores(calibrated):
    shipped = json.loads(json.dumps(uncertainty.shipped_bands(calibrated)))   # as the ONNX metadata holds it
    assert list(shipped) == ["levels", "method", "validation_rows", "multiplier", "scale", "use", "adaptive",
                             "test_coverage", "adaptive_test_coverage"]
    assert MethodBands.from_dict(shipped) == replace(calibrated.methods["LSTM"], test=None, adaptive_test=None)


def test_a_calibration_is_read_only_all_the_way_down(calibrated):
    bands = calibrated.methods["LSTM"]
    with pytest.raises(FrozenInstanceError):
        calibrated.levels = (0.5,)
    with pytest.raises(FrozenInstanceError):
        bands.scale.base = {}
    for change in (lambda: calibrated.methods.__setitem__("x", bands),
                   lambda: bands.multiplier["0.8"].__setitem__("y", 0.0),
                   lambda: bands.test[0].__setitem__("coverage", 1.0),
                   lambda: bands.adaptive.quantiles["y"].append(0.0)):
        with pytest.raises((TypeError, AttributeError)):
            change()
    assert pickle.loads(pickle.dumps(calibrated)) == calibrated == copy.deepcopy(calibrated)   # copies are copies
    written = calibrated.to_dict()
    written["methods"]["LSTM"]["multiplier"]["0.8"]["y"] = -1.0   # a written copy is the caller's own
    assert bands.multiplier["0.8"]["y"] != -1.0
