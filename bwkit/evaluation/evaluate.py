"""Score the model beside the baselines and the ceiling, on the same test rows.

Every registered method (`bwkit.evaluation.methods`) is a row block of one table: per target
MAE, RMSE, MAPE (floored), WAPE, R², Pearson r and skill against persistence, plus
the averages and the original guide's verdict. A target is scored only on the rows where it is
observed (`bwkit.data.masks`: not missing, not held between measurements, not flagged invalid).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bwkit.data import require_observed
from bwkit.evaluation import methods, significance, trees, uncertainty
from bwkit.evaluation.bands import Calibration
from bwkit.evaluation.methods import MODEL, REFERENCE
from bwkit.evaluation.metrics import (METRICS, SKILL_UNDEFINED, VERDICT_CORRELATION, VERDICT_MAPE, average, shown,
                                     skill, target_metrics, verdict)
from bwkit.runs import Config, write_json
from bwkit.training import selection_sentence


@dataclass
class Evaluation:
    targets: list[str]
    rows: np.ndarray                    # CSV rows predicted (test split)
    actual: np.ndarray                  # [rows, targets]
    predictions: dict[str, np.ndarray]  # method -> [rows, targets], in the registry's order
    scored: np.ndarray                  # bool [rows, targets]: rows each target is scored on
    metrics: dict[str, dict[str, dict[str, float]]]   # method -> target -> metric
    averages: dict[str, dict[str, float]]             # method -> metric
    notes: list[str]
    times: np.ndarray | None = None     # unix seconds of the predicted rows
    tests: dict = field(default_factory=dict)   # method -> target/"average" -> differences, intervals, DM test
    intervals: Calibration | None = None   # calibrated 80 / 95 % bands of every method, scored on test
    bands: np.ndarray | None = None     # the model's half-widths on the test rows [levels, rows, targets]
    details: dict = field(default_factory=dict)   # method -> how it was fitted (the trees: rows, rounds, seconds)

    @property
    def methods(self) -> list[str]:
        return list(self.predictions)

    @property
    def ceiling(self) -> str | None:
        return next((m for m in methods.method_names("ceiling") if m in self.predictions), None)

    def table(self) -> pd.DataFrame:
        """Long table: one row per (method, target), 'average' last within each method."""
        records = []
        for method in self.methods:
            for target in self.targets + ["average"]:
                values = self.metrics[method][target] if target != "average" else self.averages[method]
                records.append({"method": method, "target": target, **{m: values[m] for m in METRICS},
                                "skill": values.get("skill", np.nan)})
        return pd.DataFrame.from_records(records)

    def verdicts(self) -> dict[str, bool]:
        return {m: verdict(self.averages[m]) for m in self.methods}

    def gap_closed(self) -> dict[str, float]:
        """Share of persistence's excess MSE over the ceiling that the model removes, per target."""
        if self.ceiling is None:
            return {}
        out = {}
        for t in self.targets:
            p, o, m = (self.metrics[k][t]["mse"] for k in (REFERENCE, self.ceiling, MODEL))
            out[t] = float((p - m) / (p - o)) if p > o else float("nan")
        return out


def _scored_rows(telemetry, targets, test) -> tuple[np.ndarray, list[str]]:
    """Which test rows each target is scored on (where it is observed), and the notes that say so."""
    scored = test.observed
    require_observed(scored, targets, "test", path=telemetry.path, masked=telemetry.masked)
    notes = list(telemetry.notes)  # fills, drops and masks, stated where the verdict is read
    for j, target in enumerate(targets):
        if not scored[:, j].all():
            notes.append(f"{target} is scored on the {int(scored[:, j].sum()):,} of {len(scored):,} test rows where "
                         "it is observed (not missing, held or invalid)")
    return scored, notes


def evaluate(model, prepared, telemetry, *, window_only=None) -> Evaluation:
    """Every registered method on the test windows of `prepared` (built from `telemetry`).

    window_only: optional (model, prepared) of the twin trained without the
    known-future calendar inputs; it joins the table on the same rows.
    """
    inputs = methods.Inputs(model, prepared, telemetry, window_only)
    rows, targets = inputs.rows, list(prepared.targets)
    scored, notes = _scored_rows(telemetry, targets, prepared.splits["test"])   # refused before any method is fitted
    predictions = {m.name: p for m in methods.REGISTRY if (p := m.predict(inputs)) is not None}
    on_val = {m.name: m.validation(inputs) for m in methods.REGISTRY if m.name in predictions and m.validation}
    actual = telemetry.Y[rows]
    notes += inputs.notes
    metrics, averages = {}, {}
    for method, predicted in predictions.items():
        metrics[method] = {t: target_metrics(actual[scored[:, j], j], predicted[scored[:, j], j])
                           for j, t in enumerate(targets)}
    for method in predictions:
        for t in targets:
            metrics[method][t]["skill"] = skill(metrics[method][t]["mse"], metrics[REFERENCE][t]["mse"])
            if not metrics[REFERENCE][t]["mse"] > 0:
                metrics[method][t].setdefault("undefined", {})["skill"] = SKILL_UNDEFINED
        averages[method] = average(metrics[method])
        averages[method]["skill"] = float(np.mean([metrics[method][t]["skill"] for t in targets]))
        exact = [t for t in targets if "skill" in metrics[method][t].get("undefined", {})]
        if exact:
            averages[method].setdefault("undefined", {})["skill"] = "undefined for " + ", ".join(exact)
    ev = Evaluation(targets, rows, actual, predictions, scored, metrics, averages, notes, telemetry.timestamps[rows],
                    details=inputs.details)
    ev.tests = uncertainty.tests(ev)
    ev.intervals, ev.bands = uncertainty.interval_check(ev, prepared, telemetry, on_val=on_val)
    return ev


RULE = f"average correlation >= {VERDICT_CORRELATION} and average MAPE <= {VERDICT_MAPE:g} %"


def _meets(avg) -> str:
    return "meets" if verdict(avg) else "does not meet"


def _interval_sentence(ev: Evaluation) -> str:
    if not ev.intervals:
        return ""
    def cover(method: str, key: str) -> str:
        entries = getattr(ev.intervals.methods[method], key) or ()
        return " and ".join(f"{100 * np.mean([s['coverage'] for s in entries if s['level'] == lvl]):.1f} %"
                            for lvl in ev.intervals.levels) if entries else ""
    nominal = " and ".join(f"{100 * lvl:g} %" for lvl in ev.intervals.levels)
    others = "; ".join(f"{name}'s own calibrated bands cover {cover(name, 'test')}"
                       for name in ev.intervals.methods if name != MODEL)
    text = (f"Its {nominal} prediction intervals (calibrated on validation residuals) cover {cover(MODEL, 'test')} "
            f"of the test rows, averaged over targets" + (f"; {others}." if others else "."))
    if cover(MODEL, "adaptive_test"):
        text += (f" Learning from their misses as each actual arrives (adaptive conformal), the model's cover "
                 f"{cover(MODEL, 'adaptive_test')}.")
    return text


def summary(ev: Evaluation, saved: dict | None = None) -> str:
    """A short paragraph: the verdict, the ceiling, the model against every baseline with intervals, the bands.

    saved: the checkpoint; when its settings were chosen on validation, the paragraph says how.
    """
    avg = ev.averages[MODEL]
    parts = [f"The LSTM reaches average correlation {shown(avg['correlation'], '.4f')} and average MAPE "
             f"{shown(avg['mape'], '.2f', ' %')} "
             f"on {len(ev.rows)} test rows, so it {_meets(avg)} the guide's rule ({RULE}).",
             trees.comparison_sentence(ev, methods.TREES, MODEL)]
    if ev.ceiling:
        o = ev.averages[ev.ceiling]
        parts.append(f"The ceiling (the generator's {ev.ceiling}) reaches {shown(o['correlation'], '.4f')} and "
                     f"{shown(o['mape'], '.2f', ' %')}, "
                     f"so the rule {'is' if verdict(o) else 'is not'} attainable on this data; the model closes "
                     + ", ".join(f"{shown(100 * g, '.0f', ' %')} ({t})" for t, g in ev.gap_closed().items())
                     + " of the MSE gap between persistence and the ceiling.")
    if methods.WINDOW_ONLY in ev.averages:
        w = ev.averages[methods.WINDOW_ONLY]
        parts.append(f"Feeding the predicted row's hour and weekday (known before it is measured) moves the average "
                     f"correlation from {shown(w['correlation'], '.4f')} (window only) to "
                     f"{shown(avg['correlation'], '.4f')} and the average MAPE from {shown(w['mape'], '.2f', ' %')} to "
                     f"{shown(avg['mape'], '.2f', ' %')}.")
    p = ev.averages[REFERENCE]
    parts.append(f"Persistence alone reaches {shown(p['correlation'], '.4f')} and {shown(p['mape'], '.2f', ' %')} "
                 f"({_meets(p)} the rule).")
    parts.append(uncertainty.verdict_sentence(ev))
    parts.append(_interval_sentence(ev))
    if saved and saved.get("selection"):
        parts.append(selection_sentence(saved["selection"]))
    if saved and saved.get("blend"):
        parts.append("With the calendar among its inputs, the model's output is blended with the training mean for "
                     "the predicted row's hour and weekday, at weights chosen on validation: "
                     + ", ".join(f"{t} {w:.1f}" for t, w in saved["blend"].items()) + " (0: the network alone).")
    return " ".join([p for p in parts if p] + [note if note.endswith(".") else note + "." for note in ev.notes])


def write_report(path, evaluation: Evaluation, saved: dict, *, summary_text: str, model_size_mb: float,
                 extra: dict | None = None) -> Path:
    """The report JSON: the original guide's fields first, then the full comparison."""
    avg = evaluation.averages[MODEL]
    report = {
        "model": f"LSTM (hidden {saved['model']['hidden_size']} x {saved['model']['num_layers']} layer(s), "
                 f"window {Config(saved['config']).window_size}"
                 f"{', with a linear path over the window' if saved['model'].get('window_size') else ''}"
                 f"{', the head reading the last row too' if saved['model'].get('last_to_head') else ''})",
        "success": evaluation.verdicts()[MODEL],
        "achieved_metrics": {"correlation": avg["correlation"], "mape": avg["mape"],
                             "accuracy_percent": 100.0 - avg["mape"]},
        "target_metrics": {"correlation": VERDICT_CORRELATION, "mape": VERDICT_MAPE},
        "training_time_seconds": saved["training_time_seconds"],
        "model_size_mb": model_size_mb,
        "accuracy_percent_definition": "100 - average MAPE (floored MAPE, see mape_floor)",
        "per_target": evaluation.metrics[MODEL],
        "comparison": {m: {"per_target": evaluation.metrics[m], "average": evaluation.averages[m]}
                       for m in evaluation.methods},
        "verdicts": evaluation.verdicts(),
        "gap_closed": evaluation.gap_closed(),
        "significance": evaluation.tests, "block_rule": significance.BLOCK_RULE,
        "intervals": None if evaluation.intervals is None else evaluation.intervals.to_dict(),
        "method_details": evaluation.details, "selection": saved.get("selection"), "blend": saved.get("blend"),
        "summary": summary_text,
        "test_rows": len(evaluation.rows),
        "data": saved["data"], "config": saved["config"], "best_epoch": saved["best_epoch"],
        "best_val_loss": min(saved["history"]["val_loss"]), "validation_loss": saved["history"]["val_loss"],
        **(extra or {}),
    }
    return write_json(path, report)
