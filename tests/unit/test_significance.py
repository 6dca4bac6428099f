"""bwkit.evaluation.significance: paired block bootstrap and Diebold–Mariano, on data whose answer is known."""
from __future__ import annotations

import math
import time
import warnings

import numpy as np
import pytest
from scipy import signal

from bwkit.evaluation import significance
from bwkit.errors import DataError
from bwkit.evaluation.metrics import target_metrics
from bwkit.evaluation.uncertainty import tests_table as table_of_tests

KEYS = {"mse_diff", "mse_low", "mse_high", "rel_mse_diff", "rel_low", "rel_high",
        "r_diff", "r_low", "r_high", "dm_stat", "dm_p", "block", "rows", "baseline_exact", "constant"}


def ar1(rng, rows: int, phi: float, columns: int = 1) -> np.ndarray:
    """Stationary AR(1) noise x_t = phi x_{t-1} + e_t with unit innovations, [rows, columns]."""
    shocks = rng.normal(size=(rows, columns))
    shocks[0] /= math.sqrt(1 - phi ** 2)
    return signal.lfilter([1.0], [1.0, -phi], shocks, axis=0)


def series(seed: int = 0, rows: int = 600, targets: int = 3, noise: float = 1.0):
    """Autocorrelated actuals, a model with unit AR(1) errors and a baseline with `noise` x larger ones."""
    rng = np.random.default_rng(seed)
    actual = rng.normal(size=(rows, targets)).cumsum(0)
    model = actual + ar1(rng, rows, 0.5, targets)
    baseline = actual + noise * ar1(rng, rows, 0.5, targets)
    return actual, model, baseline


def keys(targets: int) -> list:
    return [*range(targets), "average"]


def test_identical_predictions_give_zero_differences_dm_p_one_and_no_warning():
    actual, model, _ = series()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = significance.compare(actual, model, model.copy(), resamples=200)
    assert set(result) == {0, 1, 2, "average"}
    for key in keys(3):
        values = result[key]
        assert set(values) == KEYS
        for name in KEYS - {"dm_stat", "dm_p", "block", "rows", "baseline_exact", "constant"}:
            assert values[name] == 0.0, (key, name)
        assert values["dm_stat"] == 0.0 and values["dm_p"] == 1.0   # identically zero differential: p = 1
        assert significance.verdict(values["rel_low"], values["rel_high"]) == "indistinguishable from"
        assert values["rows"] == 600


def test_a_clearly_better_model_beats_the_baseline_and_the_swap_is_worse():
    actual, model, baseline = series(noise=3.0)
    better = significance.compare(actual, model, baseline, resamples=300)
    worse = significance.compare(actual, baseline, model, resamples=300)
    for key in keys(3):
        b, w = better[key], worse[key]
        assert b["mse_high"] < 0 and b["rel_high"] < 0 and b["r_low"] > 0, key
        assert -1 <= b["rel_low"] <= b["rel_mse_diff"] <= b["rel_high"]   # a ratio minus one, per resample
        assert -1 < b["rel_mse_diff"] < -0.8          # about 1 - 1/9 lower MSE
        assert b["dm_p"] < 0.01 and b["dm_stat"] < 0
        assert significance.verdict(b["mse_low"], b["mse_high"]) == "beats"
        assert w["mse_low"] > 0 and w["r_high"] < 0 and w["dm_p"] < 0.01 and w["dm_stat"] > 0
        assert significance.verdict(w["rel_low"], w["rel_high"]) == "worse than"
        assert w["mse_diff"] == pytest.approx(-b["mse_diff"])


def test_equally_good_models_with_autocorrelated_errors_are_rarely_told_apart():
    """Two models with independent AR(1) errors of equal variance: the 95 % interval should hold 0 about 95 %
    of the time and DM reject about 5 % (over 1000 series: 92 % and 6 %). Blocks matter here: resampling single
    rows holds 0 only about 75 % of the time with this much autocorrelation in the squared errors."""
    rng = np.random.default_rng(0)
    covered = rejected = 0
    for trial in range(100):
        actual = rng.normal(size=(500, 1)).cumsum(0)
        errors = ar1(rng, 500, 0.7, 2)
        result = significance.compare(actual, actual + errors[:, :1], actual + errors[:, 1:], resamples=200,
                                      seed=trial)["average"]
        covered += result["rel_low"] <= 0 <= result["rel_high"]
        rejected += result["dm_p"] < 0.05
    assert 85 <= covered <= 100
    assert rejected <= 12


def test_block_length_grows_with_autocorrelation_and_respects_floor_and_cap():
    rng = np.random.default_rng(0)
    assert significance.block_length(rng.normal(size=1000)) == 10          # white noise: ceil(1000^(1/3))
    assert significance.block_length(np.full(1000, 3.0)) == 10             # constant: the floor
    assert significance.block_length(np.full(27, 1.0)) == 2                # floor 3 > cap 27 // 10: the cap
    lengths = [significance.block_length(ar1(np.random.default_rng(1), 2000, phi)[:, 0])
               for phi in (0.0, 0.5, 0.8, 0.95)]
    assert lengths == sorted(lengths) and lengths[0] == 13
    assert lengths[-1] >= 3 * 13                                           # φ = 0.95: far past the floor
    assert significance.block_length(ar1(rng, 500, 0.999)[:, 0]) == 50    # never decorrelates: the cap
    assert " ".join(significance.BLOCK_RULE.split()) in " ".join(significance.block_length.__doc__.split())


def test_rows_that_are_not_scored_change_nothing():
    actual, model, baseline = series(seed=3)
    rng = np.random.default_rng(4)
    scored = rng.random(actual.shape) > 0.3
    first = significance.compare(actual, model, baseline, scored=scored, resamples=200)
    hidden = ~scored
    changed = [v.copy() for v in (actual, model, baseline)]
    changed[0][hidden] = 1e9
    changed[1][hidden] = rng.normal(size=hidden.sum()) * 1e6
    changed[2][hidden] = np.nan
    assert significance.compare(*changed, scored=scored, resamples=200) == first
    assert [first[j]["rows"] for j in range(3)] == list(scored.sum(0))
    assert first != significance.compare(actual, model, baseline, resamples=200)


def test_relative_and_correlation_differences_are_scale_free():
    actual, model, baseline = series(seed=5, noise=1.2)
    scale = np.array([1.0, 1000.0, 1.0])
    plain = significance.compare(actual, model, baseline, resamples=200)
    scaled = significance.compare(actual * scale, model * scale, baseline * scale, resamples=200)
    for key in keys(3):
        for name in ("rel_mse_diff", "rel_low", "rel_high", "r_diff", "r_low", "r_high", "dm_stat", "dm_p"):
            assert scaled[key][name] == pytest.approx(plain[key][name], rel=1e-9, abs=1e-12), (key, name)
        assert scaled[key]["block"] == plain[key]["block"]
    assert scaled[1]["mse_diff"] == pytest.approx(1e6 * plain[1]["mse_diff"], rel=1e-9)
    assert scaled[0]["mse_low"] == pytest.approx(plain[0]["mse_low"], rel=1e-9)


def test_point_values_agree_with_the_kits_metrics_and_a_hand_computed_dm():
    actual, model, baseline = series(seed=6, rows=400)
    scored = np.random.default_rng(6).random(actual.shape) > 0.2
    result = significance.compare(actual, model, baseline, scored=scored, resamples=100)
    for j in range(3):
        rows = scored[:, j]
        m, b = target_metrics(actual[rows, j], model[rows, j]), target_metrics(actual[rows, j], baseline[rows, j])
        assert result[j]["mse_diff"] == pytest.approx(m["mse"] - b["mse"])
        assert result[j]["rel_mse_diff"] == pytest.approx((m["mse"] - b["mse"]) / b["mse"])
        assert result[j]["r_diff"] == pytest.approx(m["correlation"] - b["correlation"])
        d = (model[rows, j] - actual[rows, j]) ** 2 - (baseline[rows, j] - actual[rows, j]) ** 2
        n, h, centred = len(d), result[j]["block"] - 1, d - d.mean()
        gamma = [centred[k:] @ centred[:n - k] / n for k in range(h + 1)]
        variance = gamma[0] + 2 * sum((1 - k / (h + 1)) * gamma[k] for k in range(1, h + 1))
        assert result[j]["dm_stat"] == pytest.approx(d.mean() / math.sqrt(variance / n) * math.sqrt((n - 1) / n))
    average = result["average"]
    assert average["rel_mse_diff"] == pytest.approx(np.mean([result[j]["rel_mse_diff"] for j in range(3)]))
    assert average["r_diff"] == pytest.approx(np.mean([result[j]["r_diff"] for j in range(3)]))
    assert average["mse_diff"] == pytest.approx(np.mean([result[j]["mse_diff"] for j in range(3)]))
    assert average["rows"] == 400 and len({result[k]["block"] for k in keys(3)}) == 1


def test_constant_predictions_give_nan_correlations_without_warnings():
    actual, model, baseline = series(seed=8)
    model[:, 1] = 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = significance.compare(actual, model, baseline, resamples=100)
    assert math.isnan(result[1]["r_diff"]) and math.isnan(result[1]["r_low"])
    assert math.isnan(result["average"]["r_diff"])
    assert math.isfinite(result[0]["r_diff"]) and math.isfinite(result[1]["rel_mse_diff"])
    assert significance.verdict(result[1]["r_low"], result[1]["r_high"]) == "indistinguishable from"


def test_verdict_reads_an_interval_of_mse_differences():
    assert significance.verdict(-0.3, -0.1) == "beats"
    assert significance.verdict(0.1, 0.3) == "worse than"
    assert significance.verdict(-0.1, 0.1) == "indistinguishable from"
    assert significance.verdict(float("nan"), -0.1) == "indistinguishable from"
    assert significance.verdict(float("nan"), float("nan")) == "indistinguishable from"


def test_same_seed_same_numbers_other_seed_other_intervals():
    actual, model, baseline = series(seed=9, noise=1.1)
    first = significance.compare(actual, model, baseline, resamples=200, seed=1)
    assert significance.compare(actual, model, baseline, resamples=200, seed=1) == first
    other = significance.compare(actual, model, baseline, resamples=200, seed=2)
    assert other["average"]["rel_low"] != first["average"]["rel_low"]
    assert other["average"]["rel_mse_diff"] == first["average"]["rel_mse_diff"]


def test_inputs_that_do_not_fit_are_refused_with_the_argument_named():
    actual, model, baseline = series(rows=50)
    with pytest.raises(DataError, match="baseline"):
        significance.compare(actual, model, baseline[:-1])
    with pytest.raises(DataError, match="scored"):
        significance.compare(actual, model, baseline, scored=np.ones((50, 2), bool))
    with pytest.raises(DataError, match="target 2"):
        significance.compare(actual, model, baseline, scored=np.arange(150).reshape(50, 3) % 3 != 2)


def test_three_thousand_rows_four_targets_a_thousand_resamples_take_under_two_seconds():
    actual, model, baseline = series(seed=10, rows=3000, targets=4)
    seconds = []
    for _ in range(2):
        start = time.perf_counter()
        significance.compare(actual, model, baseline, resamples=1000)
        seconds.append(time.perf_counter() - start)
    assert min(seconds) < 2.0


def test_block_sums_equal_summing_every_resampled_row():
    """The running-sum shortcut gives what counting each row of each circular block resample gives."""
    from bwkit.evaluation.significance import _block_starts, _statistics, _sums

    rng = np.random.default_rng(4)
    terms = np.abs(rng.standard_normal((503, 11, 2))) + 0.1
    relatable, thresholds = np.array([True, True]), np.zeros((3, 2))
    total, resampled = _sums(lambda j: terms[:, :, j], 2, 503, length=17, resamples=30, seed=9)
    got = _statistics(resampled, relatable, thresholds)
    np.testing.assert_allclose(total, terms.sum(axis=0), rtol=1e-12)
    starts = _block_starts(np.random.default_rng(9), 503, 17, resamples=30)   # 30 resamples: one chunk, the same draws
    index = (starts[:, :, None] + np.arange(17)).reshape(30, -1)[:, :503] % 503
    expected = _statistics(terms[index].sum(axis=1), relatable, thresholds)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


def test_a_target_constant_on_its_rows_has_no_relative_difference_and_the_average_relates_the_others():
    """Loss 0 on every test row: the baseline (persistence) is exact or nearly so, and no relative difference means
    anything (a near-exact one gave +3e8 %). The target says why, its verdict reads the MSE difference itself, and the
    average's relative difference is that of the targets that vary."""
    actual, model, baseline = series(targets=2, noise=3.0)
    one = significance.compare(actual[:, :1], model[:, :1], baseline[:, :1], resamples=200)
    actual[:, 1] = 0.0
    baseline[:, 1] = 1e-9 * np.abs(baseline[:, 1])   # nearly exact, as trees predicting ~0 are
    model[:, 1] = 0.01 * np.abs(model[:, 1])
    result = significance.compare(actual, model, baseline, resamples=200)
    assert result[1]["constant"] and not result[0]["constant"] and result["average"]["constant"]
    assert significance.relative(result[1]) is None and significance.judged(result[1]) == "worse than"
    assert significance.no_relative(result[1]) == "no relative difference: the target is constant on its test rows"
    assert significance.relative(result["average"]) == pytest.approx(significance.relative(one["average"]))
    assert significance.judged(result[0]) == "beats" == significance.verdict(result["average"]["rel_low"],
                                                                             result["average"]["rel_high"])
    table = table_of_tests({"gbm": result}).set_index("target")   # the pages' and the model card's rows
    assert table.loc[1, "verdict"] == "worse than" and table.loc["average", "verdict"] == "beats"
    assert table.loc[1, "95 % interval (MSE %)"] == significance.no_relative(result[1])
    assert "nan" not in " ".join(table[["95 % interval (MSE %)", "95 % interval (r)", "verdict"]].to_numpy().ravel())


def test_a_baseline_exact_on_every_target_it_can_be_related_on_leaves_the_average_without_a_verdict():
    actual, model, _ = series(targets=2)
    result = significance.compare(actual, model, actual.copy(), resamples=200)   # the baseline is the actuals
    assert result[0]["baseline_exact"] and not result[0]["constant"] and result["average"]["baseline_exact"]
    assert significance.relative(result["average"]) is None and significance.no_relative(result["average"]) == (
        "no relative difference: the baseline is exact (MSE 0) on a target's test rows")
    assert significance.judged(result[0]) == "worse than"
    assert table_of_tests({"oracle": result}).set_index("target").loc["average", "verdict"] == "no verdict"
