"""Score the model beside the baselines and the ceiling, on the same test rows.

Every method is a row block of one table: per target MAE, RMSE, MAPE (floored),
WAPE, R², Pearson r and skill against persistence, plus the averages and the
original guide's verdict. A target held between measurements (`fresh` mask) is
scored only on the rows where a new measurement arrived.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from . import baselines
from .data import DataError
from .metrics import METRICS, VERDICT_CORRELATION, VERDICT_MAPE, average, skill, target_metrics, verdict

MODEL = "LSTM"
WINDOW_ONLY = "LSTM (window only)"
ORDER = ("oracle", MODEL, WINDOW_ONLY, "ridge", "seasonal", "persistence")


@dataclass
class Evaluation:
    targets: list[str]
    rows: np.ndarray                    # CSV rows predicted (test split)
    actual: np.ndarray                  # [rows, targets]
    predictions: dict[str, np.ndarray]  # method -> [rows, targets]
    scored: np.ndarray                  # bool [rows, targets]: rows each target is scored on
    metrics: dict[str, dict[str, dict[str, float]]]   # method -> target -> metric
    averages: dict[str, dict[str, float]]             # method -> metric
    notes: list[str]

    @property
    def methods(self) -> list[str]:
        return [m for m in ORDER if m in self.predictions]

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
        """Share of persistence's excess MSE over the oracle that the model removes, per target."""
        if "oracle" not in self.metrics:
            return {}
        out = {}
        for t in self.targets:
            p, o, m = (self.metrics[k][t]["mse"] for k in ("persistence", "oracle", MODEL))
            out[t] = float((p - m) / (p - o)) if p > o else float("nan")
        return out


def predict_model(model, X: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    with torch.no_grad():
        return np.concatenate([model(torch.as_tensor(X[i:i + batch_size])).numpy()
                               for i in range(0, len(X), batch_size)]).astype(np.float64)


def evaluate(model, prepared, telemetry, window_only=None) -> Evaluation:
    """All methods on the test windows of `prepared` (built from `telemetry`).

    window_only: optional (model, prepared) of the twin trained without the
    known-future calendar inputs; it joins the table on the same rows.
    """
    train, val, test = (prepared.splits[k] for k in ("train", "val", "test"))
    rows = test.row
    predictions = {
        MODEL: predict_model(model, test.X),
        "ridge": baselines.WindowRidge(train, val).predict(test.X),
        "seasonal": baselines.SeasonalMean(telemetry.timestamps, telemetry.Y, train.row).predict(telemetry.timestamps, rows),
        "persistence": baselines.persistence(telemetry.Y, rows),
    }
    if telemetry.oracle is not None:
        predictions["oracle"] = baselines.oracle(telemetry.oracle, rows)
    if window_only is not None:
        twin, twin_prepared = window_only
        assert np.array_equal(twin_prepared.splits["test"].row, rows), "window-only twin predicts other rows"
        predictions[WINDOW_ONLY] = predict_model(twin, twin_prepared.splits["test"].X)
    actual = telemetry.Y[rows]
    scored = telemetry.fresh[rows] if telemetry.fresh is not None else np.ones_like(actual, dtype=bool)
    notes = list(telemetry.notes)  # fills and drops of gappy columns, stated where the verdict is read
    for j, target in enumerate(prepared.targets):
        if scored[:, j].sum() < 2:
            raise DataError(f"{telemetry.path}: {target} has {int(scored[:, j].sum())} fresh rows in the test split "
                            f"(fresh_column == 0); at least 2 are needed to score it. Use more data, or leave "
                            f"{target} out of fresh_targets")
        if not scored[:, j].all():
            notes.append(f"{target} is held between measurements: scored on the {int(scored[:, j].sum())} of "
                         f"{len(rows)} test rows where a fresh measurement arrives.")
    metrics, averages = {}, {}
    for method, predicted in predictions.items():
        metrics[method] = {t: target_metrics(actual[scored[:, j], j], predicted[scored[:, j], j])
                           for j, t in enumerate(prepared.targets)}
    for method in predictions:
        for t in prepared.targets:
            metrics[method][t]["skill"] = skill(metrics[method][t]["mse"], metrics["persistence"][t]["mse"])
        averages[method] = average(metrics[method])
        averages[method]["skill"] = float(np.mean([metrics[method][t]["skill"] for t in prepared.targets]))
    return Evaluation(list(prepared.targets), rows, actual, predictions, scored, metrics, averages, notes)


def summary(ev: Evaluation) -> str:
    """A short paragraph that states the verdict, the ceiling and the comparison to every baseline."""
    model, avg = ev.metrics[MODEL], ev.averages[MODEL]
    rule = f"average correlation >= {VERDICT_CORRELATION} and average MAPE <= {VERDICT_MAPE:g} %"
    parts = [f"The LSTM reaches average correlation {avg['correlation']:.4f} and average MAPE {avg['mape']:.2f} % "
             f"on {len(ev.rows)} test rows, so it {'meets' if verdict(avg) else 'does not meet'} the guide's rule ({rule})."]
    if "oracle" in ev.averages:
        o = ev.averages["oracle"]
        gap = ev.gap_closed()
        parts.append(f"The ceiling (the generator's oracle) reaches {o['correlation']:.4f} and {o['mape']:.2f} %, so the rule "
                     f"{'is' if verdict(o) else 'is not'} attainable on this data; the model closes "
                     + ", ".join(f"{100 * g:.0f} % ({t})" for t, g in gap.items())
                     + " of the MSE gap between persistence and the ceiling.")
    if WINDOW_ONLY in ev.averages:
        w = ev.averages[WINDOW_ONLY]
        parts.append(f"Feeding the predicted row's hour and weekday (known before it is measured) moves the average "
                     f"correlation from {w['correlation']:.4f} (window only) to {avg['correlation']:.4f} and the average "
                     f"MAPE from {w['mape']:.2f} % to {avg['mape']:.2f} %.")
    p = ev.averages["persistence"]
    parts.append(f"Persistence alone reaches {p['correlation']:.4f} and {p['mape']:.2f} % "
                 f"({'meets' if verdict(p) else 'does not meet'} the rule).")
    losses = [f"{m} on {t}" for m in ("ridge", "seasonal", "persistence") for t in ev.targets
              if ev.metrics[m][t]["mse"] <= model[t]["mse"]]
    parts.append("The model beats every baseline on every target (lower MSE)." if not losses else
                 "The model does not beat every baseline: it is matched or beaten by " + ", ".join(losses) + ".")
    return " ".join(parts + [note if note.endswith(".") else note + "." for note in ev.notes])
