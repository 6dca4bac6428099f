"""Figures for the reports. Each function saves a PNG when given a path and returns
the figure (closed, so a notebook shows it once, as the cell's value)."""
from __future__ import annotations

import matplotlib

if matplotlib.get_backend().lower() not in {"agg", "module://matplotlib_inline.backend_inline"}:
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from bwkit.evaluation import MODEL, REFERENCE, method_color, method_names
from bwkit.schema import unit


def _in(target: str) -> str:
    """" (unit)" of a target, or "" when its name gives none."""
    return f" ({unit(target)})" if unit(target) else ""


def _finish(fig, path):
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=110)
    plt.close(fig)
    return fig


def _grid(n: int, width: float = 4.2, height: float = 3.4):
    cols = min(n, 2)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes.flat


def series(frame, columns, days: float = 3.0, *, path=None):
    """The first `days` of each column against time."""
    import pandas as pd

    time = pd.to_datetime(frame["timestamp"], unit="s", utc=True) if pd.api.types.is_numeric_dtype(frame["timestamp"]) \
        else pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601")
    keep = time < time.iloc[0] + pd.Timedelta(days=days)
    fig, axes = plt.subplots(len(columns), 1, figsize=(10, 1.8 * len(columns)), sharex=True, squeeze=False)
    for ax, column in zip(axes[:, 0], columns):
        ax.plot(time[keep], frame.loc[keep, column], lw=0.7)
        ax.set_ylabel(column, fontsize=8)
    axes[-1, 0].set_xlabel("time (UTC)")
    return _finish(fig, path)


def training_history(history: dict, best_epoch: int, path=None):
    """Training and validation loss (standardised MSE) and the learning rate per epoch."""
    fig, (loss_ax, lr_ax) = plt.subplots(1, 2, figsize=(10, 3.6))
    loss_ax.plot(history["epoch"], history["train_loss"], label="train")
    loss_ax.plot(history["epoch"], history["val_loss"], label="validation")
    loss_ax.axvline(best_epoch, color="grey", ls="--", lw=0.8, label=f"best epoch {best_epoch}")
    loss_ax.set(xlabel="epoch", ylabel="MSE (standardised targets)", yscale="log", title="loss")
    loss_ax.legend()
    lr_ax.plot(history["epoch"], history["learning_rate"])
    lr_ax.set(xlabel="epoch", ylabel="learning rate", yscale="log", title="learning rate")
    return _finish(fig, path)


SCATTER_POINTS = 20_000   # points drawn per target at most (evenly spaced rows): a density, not a list


def predictions_scatter(actual, predicted, targets, *, scored=None, path=None):
    """Predicted vs actual per target on the test split, with the identity line."""
    fig, axes = _grid(len(targets))
    for j, (ax, target) in enumerate(zip(axes, targets)):
        keep = scored[:, j] if scored is not None else slice(None)
        a, p = actual[keep, j], predicted[keep, j]
        lo, hi = float(min(a.min(), p.min())), float(max(a.max(), p.max()))
        title = target
        if len(a) > SCATTER_POINTS:
            shown = np.linspace(0, len(a) - 1, SCATTER_POINTS).astype(np.int64)
            title += f" ({SCATTER_POINTS:,} of {len(a):,} rows, evenly spaced)"
            a, p = a[shown], p[shown]
        ax.scatter(a, p, s=3, alpha=0.35)
        ax.plot([lo, hi], [lo, hi], color="black", lw=0.8)
        ax.set(title=title, xlabel=f"actual{_in(target)}", ylabel=f"predicted{_in(target)}")
    return _finish(fig, path)


def skill_bars(evaluation, path=None):
    """Skill (1 - MSE / MSE persistence) per target for every method."""
    methods = [m for m in evaluation.methods if m != REFERENCE]
    x = np.arange(len(evaluation.targets))
    width = 0.8 / max(len(methods), 1)
    fig, ax = plt.subplots(figsize=(9, 3.6))
    for k, method in enumerate(methods):
        values = [evaluation.metrics[method][t]["skill"] for t in evaluation.targets]
        ax.bar(x + k * width, values, width, label=method, color=method_color(method))
    ax.axhline(0, color="black", lw=0.8)
    lowest = min(evaluation.metrics[m][t]["skill"] for m in methods for t in evaluation.targets)
    if lowest < -1:  # a far-off baseline would squash the others; its exact value is in the table
        ax.set_ylim(bottom=-1, top=1.05)
        ax.set_xlabel("target (axis cut at -1: the exact values are in the table)", fontsize=8)
    ax.set_xticks(x + width * (len(methods) - 1) / 2, evaluation.targets)
    ax.set(ylabel="skill vs persistence", title="skill per target (0 = persistence, 1 = perfect)")
    ax.legend(fontsize=8)
    return _finish(fig, path)


def overlay(evaluation, steps: int = 300, path=None):
    """Actual vs the registry's overlay methods (the model, persistence) over the first `steps` test rows,
    with the model's calibrated 80 % and 95 % intervals shaded."""
    methods = [m for m in method_names(plot="overlay") if m in evaluation.predictions]
    fig, axes = plt.subplots(len(evaluation.targets), 1, figsize=(10, 2.0 * len(evaluation.targets)),
                             sharex=True, squeeze=False)
    t = np.arange(min(steps, len(evaluation.rows)))
    when = (evaluation.times[t] * 1e3).astype("datetime64[ms]")   # the predicted rows' times, UTC
    for j, (ax, target) in enumerate(zip(axes[:, 0], evaluation.targets)):
        if evaluation.bands is not None:   # the model's calibrated bands, widest first
            for i, alpha in zip(np.argsort(evaluation.intervals["levels"])[::-1], (0.15, 0.3)):
                level, half = evaluation.intervals["levels"][i], evaluation.bands[i, t, j]
                centre = evaluation.predictions[MODEL][t, j]
                ax.fill_between(when, centre - half, centre + half, color=method_color(MODEL),
                                alpha=alpha, lw=0, label=f"{MODEL} {100 * level:g} % interval")
        actual = np.where(evaluation.scored[t, j], evaluation.actual[t, j], np.nan)   # masked: no actual to draw
        ax.plot(when, actual, color="black", lw=1.0, label="actual")
        for method in methods:
            ax.plot(when, evaluation.predictions[method][t, j], lw=0.8, color=method_color(method), label=method)
        ax.set_ylabel(f"{target}{_in(target)}", fontsize=8)
    axes[0, 0].legend(fontsize=8, ncol=5)
    axes[-1, 0].set_xlabel("time of the predicted row (UTC)")
    return _finish(fig, path)


def residuals(evaluation, path=None):
    """Distribution of prediction - actual per target on the scored test rows (the registry's residual methods)."""
    methods = [m for m in method_names(plot="residuals") if m in evaluation.predictions]
    fig, axes = _grid(len(evaluation.targets))
    for j, (ax, target) in enumerate(zip(axes, evaluation.targets)):
        keep = evaluation.scored[:, j]
        errors = {m: evaluation.predictions[m][keep, j] - evaluation.actual[keep, j] for m in methods}
        lo, hi = np.percentile(np.concatenate(list(errors.values())), [0.5, 99.5])
        for method, error in errors.items():
            ax.hist(error, bins=np.linspace(lo, hi, 60), histtype="step", label=method, color=method_color(method))
        ax.set(title=target, xlabel=f"prediction - actual{_in(target)}", ylabel="test rows")
        ax.legend(fontsize=7)
    return _finish(fig, path)


def against_parameters(frame, parameters, metrics=("val_loss", "test correlation", "test mape"), *, path=None):
    """Each metric (rows) against each swept parameter (columns), one point per run."""
    import pandas as pd

    parameters = [p for p in parameters if p in frame] or ["run"]
    fig, axes = plt.subplots(len(metrics), len(parameters), figsize=(3.6 * len(parameters), 2.6 * len(metrics)),
                             squeeze=False)
    for i, metric in enumerate(metrics):
        for j, parameter in enumerate(parameters):
            values, scores = frame[parameter], pd.to_numeric(frame[metric], errors="coerce")   # a failed run: NaN
            numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
            if not scores.notna().any():
                axes[i, j].text(0.5, 0.5, "no run finished", ha="center", va="center", transform=axes[i, j].transAxes)
                axes[i, j].set(xlabel=parameter, ylabel=metric)
                continue
            axes[i, j].scatter(values if numeric else values.astype(str), scores, s=18)
            axes[i, j].set(xlabel=parameter, ylabel=metric)
            if numeric and (values > 0).all() and values.max() / values.min() >= 20:
                axes[i, j].set_xscale("log")   # learning rates and the like span decades
    return _finish(fig, path)


def validation_curves(runs, path=None):
    """Every run's validation loss per epoch, overlaid (log scale)."""
    fig, ax = plt.subplots(figsize=(9, 3.8))
    for run in runs:
        if run["report"]:
            curve = run["report"]["validation_loss"]
            ax.plot(range(1, len(curve) + 1), curve, lw=0.9, label=run["run"])
    ax.set(xlabel="epoch", ylabel="validation MSE (standardised)", yscale="log", title="validation curves")
    if len(runs) <= 12:
        ax.legend(fontsize=7, ncol=2)
    return _finish(fig, path)


def served(predictions, targets, breaks=(), *, path=None):
    """A Predictor's output over time: each target's prediction, its 80 % and 95 % bands and the actual value,
    drawn per trace (no line joins two); dashed lines where a trace break starts a new window."""
    fig, axes = _grid(len(targets), width=6.0)
    axes = list(axes)
    traces = predictions.groupby("trace_id", sort=False) if "trace_id" in predictions else [("", predictions)]
    for number, (_, part) in enumerate(traces):
        label = (lambda text: text) if number == 0 else (lambda text: None)
        for ax, target in zip(axes, targets):
            for level, alpha in (("95", 0.15), ("80", 0.3)):
                if f"{target}_lower_{level}" in part:
                    ax.fill_between(part["timestamp"], part[f"{target}_lower_{level}"], part[f"{target}_upper_{level}"],
                                    color="tab:blue", alpha=alpha, lw=0, label=label(f"{level} % band"))
            ax.plot(part["timestamp"], part[f"{target}_pred"], color="tab:blue", lw=1, label=label("prediction"))
            if target in part:
                ax.plot(part["timestamp"], part[target], color="black", lw=0.8, alpha=0.7, label=label("actual"))
    for ax, target in zip(axes, targets):
        for when in breaks:
            ax.axvline(when, color="tab:red", ls="--", lw=1)
        ax.set_title(target + _in(target), fontsize=9)
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
    axes[0].legend(fontsize=7)
    return _finish(fig, path)
