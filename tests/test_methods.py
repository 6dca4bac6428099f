"""The registry of methods: one registration reaches the table, the plots and the report JSON."""
import json

import numpy as np
import pytest

from bwkit.evaluation import evaluate
from bwkit.evaluation import methods
from bwkit.reports import plots
from bwkit.training import trained
from bwkit.evaluation.methods import Method


@pytest.fixture
def training_mean(monkeypatch):
    """A trivial baseline, registered for one test: the training windows' mean target."""
    monkeypatch.setattr(methods, "REGISTRY", list(methods.REGISTRY))
    methods.register(Method("training mean", "baseline", "#000000",
                            lambda i: np.broadcast_to(i.prepared.splits["train"].Y.mean(axis=0),
                                                      (len(i.rows), len(i.prepared.targets))).astype(float),
                            "the mean target of the training windows", frozenset({"overlay", "residuals"})),
                     before=methods.REFERENCE)
    return "training mean"


def without_trees(monkeypatch) -> None:
    """The registry without the trees, for a test about something else (their fit is the costly part of a
    tiny evaluation; the trees' own test is the last here)."""
    monkeypatch.setattr(methods, "REGISTRY", [m for m in methods.REGISTRY if m.name != methods.TREES])


def legend(figure) -> list[str]:
    return [t.get_text() for ax in figure.axes if ax.get_legend() for t in ax.get_legend().get_texts()]


def test_a_registered_method_reaches_the_table_the_plots_and_the_report(tiny_run, training_mean, tmp_path,
                                                                        monkeypatch):
    without_trees(monkeypatch)
    run = trained.load(tiny_run, log=lambda *_: None)
    ev = evaluate.evaluate(run.model, run.prepared, run.telemetry, window_only=run.window_only)
    assert ev.methods == methods.method_names() and ev.methods[-2:] == [training_mean, methods.REFERENCE]
    assert training_mean in set(ev.table()["method"])
    for figure in (plots.skill_bars(ev), plots.overlay(ev), plots.residuals(ev)):
        assert training_mean in legend(figure)
    summary = evaluate.summary(ev)
    path = evaluate.write_report(tmp_path / "report.json", ev, run.saved, summary_text=summary, model_size_mb=0.1)
    report = json.loads(path.read_text())
    assert list(report["comparison"]) == ev.methods and training_mean in report["verdicts"]
    assert report["comparison"][training_mean]["average"]["skill"] < 1
    assert "**training mean** (baseline)" in methods.describe()


def test_a_method_that_does_not_apply_is_left_out(tiny_run, monkeypatch):
    without_trees(monkeypatch)
    run = trained.load(tiny_run, log=lambda *_: None)
    ev = evaluate.evaluate(run.model, run.prepared, run.telemetry)   # no twin given
    assert methods.WINDOW_ONLY not in ev.methods and "oracle" in ev.methods


def test_a_name_is_registered_once():
    with pytest.raises(ValueError, match="already registered"):
        methods.register(methods.get("ridge"))


def test_the_trees_reach_every_table_plot_test_band_and_sentence(tiny_run, tmp_path):
    run = trained.load(tiny_run, log=lambda *_: None)
    ev = evaluate.evaluate(run.model, run.prepared, run.telemetry, window_only=run.window_only)
    trees = methods.TREES
    assert trees in ev.methods and trees in set(ev.table()["method"]) and trees in ev.tests
    for figure in (plots.skill_bars(ev), plots.overlay(ev), plots.residuals(ev)):
        assert trees in legend(figure)
    assert {s["target"] for s in ev.intervals.methods[trees].test} == set(ev.targets)   # its own bands
    summary = evaluate.summary(ev)
    assert "Gradient-boosted trees on lag features (gbm) " in summary and "gbm's own calibrated bands cover" in summary
    report = json.loads(evaluate.write_report(tmp_path / "report.json", ev, run.saved, summary_text=summary,
                                              model_size_mb=0.1).read_text())
    fit = report["method_details"][trees]
    assert set(fit["per_target"]) == set(ev.targets) and fit["training_seconds"] > 0
    page = tiny_run.index.read_text()   # the run page: the trees in the first table, their sentence in the lead
    assert page.index("<td>gbm</td>") < page.index("Every method, averages") and "Gradient-boosted trees" in page
