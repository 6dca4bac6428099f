"""Figures for the reports. Each function saves a PNG when given a path and returns
the figure (closed, so a notebook shows it once, as the cell's value).

Every figure is drawn at `DPI` and at most `MAX_WIDTH_IN` inches wide, so the pages show it at its own size
(no scaling down at 1400 px), and no text in it is smaller than `SMALLEST_FONT_PT`: at least 10 px on screen
(the browser test checks both)."""
from __future__ import annotations

import functools
from pathlib import Path

import matplotlib

if matplotlib.get_backend().lower() not in {"agg", "module://matplotlib_inline.backend_inline"}:
    matplotlib.use("Agg")
import matplotlib.dates
import matplotlib.ticker
import matplotlib.pyplot as plt
import numpy as np

from bwkit.evaluation import MODEL, REFERENCE, method_color, method_names
from bwkit.files import whole_file
from bwkit.schema import unit


def _in(target: str) -> str:
    """" (unit)" of a target, or "" when its name gives none."""
    return f" ({unit(target)})" if unit(target) else ""


DPI = 110                 # pixels per inch of every figure, saved or shown inline
SMALLEST_FONT_PT = 8      # 8 pt at 110 dpi: 12 px, above the pages' 10 px floor
MAX_WIDTH_IN = 11.5       # 1,265 px: fits the pages' 1,300 px column unscaled
SMALL = dict(fontsize=SMALLEST_FONT_PT)


def _literal_text(plot):
    """`plot` with every text it draws taken literally: a user's column named "tput $\\frac{1$ Mbps" is a label, not
    a formula matplotlib fails to parse (its default reads $...$ as mathtext)."""
    @functools.wraps(plot)
    def drawn(*args, **kwargs):
        with matplotlib.rc_context({"text.parse_math": False}):
            return plot(*args, **kwargs)
    return drawn


def _figure(width: float, height: float, *args, **kwargs):
    """plt.subplots at DPI, no wider than MAX_WIDTH_IN (a wider one is narrowed to it)."""
    shrink = min(1.0, MAX_WIDTH_IN / width)
    return plt.subplots(*args, figsize=(width * shrink, height), dpi=DPI, **kwargs)


def _finish(fig, path):
    fig.tight_layout()
    if path:
        with whole_file(path) as partial:   # a page never shows half of a plot
            fig.savefig(partial, format=Path(path).suffix.lstrip(".") or "png", dpi=DPI)
    plt.close(fig)
    return fig


def _grid(n: int, width: float = 4.2, height: float = 3.4, *, cols: int = 4):
    """n panels, up to `cols` a row (narrowed together to MAX_WIDTH_IN)."""
    cols = min(n, cols)
    rows = int(np.ceil(n / cols))
    fig, axes = _figure(width * cols, height * rows, rows, cols, squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes.flat


@_literal_text
def series(frame, columns, days: float = 3.0, *, path=None):
    """The first `days` of each column against time."""
    import pandas as pd

    time = pd.to_datetime(frame["timestamp"], unit="s", utc=True) if pd.api.types.is_numeric_dtype(frame["timestamp"]) \
        else pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601")
    keep = time < time.iloc[0] + pd.Timedelta(days=days)
    fig, axes = _figure(10, 1.8 * len(columns), len(columns), 1, sharex=True, squeeze=False)
    for ax, column in zip(axes[:, 0], columns):
        ax.plot(time[keep], frame.loc[keep, column], lw=0.7)
        ax.set_ylabel(column, **SMALL)
    axes[-1, 0].set_xlabel("time (UTC)")
    return _finish(fig, path)


@_literal_text
def training_history(history: dict, best_epoch: int, path=None):
    """Training and validation loss (standardised MSE) and the learning rate per epoch."""
    fig, (loss_ax, lr_ax) = _figure(10, 3.6, 1, 2)
    loss_ax.plot(history["epoch"], history["train_loss"], label="train")
    loss_ax.plot(history["epoch"], history["val_loss"], label="validation")
    loss_ax.axvline(best_epoch, color="grey", ls="--", lw=0.8, label=f"best epoch {best_epoch}")
    loss_ax.set(xlabel="epoch", ylabel="MSE (standardised targets)", yscale="log", title="loss")
    loss_ax.legend()
    lr_ax.plot(history["epoch"], history["learning_rate"])
    lr_ax.set(xlabel="epoch", ylabel="learning rate", yscale="log", title="learning rate")
    for ax in (loss_ax, lr_ax):
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))   # epochs 1, 2, not 1.0, 1.2
    return _finish(fig, path)


SCATTER_POINTS = 20_000   # points drawn per target at most (evenly spaced rows): a density, not a list


@_literal_text
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


@_literal_text
def skill_bars(evaluation, path=None):
    """Skill (1 - MSE / MSE persistence) per target for every method."""
    methods = [m for m in evaluation.methods if m != REFERENCE]
    x = np.arange(len(evaluation.targets))
    width = 0.8 / max(len(methods), 1)
    fig, ax = _figure(9, 3.6)
    for k, method in enumerate(methods):
        values = [evaluation.metrics[method][t]["skill"] for t in evaluation.targets]
        ax.bar(x + k * width, values, width, label=method, color=method_color(method))
    ax.axhline(0, color="black", lw=0.8)
    lowest = min(evaluation.metrics[m][t]["skill"] for m in methods for t in evaluation.targets)
    if lowest < -1:  # a far-off baseline would squash the others; its exact value is in the table
        ax.set_ylim(bottom=-1, top=1.05)
        ax.set_xlabel("target (axis cut at -1: the exact values are in the table)", **SMALL)
    ax.set_xticks(x + width * (len(methods) - 1) / 2, evaluation.targets)
    ax.set(ylabel="skill vs persistence", title="skill per target (0 = persistence, 1 = perfect)")
    ax.legend(**SMALL)
    return _finish(fig, path)


ZOOM_ROWS = 240          # the overlay's readable panel: the first hour of the test split, at most this many rows
FULL_POINTS = 2_000      # the whole test split's panel: at most this many evenly spaced rows


@_literal_text
def overlay(evaluation, hours: float = 1.0, path=None):
    """Per target, two panels: the first `hours` of the test split (at most ZOOM_ROWS rows), actual against the
    registry's overlay methods (the model, persistence) with the model's calibrated 80 % and 95 % intervals
    shaded; beside it, smaller, the whole test split (actual and model)."""
    methods = [m for m in method_names(plot="overlay") if m in evaluation.predictions]
    rows = len(evaluation.rows)
    times = evaluation.times
    zoom = np.arange(_first_hour(times, hours))
    full = np.unique(np.linspace(0, rows - 1, min(rows, FULL_POINTS)).astype(np.int64))
    fig, axes = _figure(11, 2.4 * len(evaluation.targets), len(evaluation.targets), 2, squeeze=False, sharex="col",
                        gridspec_kw={"width_ratios": [2.3, 1]})
    for j, target in enumerate(evaluation.targets):
        _overlay_zoom(axes[j, 0], evaluation, zoom, j=j, methods=methods)
        _overlay_full(axes[j, 1], evaluation, full, j=j)
        axes[j, 0].set_ylabel(f"{target}{_in(target)}", **SMALL)
    span = (times[zoom[-1]] - times[zoom[0]]) / 60
    axes[0, 0].set_title(f"the first {span:.0f} minutes of the test split ({len(zoom)} rows)", fontsize=10)
    axes[0, 1].set_title(f"the whole test split ({rows:,} rows)", fontsize=10)
    axes[0, 0].legend(ncol=3, loc="upper left", **SMALL)
    axes[-1, 0].set_xlabel("time of the predicted row (UTC)", **SMALL)
    for ax in axes.flat:
        ax.tick_params(labelsize=SMALLEST_FONT_PT)
        ax.xaxis.set_major_locator(matplotlib.dates.AutoDateLocator(maxticks=5))
        ax.xaxis.set_major_formatter(matplotlib.dates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
    return _finish(fig, path)


def _first_hour(times: np.ndarray, hours: float) -> int:
    """Rows from the first until `hours` later or time goes back (the next trace), at least 2, at most ZOOM_ROWS."""
    beyond = np.flatnonzero((times >= times[0] + 3600 * hours) | (np.diff(times, prepend=times[0]) < 0))
    return min(max(int(beyond[0]) if beyond.size else len(times), 2), ZOOM_ROWS, len(times))


def _when(evaluation, t: np.ndarray) -> np.ndarray:
    return (evaluation.times[t] * 1e3).astype("datetime64[ms]")   # the predicted rows' times, UTC


def _overlay_zoom(ax, evaluation, t: np.ndarray, *, j: int, methods: list[str]) -> None:
    when = _when(evaluation, t)
    if evaluation.bands is not None:   # the model's calibrated bands, widest first
        for i, alpha in zip(np.argsort(evaluation.intervals.levels)[::-1], (0.15, 0.3)):
            level, half = evaluation.intervals.levels[i], evaluation.bands[i, t, j]
            centre = evaluation.predictions[MODEL][t, j]
            ax.fill_between(when, centre - half, centre + half, color=method_color(MODEL), alpha=alpha, lw=0,
                            label=f"{MODEL} {100 * level:g} % interval")
    actual = np.where(evaluation.scored[t, j], evaluation.actual[t, j], np.nan)   # masked: no actual to draw
    ax.plot(when, actual, color="black", lw=1.2, marker=".", ms=3, label="actual")
    for method in methods:
        ax.plot(when, evaluation.predictions[method][t, j], lw=1.1, color=method_color(method), label=method)


def _overlay_full(ax, evaluation, t: np.ndarray, *, j: int) -> None:
    when = _when(evaluation, t)
    ax.plot(when, np.where(evaluation.scored[t, j], evaluation.actual[t, j], np.nan), color="black", lw=0.5)
    ax.plot(when, evaluation.predictions[MODEL][t, j], lw=0.5, color=method_color(MODEL), alpha=0.8)


@_literal_text
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
        ax.legend(**SMALL)
    return _finish(fig, path)


def swept_label(parameters: dict, swept: list[str]) -> str:
    """A run named by what it changed: "learning_rate=0.001, hidden_size=64" ("defaults" when nothing was)."""
    return ", ".join(f"{p}={parameters.get(p)}" for p in swept) or "defaults"


def _categories(values) -> list:
    """A swept parameter's values in their natural order (numbers by size), as the labels the axes show."""
    unique = list(dict.fromkeys(values.dropna()))
    try:
        unique = sorted(unique)
    except TypeError:
        pass
    return [str(v) for v in unique]


@_literal_text
def against_parameters(frame, parameters, metrics=("val_loss", "test correlation", "test mape"), *, path=None):
    """Each metric (rows) against each swept parameter (columns): every run as a dot, and each value's mean with
    its 95 % interval over the runs that share it (seaborn's bootstrap; none with a single run)."""
    import pandas as pd
    import seaborn as sns

    parameters = [p for p in parameters if p in frame] or ["run"]
    fig, axes = _figure(3.8 * len(parameters), 2.8 * len(metrics), len(metrics), len(parameters), squeeze=False)
    for i, metric in enumerate(metrics):
        for j, parameter in enumerate(parameters):
            ax = axes[i, j]
            data = pd.DataFrame({"x": frame[parameter].astype(str),
                                 "y": pd.to_numeric(frame[metric], errors="coerce")}).dropna()
            ax.set(xlabel=parameter, ylabel=metric)
            if data.empty:   # every run failed
                ax.text(0.5, 0.5, "no run finished", ha="center", va="center", transform=ax.transAxes)
                continue
            order = [v for v in _categories(frame[parameter]) if v in set(data["x"])]
            sns.stripplot(data=data, x="x", y="y", order=order, ax=ax, color="0.55", size=4, jitter=0.08)
            sns.pointplot(data=data, x="x", y="y", order=order, ax=ax, errorbar=("ci", 95), color="tab:blue",
                          markers="D", linestyles="-", seed=0)
            ax.set(xlabel=parameter, ylabel=metric)
            ax.tick_params(labelsize=SMALLEST_FONT_PT)
            ax.ticklabel_format(axis="y", useOffset=False)   # 0.4315, not "1e-5 + 4.314e-1" above the axis
    return _finish(fig, path)


@_literal_text
def heat_map(frame, rows: str, columns: str, *, metric: str = "val_loss", path=None):
    """The mean of `metric` over the runs of each pair of values of two swept parameters (lower is better)."""
    import pandas as pd
    import seaborn as sns

    data = pd.DataFrame({rows: frame[rows].astype(str), columns: frame[columns].astype(str),
                         metric: pd.to_numeric(frame[metric], errors="coerce")})
    table = data.pivot_table(index=rows, columns=columns, values=metric, aggfunc="mean")
    table = table.reindex(index=_categories(frame[rows]), columns=_categories(frame[columns]))
    fig, ax = _figure(1.4 * table.shape[1] + 3, 0.7 * table.shape[0] + 2)
    sns.heatmap(table, annot=True, fmt=".4g", cmap="viridis_r", ax=ax, annot_kws={"fontsize": 10},
                cbar_kws={"label": f"mean {metric}", "format": matplotlib.ticker.ScalarFormatter(useOffset=False)})
    ax.set_title(f"mean {metric} over each pair's runs (blank: no run finished)", fontsize=10)
    return _finish(fig, path)


@_literal_text
def validation_curves(runs, swept=(), path=None):
    """Every run's validation loss per epoch (log scale), coloured by its swept values; repeats share a colour."""
    import pandas as pd
    import seaborn as sns
    curves = pd.DataFrame([{"run": r["run"], "epoch": e, "validation loss": v,
                            "configuration": swept_label(r["parameters"], [p for p in swept if p != "seed"])}
                           for r in runs if r["report"] for e, v in enumerate(r["report"]["validation_loss"], 1)])
    fig, ax = _figure(9, 3.8)
    if not curves.empty:
        many = curves["configuration"].nunique() > 12
        sns.lineplot(data=curves, x="epoch", y="validation loss", hue="configuration", units="run", estimator=None,
                     lw=1.1, marker="o", markersize=4, ax=ax, legend=not many)
        if not many:
            ax.legend(title=", ".join(p for p in swept if p != "seed") or None, **SMALL, title_fontsize=SMALLEST_FONT_PT)
        ax.set_xlim(0.5, curves["epoch"].max() + 0.5)
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set(xlabel="epoch", ylabel="validation MSE (standardised)", yscale="log", title="validation curves")
    return _finish(fig, path)


@_literal_text
def served(predictions, targets, breaks=(), *, path=None):
    """A Predictor's output over time: each target's prediction, its 80 % and 95 % bands and the actual value,
    drawn per trace (no line joins two); dashed lines where a trace break starts a new window."""
    fig, axes = _grid(len(targets), width=6.0, cols=2)
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
        ax.set_title(target + _in(target), fontsize=10)
        ax.tick_params(axis="x", labelrotation=30, labelsize=SMALLEST_FONT_PT)
    axes[0].legend(**SMALL)
    return _finish(fig, path)
