"""How sure a run's verdict is: paired tests against every other method, and calibrated intervals.

`tests` compares the model with each method on the same test rows (`significance`:
MSE and correlation differences with 95 % paired block-bootstrap intervals, and a
Diebold-Mariano test). `verdict_sentence` turns them into words that say "beats X"
only when the interval excludes zero. `interval_check` calibrates 80 % and 95 %
bands for the model and for persistence on validation residuals (`intervals`) and
scores both on test.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import intervals, significance
from .baselines import persistence
from .methods import MODEL, REFERENCE, names

INTERVAL_METHOD = "split conformal: the ceil((n+1) x level)-th smallest |residual| on the validation split"


def tests(ev) -> dict[str, dict]:
    """Model against every other method of the evaluation: {method: {target or "average": figures}}."""
    out = {}
    for method in ev.methods:
        if method != MODEL:
            result = significance.compare(ev.actual, ev.predictions[MODEL], ev.predictions[method], ev.scored)
            out[method] = {("average" if k == "average" else ev.targets[k]): v for k, v in result.items()}
    return out


def table(ev) -> pd.DataFrame:
    """One row per (method, target): MSE and r differences with their intervals, DM p-value and the verdict."""
    records = []
    for method, per_target in ev.tests.items():
        for target, t in per_target.items():
            records.append({"against": method, "target": target,
                            "MSE change %": 100 * t["rel_mse_diff"],
                            "95 % interval (MSE %)": f"[{100 * t['rel_low']:+.1f}, {100 * t['rel_high']:+.1f}]",
                            "r change": t["r_diff"], "95 % interval (r)": f"[{t['r_low']:+.4f}, {t['r_high']:+.4f}]",
                            "DM p": t["dm_p"], "verdict": significance.verdict(t["rel_low"], t["rel_high"])})
    return pd.DataFrame.from_records(records)


def _phrase(method: str, t: dict) -> str:
    word = significance.verdict(t["rel_low"], t["rel_high"])
    return (f"{'is ' if word != 'beats' else ''}{word} {method} ({100 * t['rel_mse_diff']:+.1f} % MSE, "
            f"95 % interval {100 * t['rel_low']:+.1f} to {100 * t['rel_high']:+.1f} %)")


def verdict_sentence(ev) -> str:
    """"The model beats X ..., is indistinguishable from Y ...": averages over targets, then per-target exceptions."""
    against = [m for m in names("baseline") if m in ev.tests]
    if not against:
        return ""
    block = ev.tests[against[0]]["average"]["block"]
    text = ("The model " + ", ".join(_phrase(m, ev.tests[m]["average"]) for m in against) +
            f", in MSE averaged over targets (paired block bootstrap over test rows, blocks of {block} rows).")
    mixed = [f"{significance.verdict(t['rel_low'], t['rel_high'])} {m} on {target}"
             for m in against for target, t in ev.tests[m].items() if target != "average"
             and significance.verdict(t["rel_low"], t["rel_high"]) != "beats"]
    return text + (" Per target it " + ", ".join(("is " if not p.startswith("is") else "") + p for p in mixed)
                   + "." if mixed else " It beats every baseline on every target too.")


def _scored(telemetry, rows):
    return None if telemetry.fresh is None else telemetry.fresh[rows]


def calibration(model, prepared, telemetry) -> dict:
    """80 % / 95 % half-widths of the model and of persistence, each from its own validation residuals."""
    from .model import predict

    val = prepared.splits["val"]
    on_val = {MODEL: predict(model, val.X), REFERENCE: persistence(telemetry.Y, val.row)}
    out = {"levels": list(intervals.LEVELS), "method": INTERVAL_METHOD, "validation_rows": len(val), "methods": {}}
    for name, predicted in on_val.items():
        half = intervals.calibrate(val.Y, predicted, _scored(telemetry, val.row))
        out["methods"][name] = {"half_widths": {f"{level:g}": dict(zip(prepared.targets, map(float, half[i])))
                                                for i, level in enumerate(intervals.LEVELS)}}
    return out


def interval_check(ev, model, prepared, telemetry) -> dict:
    """`calibration`, with each method's bands scored on the evaluation's test rows."""
    checked = calibration(model, prepared, telemetry)
    for name, entry in checked["methods"].items():
        half = np.array([half_widths(checked, level, ev.targets, name) for level in checked["levels"]])
        scores = intervals.score(ev.actual, ev.predictions[name], half, ev.scored)
        entry["test"] = [{**s, "target": ev.targets[s["target"]]} for s in scores]
    return checked


def shipped(checked: dict) -> dict:
    """What a consumer of the exported model gets: its half-widths per level and target, and their test coverage."""
    model = checked["methods"][MODEL]
    out = {"levels": checked["levels"], "method": checked["method"], "validation_rows": checked["validation_rows"],
           "half_widths": model["half_widths"],
           "use": "per target: lower = output - half_widths[level][target], upper = output + half_widths[level][target]"}
    if "test" in model:
        out["test_coverage"] = {f"{lvl:g}": {s["target"]: s["coverage"] for s in model["test"] if s["level"] == lvl}
                                for lvl in checked["levels"]}
    return out


def interval_table(checked: dict) -> pd.DataFrame:
    """Coverage, width and interval score per (method, level, target) on test."""
    return pd.DataFrame.from_records(
        [{"method": m, "level %": 100 * s["level"], "target": s["target"], "coverage %": 100 * s["coverage"],
          "mean width": s["width"], "interval score": s["interval_score"], "pinball": s["pinball"]}
         for m, v in checked["methods"].items() for s in v["test"]])


def half_widths(checked: dict, level: float, targets, method: str = MODEL) -> np.ndarray:
    """A method's half-widths at `level`, one per target, in the targets' order."""
    return np.array([checked["methods"][method]["half_widths"][f"{level:g}"][t] for t in targets])
