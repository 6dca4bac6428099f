"""bwkit.evaluation.metrics on hand-computed examples."""
from __future__ import annotations

import math

import numpy as np
import pytest

from bwkit.evaluation import metrics

ACTUAL = np.array([1.0, 2.0, 3.0, 4.0])
PREDICTED = np.array([2.0, 2.0, 2.0, 6.0])   # errors +1, 0, -1, +2


def test_target_metrics_by_hand():
    m = metrics.target_metrics(ACTUAL, PREDICTED)
    assert m["mae"] == pytest.approx(1.0)
    assert m["mse"] == pytest.approx(1.5)
    assert m["rmse"] == pytest.approx(math.sqrt(1.5))
    assert m["wape"] == pytest.approx(40.0)                       # 100 x 4 / 10
    assert m["r2"] == pytest.approx(1 - 6 / 5)                     # SSE 6, SST 5
    assert m["correlation"] == pytest.approx(6 / math.sqrt(5 * 12))
    assert m["mape_floor"] == pytest.approx(0.25)                  # 0.1 x mean|actual|
    assert m["mape"] == pytest.approx(100 * (1 + 0 + 1 / 3 + 2 / 4) / 4)
    assert m["n"] == 4


def test_mape_uses_the_floor_where_actuals_are_zero():
    actual = np.array([0.0, 0.0, 2.0, 2.0])
    predicted = np.array([0.1, 0.0, 2.0, 3.0])
    m = metrics.target_metrics(actual, predicted)
    assert m["mape_floor"] == pytest.approx(0.1)                   # 0.1 x mean|actual| = 0.1 x 1
    assert m["mape"] == pytest.approx(100 * (0.1 / 0.1 + 0 + 0 + 1 / 2) / 4)
    assert math.isfinite(m["mape"])
    assert m["wape"] == pytest.approx(100 * 1.1 / 4)


def test_mape_floor_only_applies_below_it():
    actual = np.array([0.05, 10.0, 10.0, 10.0])      # floor = 0.1 x 7.5125 = 0.75125
    predicted = actual + np.array([0.05, 1.0, 0.0, 0.0])
    m = metrics.target_metrics(actual, predicted)
    floor = 0.1 * actual.mean()
    assert m["mape"] == pytest.approx(100 * (0.05 / floor + 1 / 10) / 4)


def test_perfect_prediction():
    m = metrics.target_metrics(ACTUAL, ACTUAL.copy())
    assert m["mae"] == m["rmse"] == m["mape"] == m["wape"] == 0.0
    assert m["r2"] == pytest.approx(1.0) and m["correlation"] == pytest.approx(1.0)


def test_negative_actuals_use_absolute_values():
    m = metrics.target_metrics(-ACTUAL, -PREDICTED)
    assert m["wape"] == pytest.approx(40.0)
    assert m["mape"] == pytest.approx(100 * (1 + 0 + 1 / 3 + 2 / 4) / 4)


def test_constant_series_has_undefined_r2_and_correlation():
    m = metrics.target_metrics(np.full(5, 3.0), np.arange(5.0))
    assert math.isnan(m["r2"]) and math.isnan(m["correlation"])
    m = metrics.target_metrics(np.arange(5.0), np.full(5, 3.0))
    assert math.isnan(m["correlation"]) and math.isfinite(m["r2"])


def test_average_over_targets():
    a = metrics.target_metrics(ACTUAL, PREDICTED)
    b = metrics.target_metrics(ACTUAL, ACTUAL)
    avg = metrics.average({"x": a, "y": b})
    assert set(avg) == set(metrics.METRICS)
    assert avg["mae"] == pytest.approx(0.5)
    assert avg["correlation"] == pytest.approx((a["correlation"] + 1) / 2)
    c = metrics.target_metrics(np.full(4, 1.0), ACTUAL)
    assert math.isnan(metrics.average({"x": a, "c": c})["correlation"])


def test_skill_formula():
    assert metrics.skill(1.0, 4.0) == pytest.approx(0.75)
    assert metrics.skill(0.0, 4.0) == 1.0
    assert metrics.skill(4.0, 4.0) == 0.0
    assert metrics.skill(8.0, 4.0) == pytest.approx(-1.0)
    assert math.isnan(metrics.skill(1.0, 0.0))


@pytest.mark.parametrize("correlation, mape, expected", [
    (0.98, 5.0, True),                  # exactly at both thresholds: passes
    (0.99, 1.0, True),
    (np.nextafter(0.98, 0), 5.0, False),
    (0.98, np.nextafter(5.0, 6), False),
    (0.5, 1.0, False),
    (0.99, 50.0, False),
    (float("nan"), 1.0, False),
])
def test_verdict_thresholds(correlation, mape, expected):
    assert metrics.verdict({"correlation": correlation, "mape": mape}) is expected


def test_a_constant_prediction_has_no_correlation_not_a_tiny_one():
    import numpy as np
    from bwkit.evaluation.metrics import target_metrics

    actual = np.array([1.0, 2.0, 3.0, 4.0])
    assert np.isnan(target_metrics(actual, np.full(4, 0.1) + np.array([0, 1e-17, 0, 0]))["correlation"])
    assert np.isnan(target_metrics(np.full(4, 2.0), actual)["correlation"])


def test_an_undefined_metric_says_why_and_is_null_in_the_json(tmp_path):
    import json

    from bwkit.runs.artifacts import write_json

    m = metrics.target_metrics(np.full(4, 2.0), ACTUAL)
    assert m["undefined"] == {"r2": "the actual values are constant on the scored rows",
                              "correlation": "the actual values are constant on the scored rows"}
    avg = metrics.average({"flat": m, "fine": metrics.target_metrics(ACTUAL, PREDICTED)})
    assert avg["undefined"]["correlation"] == "undefined for flat"
    path = write_json(tmp_path / "m.json", avg)
    assert json.loads(path.read_text())["correlation"] is None and "NaN" not in path.read_text()


def test_a_target_whose_actual_values_are_all_zero_has_no_percentage_error_and_says_why():
    """Packet loss 0 on every test row: a percentage of nothing is undefined (the floor alone would make it 1e14 %)."""
    m = metrics.target_metrics(np.zeros(50), np.full(50, 0.003))
    assert math.isnan(m["mape"]) and math.isnan(m["wape"]) and m["rmse"] == pytest.approx(0.003)
    assert m["undefined"]["mape"] == m["undefined"]["wape"] == "the actual values are all 0 on the scored rows"
    assert metrics.shown(m["mape"], ".2f") == "undefined" and metrics.shown(1.23456, ".2f") == "1.23"
    both = metrics.average({"loss": m, "thr": metrics.target_metrics(ACTUAL, PREDICTED)})
    assert math.isnan(both["wape"]) and both["undefined"]["wape"] == "undefined for loss"
