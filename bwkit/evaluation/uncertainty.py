"""How sure a run's verdict is: paired tests against every other method, and calibrated intervals.

`tests` compares the model with each method on the same test rows (`significance`:
MSE and correlation differences with 95 % paired block-bootstrap intervals, and a
Diebold-Mariano test). `verdict_sentence` turns them into words that say "beats X"
only when the interval excludes zero. `interval_check` calibrates 80 % and 95 %
bands for every method that predicts the validation rows (the model, the trees,
persistence) on its own validation residuals (`intervals`) and scores them on test.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from bwkit.evaluation import adaptive, intervals, significance
from bwkit.evaluation.bands import AdaptiveTable, BandScale, Calibration, MethodBands
from bwkit.evaluation.baselines import persistence
from bwkit.evaluation.methods import MODEL, REFERENCE, method_names
from bwkit.features import Scaler

INTERVAL_METHOD = ("split conformal on validation residuals normalised by each row's scale (the target's std over "
                   "the input window plus a floor chosen on validation halves): multiplier = the "
                   "ceil((n+1) x level)-th smallest |residual| / scale")


PARALLEL_TEST_BYTES = 256 * 2**20   # two comparisons at once while rows x targets x 11 terms x 8 bytes is below this
                                    # (about 700,000 rows of 4 targets); each holds several such arrays while it runs


def tests(ev) -> dict[str, dict]:
    """Model against every other method of the evaluation: {method: {target or "average": figures}}.

    The comparisons are independent (each draws from its own seed) and mostly in NumPy, which
    releases the GIL: two threads take about two thirds of the time of one. Past
    PARALLEL_TEST_BYTES (a measure of one comparison's arrays) they run one at a time, to bound memory.
    """
    from concurrent.futures import ThreadPoolExecutor

    others = [m for m in ev.methods if m != MODEL]
    terms = ev.actual.size * significance.TERMS * 8
    with ThreadPoolExecutor(max_workers=2 if terms <= PARALLEL_TEST_BYTES else 1) as pool:
        results = pool.map(lambda m: significance.compare(ev.actual, ev.predictions[MODEL], ev.predictions[m],
                                                          scored=ev.scored), others)
        return {method: {("average" if k == "average" else ev.targets[k]): v for k, v in result.items()}
                for method, result in zip(others, results)}


def tests_table(tests: dict) -> pd.DataFrame:
    """One row per (method, target) of `tests` (an evaluation's, or a report's where NaN is null): MSE and r
    changes with their 95 % intervals, the DM p-value and the verdict. Where a target is constant on its test rows, or
    the other method exact there, it has no relative change: its interval says so, and its verdict reads the MSE
    difference itself (an average with no target left to relate: no verdict)."""
    records = []
    for method, per_target in tests.items():
        for target, figures in per_target.items():
            t = {k: float("nan") if v is None else v for k, v in figures.items()}
            rel = significance.relative(t)
            judged = (significance.judged(t) if target != "average" else "no verdict" if significance.unrelatable(t)
                      else significance.verdict(t["rel_low"], t["rel_high"]))
            records.append({"against": method, "target": target,
                            "MSE change %": 100 * t["rel_mse_diff"],
                            "95 % interval (MSE %)": f"[{rel[1]:+.1f}, {rel[2]:+.1f}]" if rel else
                            significance.no_relative(t),
                            "r change": t["r_diff"], "95 % interval (r)": _pair(t["r_low"], t["r_high"], ".4f"),
                            "DM p": t["dm_p"], "verdict": judged})
    return pd.DataFrame.from_records(records)


def _pair(low: float, high: float, spec: str) -> str:
    """An interval "[low, high]" with signs, or "none" where it has no bounds."""
    return "none" if not (np.isfinite(low) and np.isfinite(high)) else f"[{low:+{spec}}, {high:+{spec}}]"


def _phrase(method: str, t: dict) -> str:
    word, rel = significance.verdict(t["rel_low"], t["rel_high"]), significance.relative(t)
    if rel is None:
        return f"is compared with {method} ({significance.no_relative(t)})"
    return (f"{'is ' if word != 'beats' else ''}{word} {method} ({rel[0]:+.1f} % MSE, 95 % interval {rel[1]:+.1f} to "
            f"{rel[2]:+.1f} %)")


def verdict_sentence(ev) -> str:
    """"The model beats X ..., is indistinguishable from Y ...": averages over targets, then per-target exceptions."""
    against = [m for m in method_names("baseline") if m in ev.tests]
    if not against:
        return ""
    block = ev.tests[against[0]]["average"]["block"]
    text = ("The model " + ", ".join(_phrase(m, ev.tests[m]["average"]) for m in against) +
            f", in MSE averaged over targets (paired block bootstrap over test rows, blocks of {block} rows).")
    mixed = [f"{significance.judged(t)} {m} on {target}" for m in against for target, t in ev.tests[m].items()
             if target != "average" and significance.judged(t) != "beats"]
    return text + (" Per target it " + ", ".join(("is " if not p.startswith("is") else "") + p for p in mixed)
                   + "." if mixed else " It beats every baseline on every target too.")


def _calibrated(prepared, telemetry, predicted_val) -> MethodBands:
    """One method's bands from validation: the floor share (chosen on validation halves) and the multipliers."""
    val = prepared.splits["val"]
    train = prepared.splits["train"]
    columns, std = prepared.target_columns, Scaler.fit(train.Y, train.observed).std   # the model's own y_std
    mask = val.observed   # calibrated where the target is observed, as it is scored
    share = intervals.choose_floor(val.Y, predicted_val, val.X, columns=columns, target_std=std, scored=mask)
    scale = intervals.row_scale(val.X, columns, std, share=share)
    q = intervals.calibrate(val.Y, predicted_val, mask, scale=scale)
    quantiles = adaptive.table(np.abs(val.Y - predicted_val) / scale, mask)
    online = AdaptiveTable(adaptive.GAMMA, adaptive.GRID,
                           {t: quantiles[j].tolist() for j, t in enumerate(prepared.targets)})
    adaptive_scale = columns is not None
    recipe = BandScale(
        columns=dict(zip(prepared.targets, (prepared.features[c] for c in columns))) if adaptive_scale else None,
        floor_share=dict(zip(prepared.targets, map(float, share))),
        window_std={t: bool(adaptive_scale and np.isfinite(v)) for t, v in zip(prepared.targets, share)},
        base={t: float(s * d if adaptive_scale and np.isfinite(s) else d)
              for t, s, d in zip(prepared.targets, share, std)})
    return MethodBands({f"{level:g}": dict(zip(prepared.targets, map(float, q[i])))
                        for i, level in enumerate(intervals.LEVELS)}, recipe, online)


def calibration(model, prepared, telemetry, *, on_val: dict | None = None) -> Calibration:
    """80 % / 95 % bands of the model and of persistence (and of any method in on_val: name -> its predictions on
    the validation rows), each from its own validation residuals."""
    from bwkit.training import predict

    val = prepared.splits["val"]
    if on_val is None:
        on_val = {MODEL: predict(model, val.X), REFERENCE: persistence(telemetry.Y, val.row)}
    return Calibration(intervals.LEVELS, INTERVAL_METHOD, len(val),
                       {name: _calibrated(prepared, telemetry, p) for name, p in on_val.items()})


def half_widths(checked: Calibration, method: str, X, *, features, targets) -> np.ndarray:
    """Half-widths [levels, rows, targets] of a method's bands for windows X, as a consumer computes them."""
    q, scale = intervals.band_terms(checked.methods[method], checked.levels, X, features=features, targets=targets)
    return q[:, None, :] * scale[None]


def _scored(ev, name: str, bands: MethodBands, *, levels, q, scale) -> MethodBands:
    """A method's bands with their test scores: as calibrated, and learning from their misses row by row."""
    actual, predicted = ev.actual, ev.predictions[name]
    online = adaptive_multipliers(bands, levels, ev.targets, actual=actual, predicted=predicted, scale=scale,
                                  scored=ev.scored)
    test, adaptive_test = (intervals.score(actual, predicted, multipliers, scored=ev.scored, levels=levels, scale=scale)
                           for multipliers in (q, online))
    return replace(bands, test=[{**s, "target": ev.targets[s["target"]]} for s in test],
                   adaptive_test=[{**s, "target": ev.targets[s["target"]]} for s in adaptive_test])


def interval_check(ev, prepared, telemetry, *, on_val: dict) -> tuple[Calibration, np.ndarray]:
    """`calibration` of every method in on_val (name -> validation predictions), each method's bands scored on the
    evaluation's test rows; and the model's test half-widths."""
    checked = calibration(None, prepared, telemetry, on_val=on_val)
    test = prepared.splits["test"]
    methods = {}
    for name, bands in checked.methods.items():
        q, scale = intervals.band_terms(bands, checked.levels, test.X, features=prepared.features,
                                         targets=ev.targets)
        methods[name] = _scored(ev, name, bands, levels=checked.levels, q=q, scale=scale)
        if name == MODEL:
            half = q[:, None, :] * scale[None]
    return replace(checked, methods=methods), half


def adaptive_multipliers(bands: MethodBands, levels, targets, *, actual, predicted, scale, scored) -> np.ndarray:
    """The multipliers [levels, rows, targets] a service's tracker uses on these rows, in time order:
    each row's band learns from the misses of the rows before it (`bwkit.evaluation.adaptive`)."""
    errors = np.abs(np.asarray(actual, np.float64) - predicted) / scale
    return adaptive.replay(bands.adaptive.array(targets), levels, errors, scored=scored, gamma=bands.adaptive.gamma)


def shipped_bands(checked: Calibration) -> dict:
    """What a consumer of the exported model gets: how to compute its bands, and their test coverage (JSON)."""
    model = checked.methods[MODEL].to_dict()
    how = ("half_width = multiplier[level][target] x (scale.base[target], plus the population std of the input "
           "column scale.columns[target] over the window where scale.window_std[target] is true)")
    out = {"levels": list(checked.levels), "method": checked.method, "validation_rows": checked.validation_rows,
           "multiplier": model["multiplier"], "scale": model["scale"],
           "use": how + "; lower = output - half_width, upper = output + half_width"}
    if "adaptive" in model:   # a report from before bwkit shipped adaptive bands has none
        out["adaptive"] = {**model["adaptive"], "use": ADAPTIVE_USE}
    for key, name in (("test", "test_coverage"), ("adaptive_test", "adaptive_test_coverage")):
        if key in model:
            out[name] = {f"{lvl:g}": {s["target"]: s["coverage"] for s in model[key] if s["level"] == lvl}
                         for lvl in checked.levels}
    return out


ADAPTIVE_USE = ("optional, for a consumer that learns each actual value: keep rate[level][target] = 1 - level; "
                "multiplier = quantiles[target][k], k = ceil((1 - rate) x grid) clipped to 0..grid; after the actual "
                "arrives, miss = |actual - output| / scale > multiplier, rate += gamma x ((1 - level) - miss)")


def interval_table(checked: Calibration) -> pd.DataFrame:
    """Coverage, width and interval score per (method, level, target) on test: the bands calibrated on
    validation, then ("<method>, adaptive") the same bands learning from their misses row by row."""
    def row(method: str, s: dict) -> dict:
        return {"method": method, "level %": 100 * s["level"], "target": s["target"], "coverage %": 100 * s["coverage"],
                "mean width": s["width"], "interval score": s["interval_score"], "pinball": s["pinball"]}
    methods = checked.methods.items()
    return pd.DataFrame.from_records([row(m, s) for m, v in methods for s in v.test or ()] +
                                     [row(f"{m}, adaptive", s) for m, v in methods for s in v.adaptive_test or ()])
