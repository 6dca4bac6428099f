"""Error metrics in original units, and the original guide's acceptance rule.

MAPE divides by the actual value, so it explodes where actuals are near zero
(packet loss usually is, a stalled 5G download has throughput 0). bwkit divides by
max(|actual|, floor) with floor = MAPE_FLOOR_FRACTION x mean(|actual|) over the
evaluated rows, and always shows WAPE (sum|error| / sum|actual|) beside it, which
needs no floor.
"""
from __future__ import annotations

import numpy as np

MAPE_FLOOR_FRACTION = 0.1
VERDICT_CORRELATION = 0.98   # the guide: average Pearson correlation >= 0.98 ...
VERDICT_MAPE = 5.0           # ... and average MAPE <= 5 %
METRICS = ("mae", "rmse", "mape", "wape", "r2", "correlation")


def target_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """MAE, RMSE, MAPE (floored, %), WAPE (%), R² and Pearson r for one target."""
    actual, predicted = np.asarray(actual, np.float64), np.asarray(predicted, np.float64)
    error = predicted - actual
    scale = np.abs(actual).mean()
    floor = max(MAPE_FLOOR_FRACTION * scale, 1e-12)
    total = ((actual - actual.mean()) ** 2).sum()
    # a constant series (or prediction) has no correlation; float noise must not fake a tiny one
    constant = lambda v: v.std() <= 1e-9 * max(np.abs(v).mean(), 1e-12)  # noqa: E731
    metrics = {
        "mae": float(np.abs(error).mean()),
        "rmse": float(np.sqrt((error ** 2).mean())),
        "mape": float(100 * (np.abs(error) / np.maximum(np.abs(actual), floor)).mean()),
        "wape": float(100 * np.abs(error).sum() / max(np.abs(actual).sum(), 1e-12)),
        "r2": float(1 - (error ** 2).sum() / total) if total > 0 else float("nan"),
        "correlation": float("nan") if constant(actual) or constant(predicted) else
                       float(np.corrcoef(actual, predicted)[0, 1]),
        "mse": float((error ** 2).mean()),
        "mape_floor": float(floor),
        "n": int(len(actual)),
    }
    undefined = {}   # why a metric has no value (it is null in the JSON files)
    if scale <= 0:   # every actual value 0: a percentage of nothing (the floor would make it 1e14 %)
        metrics["mape"] = metrics["wape"] = float("nan")
        undefined["mape"] = undefined["wape"] = "the actual values are all 0 on the scored rows"
    if total <= 0:
        undefined["r2"] = "the actual values are constant on the scored rows"
    if constant(actual) or constant(predicted):
        undefined["correlation"] = ("the actual values are constant on the scored rows" if constant(actual)
                                    else "the predictions are constant")
    return {**metrics, "undefined": undefined} if undefined else metrics


def average(per_target: dict[str, dict[str, float]]) -> dict[str, float]:
    """Mean of each metric over the targets (undefined where any target's is, and said so)."""
    means = {m: float(np.mean([v[m] for v in per_target.values()])) for m in METRICS}
    undefined = {m: "undefined for " + ", ".join(t for t, v in per_target.items() if m in v.get("undefined", {}))
                 for m in METRICS if any(m in v.get("undefined", {}) for v in per_target.values())}
    return {**means, "undefined": undefined} if undefined else means


def verdict(avg: dict[str, float]) -> bool:
    """The original guide's rule: average correlation >= 0.98 and average MAPE <= 5 %."""
    return bool(avg["correlation"] >= VERDICT_CORRELATION and avg["mape"] <= VERDICT_MAPE)


def has_value(value) -> bool:
    """A figure that is a finite number (an undefined one is NaN in memory, null in the JSON files)."""
    return isinstance(value, (int, float, np.floating)) and bool(np.isfinite(value))


def shown(value, spec: str, unit: str = "") -> str:
    """A metric in a sentence: `format(value, spec)` and its unit, or "undefined" where it has no value (None, NaN)."""
    return format(value, spec) + unit if has_value(value) else "undefined"


SKILL_UNDEFINED = "persistence is exact on the scored rows (its MSE is 0)"


def skill(mse: float, mse_persistence: float) -> float:
    """1 - MSE / MSE(persistence): 0 = as good as repeating the last value, 1 = perfect."""
    return float(1 - mse / mse_persistence) if mse_persistence > 0 else float("nan")
