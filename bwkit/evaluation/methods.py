"""Every method the evaluation compares, in one registry.

A method is a name, a way to predict the test rows, a colour and a kind
("ceiling", "model" or "baseline"), and optionally a way to predict the validation rows,
from which its own calibrated bands are made; the registry's order is the display order of
the table, the plots and the report. Evaluation, plots, the summary paragraph, the
HTML page and notebook 03 all read from here: adding a baseline is one
`register(...)` call.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from bwkit.evaluation import baselines

MODEL = "LSTM"                       # the trained model: the report's headline
WINDOW_ONLY = "LSTM (window only)"   # its twin without the predicted row's calendar (known_future runs)
REFERENCE = "persistence"            # skill = 1 - MSE / MSE(reference)
TREES = "gbm"                        # gradient-boosted trees on lag features (bwkit.evaluation.trees)


@dataclass
class Inputs:
    """What a method may look at: the trained model(s), the windows and the telemetry.

    Each split's `observed` (bool [windows, targets]) says where a target may be learned from and
    scored: a method fits on its split's observed values only (evaluation scores the same mask).
    """
    model: object
    prepared: object
    telemetry: object
    window_only: tuple | None = None   # (model, prepared) of the window-only twin, when trained
    notes: list[str] = field(default_factory=list)   # what a method wants the report's notes to say
    details: dict = field(default_factory=dict)      # method -> how it was fitted, for the report JSON
    fitted: dict = field(default_factory=dict)       # method -> its fit, shared by its test and validation predictions

    @property
    def rows(self) -> np.ndarray:
        """CSV rows predicted: the test split's."""
        return self.prepared.splits["test"].row


@dataclass(frozen=True)
class Method:
    name: str
    kind: str                                          # "ceiling", "model" or "baseline"
    color: str
    predict: Callable[[Inputs], np.ndarray | None]     # [test rows, targets]; None: not available for this run
    description: str
    plots: frozenset = field(default_factory=frozenset)   # detail plots it appears in: "overlay", "residuals"
    validation: Callable[[Inputs], np.ndarray] | None = None   # [validation rows, targets]: calibrates its bands


def _oracle(inputs: Inputs):
    oracle = inputs.telemetry.oracle
    return None if oracle is None else baselines.oracle(oracle, inputs.rows)


def _model(inputs: Inputs):
    from bwkit.training import predict  # torch: imported only when a model is scored, not to read the registry

    return predict(inputs.model, inputs.prepared.splits["test"].X)


def _window_only(inputs: Inputs):
    from bwkit.training import predict

    if inputs.window_only is None:
        return None
    twin, twin_prepared = inputs.window_only
    assert np.array_equal(twin_prepared.splits["test"].row, inputs.rows), "window-only twin predicts other rows"
    return predict(twin, twin_prepared.splits["test"].X)


def _model_validation(inputs: Inputs):
    from bwkit.training import predict

    return predict(inputs.model, inputs.prepared.splits["val"].X)


def _trees(inputs: Inputs):
    """The trees fitted once per evaluation (test and validation predictions come from the same fit)."""
    from bwkit.evaluation import trees

    if TREES not in inputs.fitted:
        result = inputs.fitted[TREES] = trees.fit(inputs.prepared, inputs.telemetry)
        inputs.notes.extend(result.notes)
        inputs.details[TREES] = result.details
    return inputs.fitted[TREES]


def _ridge(inputs: Inputs):
    splits = inputs.prepared.splits
    return baselines.MaskedRidge(splits["train"], splits["val"]).predict(splits["test"].X)


def _seasonal(inputs: Inputs):
    t = inputs.telemetry
    return baselines.SeasonalMean(t.timestamps, t.Y, inputs.prepared.splits["train"].row,
                                  observed=t.observed).predict(t.timestamps, inputs.rows)


REGISTRY: list[Method] = [
    Method("oracle", "ceiling", "#2ca02c", _oracle,
           "the generator's own prediction from its hidden state (synthetic data only): the ceiling"),
    Method(MODEL, "model", "#1f77b4", _model,
           "the trained model", frozenset({"overlay", "residuals"}), _model_validation),
    Method(WINDOW_ONLY, "model", "#17becf", _window_only,
           "the same LSTM without the predicted row's calendar inputs (known_future runs only)"),
    Method(TREES, "baseline", "#d62728", lambda i: _trees(i).test,
           "gradient-boosted trees per target (LightGBM) on lag features of the window: lags 1/2/3/5/10/20, "
           "mean and std over the last 5 rows and the whole window, the predicted row's hour and weekday; trained "
           "where the target is observed, early-stopped on validation", frozenset({"overlay", "residuals"}),
           lambda i: _trees(i).validation),
    Method("ridge", "baseline", "#9467bd", _ridge,
           "ridge regression on the flattened, standardised window (alpha chosen on validation)",
           frozenset({"residuals"})),
    Method("seasonal", "baseline", "#8c564b", _seasonal, "the training mean for the predicted row's hour and weekday"),
    Method(REFERENCE, "baseline", "#ff7f0e", lambda i: baselines.persistence(i.telemetry.Y, i.rows),
           "next = last value", frozenset({"overlay", "residuals"}),
           lambda i: baselines.persistence(i.telemetry.Y, i.prepared.splits["val"].row)),
]


def register(method: Method, before: str | None = None) -> None:
    """Add a method (at the end, or before the named one); a name is registered once."""
    if any(m.name == method.name for m in REGISTRY):
        raise ValueError(f"method {method.name!r} is already registered")
    at = next((i for i, m in enumerate(REGISTRY) if m.name == before), len(REGISTRY))
    REGISTRY.insert(at, method)


def get(name: str) -> Method:
    return next(m for m in REGISTRY if m.name == name)


def method_names(kind: str | None = None, plot: str | None = None) -> list[str]:
    """Registered names in display order, optionally of one kind or shown in one detail plot."""
    return [m.name for m in REGISTRY if (kind is None or m.kind == kind) and (plot is None or plot in m.plots)]


def method_color(name: str) -> str | None:
    return next((m.color for m in REGISTRY if m.name == name), None)


def describe() -> str:
    """The registry as a Markdown list (notebook 03's introduction)."""
    return "\n".join(f"* **{html.escape(m.name)}** ({m.kind}): {html.escape(m.description)};" for m in REGISTRY)
