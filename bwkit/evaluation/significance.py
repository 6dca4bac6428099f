"""Is the model really better than a baseline on these test rows? Paired block bootstrap and Diebold–Mariano.

    from bwkit.evaluation import significance
    result = significance.compare(actual, model, baseline, scored=scored)   # arrays [rows, targets], rows in time order
    significance.verdict(result["average"]["rel_low"], result["average"]["rel_high"])   # "beats", ...

Test rows are a time series, so neighbouring errors are correlated and an i.i.d. bootstrap would give
intervals that are too narrow. Resampling whole blocks of contiguous rows keeps that dependence. The
model and the baseline are always resampled with the same row indices (paired), and all targets share
them, so the average over targets gets an honest interval too. One block length, chosen from the
average relative loss differential, serves every target.

Differences are model minus baseline, so a negative MSE difference means the model is better. Raw MSE
differences are in squared units of each target (the average's `mse_*` mixes scales); the relative
differences (`rel_*`, a share of the baseline's MSE) and correlation differences (`r_*`) are scale-free.
"""
from __future__ import annotations

import math

import numpy as np

from bwkit.errors import DataError
from bwkit.evaluation.metrics import has_value

BAND_Z = 1.96               # white-noise band of the autocorrelation: ±BAND_Z / sqrt(n)
CHUNK_BYTES = 16_000_000    # with CHUNK_RESAMPLES, how many resamples are drawn at a time (fixed: the seed's stream)
CHUNK_RESAMPLES = 200       # resamples per chunk at most
TERMS = 11                  # per-row terms whose sums give every statistic (`_columns`)
CONSTANT = 1e-18            # a column whose variance is below CONSTANT x mean(x²) is constant (no correlation)
BLOCK_RULE = ("The block length is the smallest lag k ≥ 1 at which the sample autocorrelation falls inside "
              "the white-noise band ±1.96/sqrt(n), but at least ceil(n^(1/3)) and at most max(1, n // 10).")
FIELDS = (("mse_diff", "mse_low", "mse_high"), ("rel_mse_diff", "rel_low", "rel_high"), ("r_diff", "r_low", "r_high"))


def _cube_root_ceil(n: int) -> int:
    """ceil(n ** (1/3)) in integers (the float power rounds 27 ** (1/3) up to 3.0000000000000004)."""
    root = int(round(n ** (1 / 3)))
    while root ** 3 < n:
        root += 1
    while root > 0 and (root - 1) ** 3 >= n:
        root -= 1
    return root


def _autocovariance(x: np.ndarray, max_lag: int) -> np.ndarray:
    """Sample autocovariances γ_0..γ_max_lag of x (divided by n, mean removed), by FFT."""
    n = len(x)
    centred = x - x.mean()
    size = 1 << int(2 * n - 1).bit_length()
    spectrum = np.fft.rfft(centred, size)
    return np.fft.irfft(spectrum * np.conj(spectrum), size)[:max_lag + 1] / n


def block_length(series: np.ndarray) -> int:
    """Block length for a (1-D, possibly autocorrelated) series of n values.

    The block length is the smallest lag k ≥ 1 at which the sample autocorrelation falls inside
    the white-noise band ±1.96/sqrt(n), but at least ceil(n^(1/3)) and at most max(1, n // 10).

    The cap wins where the two bounds cross (n < 40), so a short series still has about ten
    blocks. A constant series has no autocorrelation and gets the floor (capped the same way);
    a series that never enters the band up to the cap gets the cap.
    """
    x = np.asarray(series, np.float64).ravel()
    if not np.isfinite(x).all():
        raise DataError("block_length: the series has NaN or infinite values; drop or fill them first")
    n = len(x)
    floor, cap = _cube_root_ceil(n), max(1, n // 10)
    if n < 2 or floor >= cap or np.all(x == x[0]):
        return min(floor, cap) if n else 1
    gamma = _autocovariance(x, cap)
    inside = np.abs(gamma[1:] / gamma[0]) < BAND_Z / math.sqrt(n)
    first = int(np.argmax(inside)) + 1 if inside.any() else cap
    return min(cap, max(floor, first))


def _diebold_mariano(d: np.ndarray, bandwidth: int) -> tuple[float, float]:
    """DM statistic on the loss differential d (HLN-corrected, horizon 1) and its two-sided t p-value.

    Long-run variance by Newey–West (Bartlett weights 1 - k/(bandwidth+1)). A differential that is
    identically zero gives statistic 0 and p = 1 (nothing to tell apart); a constant non-zero one
    gives ±inf and p = 0. Fewer than 2 values, or non-finite ones, give NaN.
    """
    n = len(d)
    if n < 2 or not np.isfinite(d).all():
        return float("nan"), float("nan")
    lags = min(max(bandwidth, 0), n - 1)
    gamma = _autocovariance(d, lags)
    weights = 1 - np.arange(1, lags + 1) / (lags + 1)
    variance = gamma[0] + 2 * np.sum(weights * gamma[1:])
    mean = float(d.mean())
    if variance <= 1e-24 * float(np.mean(d ** 2)):   # no variation beyond float rounding
        return (0.0, 1.0) if np.all(d == 0) else (math.copysign(math.inf, mean), 0.0)
    from scipy import stats   # here: scipy.stats costs half a second in every process that only needs the bands

    statistic = mean / math.sqrt(variance / n) * math.sqrt((n - 1) / n)
    return float(statistic), float(2 * stats.t.sf(abs(statistic), n - 1))


def _checked(actual, model, baseline, *, scored) -> tuple[np.ndarray, ...]:
    """The four inputs as [rows, targets] arrays, or an error naming the argument that does not fit."""
    arrays = [np.asarray(a, np.float64) for a in (actual, model, baseline)]
    arrays = [a[:, None] if a.ndim == 1 else a for a in arrays]
    shape = arrays[0].shape
    for name, a in zip(("model", "baseline"), arrays[1:]):
        if a.shape != shape:
            raise DataError(f"compare: {name} has shape {a.shape} but actual has {shape}; pass the same test rows")
    if len(shape) != 2:
        raise DataError(f"compare: actual has shape {shape}; pass [rows, targets] (or [rows] for one target)")
    mask = np.ones(shape, bool) if scored is None else np.asarray(scored, bool)
    mask = mask[:, None] if mask.ndim == 1 else mask
    if mask.shape != shape:
        raise DataError(f"compare: scored has shape {mask.shape} but actual has {shape}; pass one flag per value")
    for j in range(shape[1]):
        if mask[:, j].sum() < 2:
            raise DataError(f"compare: target {j} has {int(mask[:, j].sum())} scored rows; at least 2 are needed")
        if not all(np.isfinite(a[mask[:, j], j]).all() for a in arrays):
            raise DataError(f"compare: target {j} has NaN or infinite values on scored rows; fill or unscore them")
    return (*arrays, mask)


def _columns(actual, model, baseline, *, mask) -> tuple:
    """Per-row terms whose weighted sums give every statistic, [rows, 11] per target, zero on unscored rows.

    Values are centred on their scored means first (correlations and differences do not change, and
    the variances lose less to cancellation). Returns `terms(j)`, target j's terms, built when asked
    (one target's at a time is in memory), the loss differential d, the per-column constant
    thresholds for actual, model and baseline, and which targets are constant on their scored rows.
    """
    w = mask.astype(np.float64)
    keep = lambda v: np.where(mask, v, 0.0)   # noqa: E731  (unscored values never enter a sum, even NaN)
    d = keep((model - actual) ** 2 - (baseline - actual) ** 2)
    n = w.sum(0)
    a, m, b = (keep(v - keep(v).sum(0) / n) for v in (actual, model, baseline))
    base = keep((baseline - actual) ** 2)

    def terms(j: int) -> np.ndarray:
        return np.stack([w[:, j], d[:, j], a[:, j], m[:, j], b[:, j], a[:, j] * a[:, j], m[:, j] * m[:, j],
                         b[:, j] * b[:, j], a[:, j] * m[:, j], a[:, j] * b[:, j], base[:, j]], axis=1)
    thresholds = np.stack([CONSTANT * (keep(v) ** 2).sum(0) / n for v in (actual, model, baseline)])
    constant = (a ** 2).sum(0) / n <= thresholds[0]   # a target with no variance on its scored rows
    return terms, d, thresholds, constant


def _statistics(sums: np.ndarray, relatable: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """From weighted sums [resamples, 11, targets]: MSE difference, relative one and r difference.

    The relative difference divides by the baseline's MSE on the same resample (a ratio minus one,
    so never below -100 %); `relatable` (bool [targets], full sample) marks the targets that have one: not constant,
    the baseline not exact.

    Returns [resamples, 3, targets + 1], the last column the average over targets (the relative difference and r's
    over the relatable targets only; NaN where there are none).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        n = sums[:, 0]
        diff = sums[:, 1] / n
        mean_a, mean_m, mean_b = sums[:, 2] / n, sums[:, 3] / n, sums[:, 4] / n
        var_a, var_m, var_b = (sums[:, 5] / n - mean_a ** 2, sums[:, 6] / n - mean_m ** 2,
                               sums[:, 7] / n - mean_b ** 2)
        flat = var_a <= thresholds[0]
        r_m = np.where(flat | (var_m <= thresholds[1]), np.nan,
                       (sums[:, 8] / n - mean_a * mean_m) / np.sqrt(var_a * var_m))
        r_b = np.where(flat | (var_b <= thresholds[2]), np.nan,
                       (sums[:, 9] / n - mean_a * mean_b) / np.sqrt(var_a * var_b))
        base = sums[:, 10] / n
        rel = np.where(relatable & (base > 0), diff / np.where(base > 0, base, 1.0), np.nan)
    per_target = np.stack([diff, rel, r_m - r_b], axis=1)
    average = per_target.mean(axis=2, keepdims=True)
    average[:, 1:] = per_target[:, 1:, relatable].mean(axis=2, keepdims=True) if relatable.any() else np.nan
    return np.concatenate([per_target, average], axis=2)


def _block_starts(rng: np.random.Generator, rows: int, length: int, *, resamples: int) -> np.ndarray:
    """Each circular moving-block resample's block starts, [resamples, ceil(rows / length)]."""
    return rng.integers(0, rows, size=(resamples, -(-rows // length)))


def _resample_sums(cumulative: np.ndarray, starts: np.ndarray, length: int, *, rows: int) -> np.ndarray:
    """Sum of the terms over each resample's rows, [resamples, terms], from the running sums of the terms
    repeated once around the circle: each block's sum is a difference of two running sums, and the last
    block keeps only the rows the resample still needs. O(blocks), not O(rows), per resample: a sparse
    [resamples, running sums] matrix of +1 (block end) and -1 (block start) times the running sums."""
    from scipy.sparse import csr_matrix

    resamples, blocks = starts.shape
    ends = np.full(blocks, length)
    ends[-1] = rows - (blocks - 1) * length
    columns = np.stack([starts + ends, starts], axis=2).reshape(resamples, 2 * blocks)
    signs = np.broadcast_to(np.array([1.0, -1.0]), (resamples, blocks, 2)).reshape(resamples, 2 * blocks)
    matrix = csr_matrix((signs.ravel(), columns.ravel(), np.arange(0, columns.size + 1, 2 * blocks)),
                        shape=(resamples, len(cumulative)))
    return matrix @ cumulative


def _running_sums(values: np.ndarray, chunk: int = 65536) -> None:
    """values[k] = values[0] + ... + values[k] along the first axis, in place, in order (as np.cumsum adds)."""
    for i in range(0, len(values), chunk):
        block = values[i:i + chunk]
        if i:
            block[0] += values[i - 1]
        np.cumsum(block, axis=0, out=block)


def _sums(terms, targets: int, rows: int, *, length: int, resamples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sums of the terms over every row, [11, targets], and over each resample's rows, [resamples, 11, targets].

    terms(j): target j's terms [rows, 11]. Every target is resampled with the same draws; one
    target's running sums (repeated `length` rows around the circle) are in memory at a time.
    """
    rng = np.random.default_rng(seed)
    chunk = max(1, min(CHUNK_RESAMPLES, CHUNK_BYTES // (8 * rows)))   # the draws' order: fixed by the seed
    draws = [_block_starts(rng, rows, length, resamples=min(chunk, resamples - start))
             for start in range(0, resamples, chunk)]
    total, resampled = np.empty((TERMS, targets)), np.empty((resamples, TERMS, targets))
    for j in range(targets):
        cumulative = np.zeros((rows + length + 1, TERMS))
        cumulative[1:rows + 1] = terms(j)
        total[:, j] = cumulative[1:rows + 1].sum(axis=0)
        cumulative[rows + 1:] = cumulative[1:length + 1]   # the circle: the first rows again, after the last
        _running_sums(cumulative[1:])
        resampled[:, :, j] = np.concatenate([_resample_sums(cumulative, starts, length, rows=rows) for starts in draws])
    return total, resampled


def _interval(samples: np.ndarray, level: float) -> np.ndarray:
    """Percentile interval [2, ...] over the first axis, ignoring NaN resamples (all NaN: NaN)."""
    tail = 100 * (1 - level) / 2
    out = np.full((2, *samples.shape[1:]), np.nan)
    some = ~np.all(np.isnan(samples), axis=0)
    out[:, some] = np.nanpercentile(samples[:, some], [tail, 100 - tail], axis=0)
    return out


def compare(actual, model, baseline, *, scored=None, resamples: int = 1000, seed: int = 0,
            level: float = 0.95) -> dict:
    """Model against baseline on the same test rows: differences, block-bootstrap intervals, DM test.

    actual, model, baseline: float arrays [rows, targets], rows in time order; scored: optional bool
    [rows, targets], the rows each target is scored on (None: all). Returns a dict keyed by target
    index and "average", each {"mse_diff", "mse_low", "mse_high", "rel_mse_diff", "rel_low",
    "rel_high", "r_diff", "r_low", "r_high", "dm_stat", "dm_p", "block", "rows"}: differences are
    model minus baseline (negative MSE = model better), intervals are `level` percentile intervals of
    a paired circular moving-block bootstrap, relative values are MSE(model) / MSE(baseline) - 1 on
    each resample (never below -1). The average's mse_* is the mean of raw differences (scale-dependent), rel_* and
    r_* the mean of the per-target ones over the targets that have a relative difference (not constant on their
    rows, the baseline not exact: "constant" and "baseline_exact" say which), its DM runs on
    z_t = mean_j(scored·d·rows / (n_j·MSE_base_j)) over those targets and its rows is the number of test rows.
    Identical predictions give zeros, dm_stat 0 and dm_p 1.
    """
    if resamples < 1 or not 0 < level < 1:
        raise DataError(f"compare: resamples must be >= 1 (got {resamples}) and level in (0, 1) (got {level})")
    actual, model, baseline, mask = _checked(actual, model, baseline, scored=scored)
    rows, targets = actual.shape
    terms, d, thresholds, constant = _columns(actual, model, baseline, mask=mask)
    n = mask.sum(0)
    base_mse = np.where(mask, (baseline - actual) ** 2, 0.0).sum(0) / n
    relatable = ~constant & (base_mse > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (d[:, relatable] * rows / (n * base_mse)[relatable]).mean(axis=1) if relatable.any() else \
            np.full(rows, np.nan)
    length = block_length(np.where(np.isfinite(z), z, 0.0))
    total, resampled = _sums(terms, targets, rows, length=length, resamples=resamples, seed=seed)
    point = _statistics(total[None], relatable, thresholds)[0]
    low, high = _interval(_statistics(resampled, relatable, thresholds), level)
    tests = [_diebold_mariano(d[mask[:, j], j], length - 1) for j in range(targets)]
    tests.append(_diebold_mariano(z, length - 1))
    result = {}
    for j, key in enumerate([*range(targets), "average"]):
        values = {name: float(v) for i, names in enumerate(FIELDS)
                  for name, v in zip(names, (point[i, j], low[i, j], high[i, j]))}
        flags = ({"constant": bool(constant[j]), "baseline_exact": bool(base_mse[j] == 0 and not constant[j])}
                 if key != "average" else   # the average's: over which targets its relative difference and r are
                 {"constant": bool(constant.any()), "baseline_exact": bool((~constant & (base_mse == 0)).any())})
        result[key] = {**values, "dm_stat": tests[j][0], "dm_p": tests[j][1], "block": int(length),
                       "rows": int(n[j]) if key != "average" else int(rows), **flags}
    return result


def relative(t: dict) -> tuple[float, float, float] | None:
    """A test entry's relative MSE difference and its interval, in % (model against baseline); None where there is
    none (`no_relative` says why)."""
    values = [t.get(k) for k in ("rel_mse_diff", "rel_low", "rel_high")]
    return tuple(100 * v for v in values) if all(map(has_value, values)) else None


def no_relative(t: dict) -> str:
    """Why a test entry has no relative difference, in words."""
    if t.get("constant"):
        return "no relative difference: the target is constant on its test rows"
    if t.get("baseline_exact"):
        return "no relative difference: the baseline is exact (MSE 0) on a target's test rows"
    return "no interval (too few rows)"


def unrelatable(t: dict) -> bool:
    """A test entry without a relative difference because of its data (a constant target, an exact baseline)."""
    return relative(t) is None and bool(t.get("constant") or t.get("baseline_exact"))


def judged(t: dict) -> str:
    """`verdict` of one target's test entry: on its relative interval, or where it has none because of its data
    (`unrelatable`) on the interval of the MSE difference itself."""
    if unrelatable(t):
        return verdict(t.get("mse_low", math.nan), t.get("mse_high", math.nan))
    return verdict(t.get("rel_low", math.nan), t.get("rel_high", math.nan))


def verdict(low: float, high: float) -> str:
    """For an interval of MSE differences (negative = model better): "beats", "worse than" or
    "indistinguishable from" (also when a bound is NaN or None)."""
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return "indistinguishable from"
    if high < 0:
        return "beats"
    if low > 0:
        return "worse than"
    return "indistinguishable from"
