"""bwkit.evaluation.intervals: split-conformal coverage on exchangeable data, hand-computed scores, masks, errors."""
from __future__ import annotations

import numpy as np
import pytest

from bwkit.evaluation import intervals


def exchangeable(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two targets: a random signal as the prediction, plus Gaussian noise of scale 1 and 5 as the actual."""
    rng = np.random.default_rng(seed)
    predicted = rng.normal(50.0, 10.0, (rows, 2))
    return predicted + rng.normal(0.0, 1.0, (rows, 2)) * np.array([1.0, 5.0]), predicted


def one_target(actual, predicted, half_width: float, level: float) -> dict:
    """score() of a single target at one level with a given half-width."""
    (result,) = intervals.score(np.c_[actual], np.c_[predicted], np.array([[half_width]]), levels=(level,))
    return result


def test_exchangeable_data_is_covered_at_the_nominal_levels():
    half_widths = intervals.calibrate(*exchangeable(2000, seed=1))
    assert half_widths.shape == (2, 2)
    assert (half_widths[1] > half_widths[0]).all()                  # wider at 95 % than at 80 %
    results = intervals.score(*exchangeable(20000, seed=2), half_widths)
    assert [(r["level"], r["target"]) for r in results] == [(0.8, 0), (0.8, 1), (0.95, 0), (0.95, 1)]
    for r in results:
        assert abs(r["coverage"] - r["level"]) <= 0.015, r
        assert r["rows"] == 20000
    assert results[2]["width"] > results[0]["width"] and results[3]["width"] > results[1]["width"]
    assert results[1]["width"] == pytest.approx(5 * results[0]["width"], rel=0.1)   # scales with the noise


def test_half_width_is_the_finite_sample_rank_and_falls_back_to_the_largest_residual():
    residuals = np.array([3.0, -7.0, 1.0, 9.0, -2.0, 5.0, -8.0, 4.0, 6.0])   # |.| = 1..9, shuffled, signs mixed
    predicted = np.full((9, 1), 10.0)
    half_widths = intervals.calibrate(predicted + residuals[:, None], predicted, levels=(0.8, 0.95))
    assert half_widths[0, 0] == 8.0      # rank ceil(10 x 0.8) = 8, not np.quantile's 7.4
    assert half_widths[1, 0] == 9.0      # rank ceil(10 x 0.95) = 10 > 9: the largest residual
    ten = np.arange(1.0, 11.0)[:, None]                               # n = 10: rank ceil(11 x 0.8) = 9, not 8
    assert intervals.calibrate(ten, np.zeros_like(ten), levels=(0.8,))[0, 0] == 9.0
    many = np.arange(1.0, 100.0)[:, None]                             # 100 x 0.07 is 7.000000000000001 in floats
    assert intervals.calibrate(many, np.zeros_like(many), levels=(0.07,))[0, 0] == 7.0


def test_unscored_rows_never_change_the_results():
    actual, predicted = exchangeable(300, seed=3)
    val, test = slice(0, 150), slice(150, 300)
    scored = np.random.default_rng(4).random(actual.shape) < 0.7
    spoiled = actual.copy()
    spoiled[~scored] = 1e9                                          # huge residuals, but unscored
    half_widths = intervals.calibrate(spoiled[val], predicted[val], scored[val])
    for target in range(2):
        kept = scored[val, target]
        alone = intervals.calibrate(actual[val][kept][:, [target]], predicted[val][kept][:, [target]])
        np.testing.assert_array_equal(half_widths[:, [target]], alone)
    assert (half_widths < 100).all()
    results = intervals.score(spoiled[test], predicted[test], half_widths, scored=scored[test])
    for r in results:
        kept = scored[test, r["target"]]
        (alone,) = intervals.score(actual[test][kept][:, [r["target"]]], predicted[test][kept][:, [r["target"]]],
                                   half_widths[[intervals.LEVELS.index(r["level"])]][:, [r["target"]]],
                                   levels=(r["level"],))
        assert r == {**alone, "target": r["target"]}
        assert r["rows"] == kept.sum()


def test_interval_score_is_the_width_inside_and_charges_two_over_alpha_per_unit_outside():
    predicted = np.zeros(4)
    inside = one_target([0.0, 0.5, -1.0, 1.0], predicted, 1.0, level=0.8)      # ends count as inside
    assert inside["coverage"] == 1.0 and inside["width"] == 2.0
    assert inside["interval_score"] == pytest.approx(2.0)
    outside = one_target([0.0, 0.5, -1.0, 3.0], predicted, 1.0, level=0.8)     # 2 above the upper end
    assert outside["coverage"] == 0.75
    assert outside["interval_score"] == pytest.approx(2.0 + (2 / 0.2) * 2 / 4)  # = 7
    below = one_target([0.0, 0.5, -4.0, 1.0], predicted, 1.0, level=0.8)       # 3 below the lower end
    assert below["interval_score"] == pytest.approx(2.0 + (2 / 0.2) * 3 / 4)


def test_pinball_by_hand():
    # level 0.5: the ends -1 and +1 stand for the 0.25 and 0.75 quantiles
    # y =  0: lower 0.25 x 1 = 0.25, upper 0.25 x 1 = 0.25
    # y =  3: lower 0.25 x 4 = 1.00, upper 0.75 x 2 = 1.50
    # y = -2: lower 0.75 x 1 = 0.75, upper 0.25 x 3 = 0.75
    r = one_target([0.0, 3.0, -2.0], np.zeros(3), 1.0, level=0.5)
    assert r["pinball"] == pytest.approx((0.25 + 1.0 + 0.75 + 0.25 + 1.5 + 0.75) / 6)
    assert r["pinball"] == pytest.approx(0.5 / 4 * r["interval_score"])          # pinball = alpha/4 x score


def test_too_narrow_and_too_wide_intervals_score_worse_than_calibrated_ones():
    half_widths = intervals.calibrate(*exchangeable(2000, seed=5))
    actual, predicted = exchangeable(20000, seed=6)
    calibrated, narrow, wide = (intervals.score(actual, predicted, half_widths * factor) for factor in (1, 0.5, 3))
    for c, n, w in zip(calibrated, narrow, wide):
        assert n["coverage"] < c["coverage"] < w["coverage"]
        assert c["interval_score"] < n["interval_score"] and c["interval_score"] < w["interval_score"]
        assert c["pinball"] < n["pinball"] and c["pinball"] < w["pinball"]


def test_a_target_with_fewer_than_two_scored_rows_is_named():
    actual, predicted = exchangeable(10, seed=7)
    scored = np.ones((10, 2), bool)
    scored[1:, 1] = False                                           # target 1 keeps a single row
    with pytest.raises(ValueError, match=r"target 1 has 1 scored validation row"):
        intervals.calibrate(actual, predicted, scored)
    intervals.calibrate(actual, predicted, scored | np.eye(10, 2, -1, bool))   # a second row is enough


def test_bands_are_predicted_plus_minus_the_half_width():
    predicted = np.array([[1.0, 10.0], [2.0, 20.0]])
    lower, upper = intervals.bands(predicted, np.array([[0.5, 1.0], [1.5, 3.0]]))
    assert lower.shape == upper.shape == (2, 2, 2)
    np.testing.assert_allclose(lower[1], [[-0.5, 7.0], [0.5, 17.0]])
    np.testing.assert_allclose(upper[0], [[1.5, 11.0], [2.5, 21.0]])


def heteroscedastic(rows, seed):
    """Windows whose target column's spread sets the next error's spread: calm and volatile stretches."""
    rng = np.random.default_rng(seed)
    sigma = np.where(np.arange(rows) % 400 < 200, 0.2, 3.0)
    X = sigma[:, None, None] * rng.standard_normal((rows, 48, 1))
    predicted = np.zeros((rows, 1))
    return X, predicted + sigma[:, None] * rng.standard_normal((rows, 1)), predicted, sigma


def test_bands_scaled_by_the_window_cover_calm_and_volatile_rows_alike():
    X, actual, predicted, _ = heteroscedastic(4000, seed=5)
    share = intervals.choose_floor(actual, predicted, X, columns=[0], target_std=np.array([actual.std()]))
    assert np.isfinite(share).all()                       # the window's spread is worth using here
    scale = intervals.row_scale(X, [0], np.array([actual.std()]), share=share)
    q = intervals.calibrate(actual, predicted, scale=scale)
    Xt, yt, pt, sigma = heteroscedastic(8000, seed=6)
    st = intervals.row_scale(Xt, [0], np.array([actual.std()]), share=share)
    constant = intervals.calibrate(actual, predicted)
    for calm in (True, False):
        rows = (sigma == 0.2) == calm
        adaptive = intervals.score(yt[rows], pt[rows], q, scale=st[rows])
        flat = intervals.score(yt[rows], pt[rows], constant)
        assert abs(adaptive[0]["coverage"] - 0.8) < 0.05 and abs(adaptive[1]["coverage"] - 0.95) < 0.03
        assert abs(flat[0]["coverage"] - 0.8) > 0.1       # one width for both: too wide in calm, too narrow in storms


def test_a_window_that_says_nothing_keeps_a_constant_width():
    rng = np.random.default_rng(8)
    X = rng.standard_normal((3000, 12, 1))                # spread unrelated to the error
    actual = rng.standard_normal((3000, 1))
    share = intervals.choose_floor(actual, np.zeros_like(actual), X, columns=[0], target_std=np.array([1.0]))
    scale = intervals.row_scale(X, [0], np.array([1.0]), share=share)
    assert share[0] >= 1.0 and scale.std() / scale.mean() < 0.1
    assert (intervals.row_scale(X, None, np.array([2.0]), share=share) == 2.0).all()   # target not an input: constant
