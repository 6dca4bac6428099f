"""Calibrated prediction intervals: split-conformal on validation residuals, scored on test.

The LSTM gives one number per row and target. To say how far off it may be,
`calibrate` takes the absolute residuals |actual - predicted| on the validation
split and, for each target and level, picks the split-conformal quantile: the
ceil((n + 1) x level)-th smallest of the n scored residuals. The interval is then
predicted +- that half-width (`bands`). If validation and test rows are
exchangeable, a test row lands inside with probability >= level; time series are
only roughly exchangeable, which is why `score` measures the coverage on test
rather than trusting it.

`score` reports, per level and target, the coverage, the mean width, the
Gneiting-Raftery (Winkler) interval score, a proper score that charges the width
plus 2/alpha times any miss distance, and the mean pinball loss of the two
quantiles the interval's ends stand for (alpha/2 and 1 - alpha/2). The two agree:
pinball = alpha/4 x interval score.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from bwkit.errors import DataError
from bwkit.features import WindowArray

if TYPE_CHECKING:
    from bwkit.evaluation.bands import MethodBands

LEVELS = (0.80, 0.95)   # nominal coverage of each interval, in (0, 1)
# Floors tried for the scale of a row, as shares of each target's training std; inf: constant width.
FLOOR_SHARES = (0.02, 0.05, 0.1, 0.25, 1.0, float("inf"))


def _inputs(actual, predicted, scored, *, levels) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[float, ...]]:
    """Checked float64 [rows, targets] arrays, a bool mask of the same shape, and the levels."""
    actual, predicted = np.asarray(actual, np.float64), np.asarray(predicted, np.float64)
    if actual.ndim != 2 or actual.shape != predicted.shape:
        raise DataError(f"actual {actual.shape} and predicted {predicted.shape} must both be [rows, targets]")
    scored = np.ones(actual.shape, bool) if scored is None else np.asarray(scored)
    if scored.shape != actual.shape or scored.dtype != bool:
        raise DataError(f"scored must be a bool mask of shape {actual.shape}, got {scored.dtype} {scored.shape}")
    levels = tuple(float(level) for level in levels)
    if not levels or not all(0 < level < 1 for level in levels):
        raise DataError(f"levels must be coverages strictly between 0 and 1, got {levels}")
    bad = scored & ~(np.isfinite(actual) & np.isfinite(predicted))
    if bad.any():
        row, target = np.argwhere(bad)[0]
        raise DataError(f"target {target}, row {row}: actual or predicted is not finite on a scored row; "
                        "leave such rows out of `scored`")
    return actual, predicted, scored, levels


def calibrate(actual, predicted, scored=None, *, levels=LEVELS, scale=None) -> np.ndarray:
    """Half-widths [len(levels), targets] from the VALIDATION split's residuals.

    For each target, with n scored rows, the half-width at `level` is the
    ceil((n + 1) x level)-th smallest |actual - predicted| (1-based). When that rank
    exceeds n (n < level / (1 - level), e.g. fewer than 19 rows at 95 %), the
    largest residual is used instead: the interval stays finite but the
    level guarantee is then not met, and test coverage may fall short of it.
    Unscored rows (`scored` False) take no part. Raises DataError (a ValueError)
    naming the target when it has fewer than 2 scored rows.
    """
    actual, predicted, scored, levels = _inputs(actual, predicted, scored, levels=levels)
    if scale is not None:   # normalised residuals: the half-width is then in units of each row's scale
        actual, predicted = actual / scale, predicted / scale
    half_widths = np.empty((len(levels), actual.shape[1]), np.float64)
    for target in range(actual.shape[1]):
        rows = scored[:, target]
        n = int(rows.sum())
        if n < 2:
            raise DataError(f"target {target} has {n} scored validation row(s); calibration needs at least 2 "
                            "(score more validation rows or drop the target)")
        residuals = np.sort(np.abs(actual[rows, target] - predicted[rows, target]))
        for i, level in enumerate(levels):
            rank = min(math.ceil((n + 1) * level - 1e-9), n)   # float slack: 100 x 0.07 is 7.000000000000001, rank 7
            half_widths[i, target] = residuals[rank - 1]
    return half_widths


def bands(predicted, half_widths, scale=None) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper ends, each [len(levels), rows, targets]: predicted -+ half-width (x the row's scale).

    half_widths: [levels, targets], or [levels, rows, targets] for bands that change row by row.
    """
    predicted, half_widths = np.asarray(predicted, np.float64), np.asarray(half_widths, np.float64)
    per_row = half_widths.ndim == 3 and half_widths.shape[1:] == predicted.shape
    if predicted.ndim != 2 or not (per_row or half_widths.shape == (half_widths.shape[0], predicted.shape[1])):
        raise DataError(f"predicted {predicted.shape} must be [rows, targets] and half_widths "
                        f"{half_widths.shape} [levels, targets] or [levels, rows, targets] with the same targets")
    spread = (half_widths if per_row else half_widths[:, None, :]) * (1.0 if scale is None else
                                                                      np.asarray(scale, np.float64)[None])
    return predicted[None] - spread, predicted[None] + spread


def _pinball(y: np.ndarray, quantile: np.ndarray, tau: float) -> np.ndarray:
    """Pinball (quantile) loss of `quantile` as the tau-quantile of y, per row."""
    return np.where(y >= quantile, tau * (y - quantile), (1 - tau) * (quantile - y))


def score(actual, predicted, half_widths, *, scored=None, levels=LEVELS, scale=None) -> list[dict]:
    """Coverage, width, interval score and pinball loss of each (level, target) on the TEST split.

    One dict per level and target, level-major (all targets of the first level
    first), with keys level, target (index), coverage (share of scored rows inside
    [lower, upper], ends included), width (mean, = 2 x half-width), interval_score
    (mean of width + 2/alpha x the distance outside, alpha = 1 - level), pinball
    (mean loss of the alpha/2 and 1 - alpha/2 quantiles the ends represent) and
    rows (scored rows). Lower scores are better; unscored rows take no part.
    """
    actual, predicted, scored, levels = _inputs(actual, predicted, scored, levels=levels)
    half_widths = np.asarray(half_widths, np.float64)
    if half_widths.shape not in {(len(levels), actual.shape[1]), (len(levels), *actual.shape)}:
        raise DataError(f"half_widths has shape {half_widths.shape}; expected [levels, targets] = "
                        f"{(len(levels), actual.shape[1])}, as `calibrate` returns for the same levels "
                        "(or [levels, rows, targets])")
    lower, upper = bands(predicted, half_widths, scale)
    results = []
    for i, level in enumerate(levels):
        alpha = 1 - level
        for target in range(actual.shape[1]):
            rows = scored[:, target]
            if not rows.any():
                raise DataError(f"target {target} has no scored test rows to score the intervals on")
            y, lo, hi = actual[rows, target], lower[i, rows, target], upper[i, rows, target]
            miss = np.maximum(lo - y, 0) + np.maximum(y - hi, 0)
            pinball = (_pinball(y, lo, alpha / 2) + _pinball(y, hi, 1 - alpha / 2)) / 2
            results.append({"level": level, "target": target,
                            "coverage": float(((y >= lo) & (y <= hi)).mean()),
                            "width": float((hi - lo).mean()),
                            "interval_score": float((hi - lo + 2 / alpha * miss).mean()),
                            "pinball": float(pinball.mean()), "rows": int(rows.sum())})
    return results


def row_scale(X, columns, target_std, *, share, spread=None) -> np.ndarray:
    """Each row's scale [rows, targets]: the target's std over the input window plus `share` x its training std.

    X: windows [rows, window, features]; columns: each target's feature column; share: one per
    target (or one for all). With no columns (a target that is not an input) or an infinite share,
    the scale is the training std alone: a constant-width band. A consumer computes the same from
    the window it feeds the model. spread: the windows' std of those columns, when already computed.
    """
    target_std = np.asarray(target_std, np.float64)
    share = np.broadcast_to(np.asarray(share, np.float64), target_std.shape)
    constant = np.broadcast_to(target_std, (len(X), len(target_std)))
    if columns is None:
        return constant.copy()
    spread = window_spread(X, columns) if spread is None else spread
    adaptive = spread + np.where(np.isfinite(share), share, 0) * target_std
    return np.where(np.isfinite(share), adaptive, constant)


def band_constants(recipe: MethodBands, levels, features, *, targets) -> tuple[np.ndarray, np.ndarray, tuple]:
    """From a method's bands: multipliers [levels, targets], base scale [targets], and the targets and input
    features (two index arrays) whose window std adds to the scale.

    recipe: a `MethodBands` (an exported model's metadata "intervals" reads as one: `MethodBands.from_dict`).
    """
    scale = recipe.scale
    base = np.array([scale.base[t] for t in targets], np.float64)
    pairs = [(j, features.index(scale.columns[t])) for j, t in enumerate(targets) if scale.window_std[t]]
    return (recipe.multipliers(levels, targets), base,
            tuple(np.array(side, np.int64) for side in zip(*pairs)) if pairs else ())


def window_spread(X, columns) -> np.ndarray:
    """Population std [rows, columns] of some input columns over each window (a WindowArray's, computed once)."""
    if isinstance(X, WindowArray):
        return X.spread(columns)
    x = np.asarray(X[:, :, columns], np.float64)
    deviation = x - x.sum(axis=1, keepdims=True) / x.shape[1]   # np.std's arithmetic, without its overhead
    return np.sqrt(np.square(deviation).sum(axis=1) / x.shape[1])


def window_scale(X, base: np.ndarray, pairs: tuple) -> np.ndarray:
    """Each window's scale [rows, targets]: `base` plus the population std of the paired input column."""
    scale = np.repeat(base[None], len(X), axis=0)
    if pairs:
        j, column = pairs
        scale[:, j] += window_spread(X, column)
    return scale


def band_terms(recipe: MethodBands, levels, X, *, features, targets) -> tuple[np.ndarray, np.ndarray]:
    """Multipliers [levels, targets] and each window's scale [rows, targets] for windows X (original units)."""
    q, base, pairs = band_constants(recipe, levels, features, targets=targets)
    return q, window_scale(X, base, pairs)


def choose_floor(actual, predicted, X, *, columns, target_std, scored=None, shares=FLOOR_SHARES) -> np.ndarray:
    """Per target, the floor (a share of its training std) whose bands score best on held-out validation.

    Calibrates on the first half of the validation rows and scores (interval score, mean over the
    levels) on the second; `inf` stands for a constant width, the answer when there is too little
    to choose on. Only validation rows are read.
    """
    targets = len(target_std)
    best, best_score = np.full(targets, np.inf), np.full(targets, np.inf)
    half = len(actual) // 2
    if columns is None or half < 2:
        return best
    scored = np.ones(np.shape(actual), bool) if scored is None else scored
    spread = window_spread(X, columns)   # the same for every share
    for share in shares:
        scale = row_scale(X, columns, target_std, share=share, spread=spread)
        try:
            q = calibrate(actual[:half], predicted[:half], scored[:half], scale=scale[:half])
            result = score(actual[half:], predicted[half:], q, scored=scored[half:], scale=scale[half:])
        except DataError:   # too few scored rows in one half: keep the constant width
            return np.full(targets, np.inf)
        value = np.array([np.mean([r["interval_score"] for r in result if r["target"] == j]) for j in range(targets)])
        better = value < best_score
        best[better], best_score[better] = share, value[better]
    return best
