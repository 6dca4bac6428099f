"""The gradient-boosted trees baseline: its lag features, what it learns from, its bound, its sentence."""
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from bwkit.data import Telemetry
from bwkit.evaluation import trees
from bwkit.features import prepare

START = 1_762_128_000.0   # 2025-11-03T00:00:00Z, a Monday


def telemetry(rows: int = 3000, seed: int = 0, fresh_every: int = 0) -> Telemetry:
    """Inputs [a, y] with y two rows behind a (i.i.d.): the next y is in the window, persistence misses it."""
    a = np.random.default_rng(seed).standard_normal(rows)
    y = np.concatenate([[0.0, 0.0], a[:-2]])
    fresh = None
    if fresh_every:   # y held between measurements: new on every fresh_every-th row only
        fresh = (np.arange(rows) % fresh_every == 0)[:, None]
        y = y[(np.arange(rows) // fresh_every) * fresh_every]
    X = np.column_stack([a, y]).astype(np.float32)
    return Telemetry(Path("synthetic.csv"), "0" * 64, START + 60.0 * np.arange(rows), np.zeros(rows, np.int64),
                     ["a", "y"], ["y"], X, y[:, None].astype(np.float64), observed=fresh)


def skill(t: Telemetry, split, predicted, mask=None) -> float:
    mask = np.ones(len(split), bool) if mask is None else mask
    actual, last = t.Y[split.row, 0][mask], t.Y[split.row - 1, 0][mask]
    return 1 - np.mean((predicted[mask, 0] - actual) ** 2) / np.mean((last - actual) ** 2)


def test_the_features_are_the_windows_lags_rolling_moments_and_the_predicted_rows_calendar():
    t = telemetry(rows=200)
    windows = prepare(t, 20, True).splits["test"]   # calendar channels among the inputs: left out of the features
    names = trees.feature_names(prepare(t, 20, True).features, 20)
    x = trees.lag_features(windows.X, prepare(t, 20, True).features, t.timestamps[windows.row])
    assert x.shape == (len(windows), len(names)) and x.dtype == np.float32
    column = {name: x[:, i] for i, name in enumerate(names)}
    for k in trees.LAGS:
        np.testing.assert_array_equal(column[f"a_lag{k}"], t.X[windows.row - k, 0])
    recent = np.stack([t.X[windows.row - k, 1] for k in range(1, 6)], axis=1).astype(np.float64)
    np.testing.assert_allclose(column["y_mean_5"], recent.mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(column["y_std_20"], np.stack([t.X[windows.row - k, 1] for k in range(1, 21)],
                                                            axis=1).std(axis=1), rtol=1e-5)
    when = t.timestamps[windows.row]
    np.testing.assert_array_equal(column["next_hour"], (when % 86400) // 3600)
    np.testing.assert_array_equal(column["next_weekday"], 0)   # the Monday of START
    assert not any(name.startswith("next_hour_") for name in names)


def test_the_trees_learn_what_the_window_holds_and_persistence_misses():
    t = telemetry()
    prepared = prepare(t, 20, False)
    result = trees.fit(prepared, t)
    assert result.test.shape == (len(prepared.splits["test"]), 1)
    assert result.validation.shape == (len(prepared.splits["val"]), 1)
    assert skill(t, prepared.splits["test"], result.test) > 0.8   # persistence is off by two rows of noise
    fit = result.details["per_target"]["y"]
    assert fit["training_windows"] == len(prepared.splits["train"]) and 1 <= fit["rounds"] <= 1000
    assert fit["learns"] == min(fit["forms"], key=lambda form: fit["forms"][form]["validation_mse"])
    assert result.notes == []


def test_a_held_target_is_learned_and_stopped_only_on_the_rows_where_it_is_fresh():
    t = telemetry(rows=6000, fresh_every=4)
    prepared = prepare(t, 20, False)
    result = trees.fit(prepared, t)
    fit = result.details["per_target"]["y"]
    assert fit["training_windows"] == int(t.observed[prepared.splits["train"].row, 0].sum())
    assert fit["stopping_windows"] == int(t.observed[prepared.splits["val"].row, 0].sum())
    test = prepared.splits["test"]
    assert skill(t, test, result.test, t.observed[test.row, 0]) > 0.3   # scored where a new value arrives


def test_above_the_bound_the_trees_learn_from_evenly_spaced_windows_and_the_notes_say_so(monkeypatch):
    monkeypatch.setattr(trees, "MAX_TRAINING_WINDOWS", 500)
    monkeypatch.setattr(trees, "MAX_STOPPING_WINDOWS", 200)
    t = telemetry()
    prepared = prepare(t, 20, False)
    result = trees.fit(prepared, t)
    assert result.details["per_target"]["y"]["training_windows"] == 500
    assert result.details["per_target"]["y"]["stopping_windows"] == 200
    assert result.test.shape == (len(prepared.splits["test"]), 1)   # every test row is still predicted
    assert len(result.notes) == 1 and f"500 of the {len(prepared.splits['train']):,} training windows" in result.notes[0]


def figures(low, high):
    return {"rel_mse_diff": (low + high) / 2, "rel_low": low, "rel_high": high}


@pytest.mark.parametrize("average, per_target, expected", [
    ((0.2, 0.6), (0.1, 0.3), "beat the LSTM: average skill 0.500 against its 0.250"),
    ((-0.6, -0.2), (-0.5, -0.1), "lose to the LSTM"),
    ((-0.1, 0.3), (0.1, 0.3), "cannot be told apart"),
])
def test_the_sentence_says_plainly_whether_the_trees_beat_the_model(average, per_target, expected):
    ev = SimpleNamespace(averages={"LSTM": {"skill": 0.25}, "gbm": {"skill": 0.5}}, targets=["a", "b"],
                         tests={"gbm": {"average": figures(*average), "a": figures(*per_target),
                                        "b": figures(-0.1, 0.1)}})
    text = trees.comparison_sentence(ev, "gbm", "LSTM")
    assert text.startswith("Gradient-boosted trees on lag features (gbm) ") and expected in text
    assert ("beat the LSTM on a" in text or "beat it on a" in text) == (per_target[0] > 0)


def test_a_target_never_fresh_in_validation_is_refused_by_name():
    from bwkit.errors import DataError

    t = telemetry(rows=600, fresh_every=4)
    t.observed[400:] = False   # fresh only in the training part
    with pytest.raises(DataError, match="target 'y' is observed on 0 of the .* val windows"):
        trees.fit(prepare(t, 20, False), t)


def test_targets_fitted_side_by_side_give_what_one_at_a_time_gives(monkeypatch):
    rows = 600
    a = np.random.default_rng(4).standard_normal(rows)
    y = np.concatenate([[0.0, 0.0], a[:-2]])
    X = np.column_stack([a, y]).astype(np.float32)
    t = Telemetry(Path("synthetic.csv"), "0" * 64, START + 60.0 * np.arange(rows), np.zeros(rows, np.int64),
                  ["a", "y"], ["y", "a"], X, np.column_stack([y, a]))
    prepared = prepare(t, 10, False)
    monkeypatch.setattr(trees, "ROUNDS", 40)
    together = trees.fit(prepared, t)
    monkeypatch.setattr(trees, "TARGETS_AT_ONCE", 1)
    alone = trees.fit(prepared, t)
    np.testing.assert_array_equal(together.test, alone.test)
    np.testing.assert_array_equal(together.validation, alone.validation)
    assert list(together.details["per_target"]) == ["y", "a"]
    assert together.details["per_target"] == alone.details["per_target"]
