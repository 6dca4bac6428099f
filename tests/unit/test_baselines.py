"""bwkit.evaluation.baselines on series where each baseline's answer is known exactly."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bwkit.evaluation import baselines
from bwkit.features import windows

MONDAY = int(pd.Timestamp("2025-11-03T00:00Z").timestamp())
DAY = 86400


def test_persistence_on_constant_and_ramp():
    rows = np.arange(1, 50)
    constant = np.full((50, 2), 3.5)
    np.testing.assert_array_equal(baselines.persistence(constant, rows), constant[rows])
    ramp = np.column_stack([np.arange(50.0), 10 - 2 * np.arange(50.0)])
    pred = baselines.persistence(ramp, rows)
    assert pred.shape == (49, 2)
    np.testing.assert_array_equal(pred, ramp[rows] - [1.0, -2.0])   # lags the ramp by exactly one step


def test_oracle_reads_previous_row():
    oracle_next = np.arange(40.0).reshape(20, 2)
    rows = np.array([1, 5, 19])
    np.testing.assert_array_equal(baselines.oracle(oracle_next, rows), oracle_next[[0, 4, 18]])


def test_persistence_never_crosses_a_trace():
    segment = np.repeat([0, 1, 2], [12, 7, 15])
    Y = np.column_stack([segment * 1000.0 + np.arange(34), -np.arange(34.0)])
    X = Y.copy()
    w = windows.make_windows(X, Y, 5, segment=segment)
    assert len(w) > 0
    pred = baselines.persistence(Y, w.row)
    # every pair (predicted row, the row persistence reads) lies in one trace
    np.testing.assert_array_equal(segment[w.row - 1], segment[w.row])
    np.testing.assert_array_equal(pred, Y[w.row - 1])
    assert (np.abs(pred[:, 0] - w.Y[:, 0]) == 1).all()   # within a trace the lag is one step, never 1000


def _hourly(values_of_hour, days, start=MONDAY, step=600):
    ts = start + np.arange(0, days * DAY, step)
    hour = (ts % DAY) // 3600
    return ts, values_of_hour(hour, ts)


def f_hour(hour, ts):
    return np.column_stack([100 + 50 * np.sin(2 * np.pi * hour / 24), hour ** 2 / 10.0])


def test_seasonal_mean_reproduces_a_daily_cycle_on_unseen_days():
    ts, Y = _hourly(f_hour, days=21)        # three weeks, every 10 minutes
    train = np.arange(14 * DAY // 600)      # the first two weeks
    test = np.arange(len(train), len(ts))   # the third week: unseen days, seen (hour, weekday) cells
    model = baselines.SeasonalMean(ts, Y, train)
    np.testing.assert_allclose(model.predict(ts, test), Y[test], rtol=0, atol=1e-9)


def test_seasonal_mean_uses_weekday():
    def with_weekday(hour, ts):
        weekday = ((ts // DAY) + 3) % 7
        return np.column_stack([hour + 100.0 * weekday])
    ts, Y = _hourly(with_weekday, days=14)
    train = np.arange(7 * DAY // 600)
    test = np.arange(len(train), len(ts))
    np.testing.assert_allclose(baselines.SeasonalMean(ts, Y, train).predict(ts, test), Y[test], atol=1e-9)


def test_seasonal_mean_falls_back_to_hour_mean_for_unseen_weekday():
    def with_weekday(hour, ts):
        weekday = ((ts // DAY) + 3) % 7
        return np.column_stack([hour + 10.0 * weekday])
    ts, Y = _hourly(with_weekday, days=3)   # Monday (0), Tuesday (1), Wednesday (2)
    train = np.arange(2 * DAY // 600)       # Monday and Tuesday only
    wednesday = np.arange(len(train), len(ts))
    pred = baselines.SeasonalMean(ts, Y, train).predict(ts, wednesday)
    hour = (ts[wednesday] % DAY) // 3600
    np.testing.assert_allclose(pred[:, 0], hour + 5.0, atol=1e-9)   # mean of Monday (+0) and Tuesday (+10)


def test_seasonal_mean_falls_back_to_overall_mean_for_unseen_hour():
    ts = MONDAY + 60 * np.arange(120)       # hours 0 and 1 only
    Y = np.column_stack([np.arange(120.0)])
    model = baselines.SeasonalMean(ts, Y, np.arange(120))
    pred = model.predict(np.array([MONDAY + 5 * 3600]), np.array([0]))
    np.testing.assert_allclose(pred, [[Y.mean()]])


def test_window_ridge_recovers_a_linear_relation():
    rng = np.random.default_rng(0)
    n, window, features = 600, 4, 3
    X = rng.standard_normal((n, features))
    coef = rng.standard_normal((window * features, 2))
    w = windows.make_windows(X, np.zeros((n, 2)), window)
    Yw = np.asarray(w.X).reshape(len(w), -1).astype(np.float64) @ coef + [5.0, -3.0]
    w = windows.Windows(w.X, Yw.astype(np.float32), w.row)
    parts = {k: w.take(s) for k, s in windows.split_slices(len(w)).items()}
    ridge = baselines.WindowRidge(parts["train"], parts["val"])
    assert ridge.alpha == min(baselines.RIDGE_ALPHAS)
    pred = ridge.predict(parts["test"].X)
    assert pred.shape == parts["test"].Y.shape
    error = np.abs(pred - parts["test"].Y)
    assert error.max() < 1e-2 * np.abs(parts["test"].Y).std(), error.max()


def test_window_ridge_picks_a_larger_alpha_for_pure_noise():
    rng = np.random.default_rng(1)
    w = windows.make_windows(rng.standard_normal((500, 2)), rng.standard_normal((500, 1)), 5)
    parts = {k: w.take(s) for k, s in windows.split_slices(len(w)).items()}
    ridge = baselines.WindowRidge(parts["train"], parts["val"])
    assert ridge.alpha > min(baselines.RIDGE_ALPHAS)
    # predictions of noise shrink towards the training mean
    assert np.abs(ridge.predict(parts["test"].X) - parts["train"].Y.mean()).max() < 0.5


def test_window_ridge_gives_the_same_digits_whatever_blas_threads_the_process_has():
    """A process that started a dask cluster runs its kernels with OPENBLAS_NUM_THREADS=1; a run made
    there and its reproduction made elsewhere must still agree to the last digit."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(3)
    w = windows.make_windows(rng.standard_normal((3000, 9)), rng.standard_normal((3000, 4)), 20)
    parts = {k: w.take(s) for k, s in windows.split_slices(len(w)).items()}
    answers = []
    for threads in (1, 2):
        with threadpool_limits(threads, user_api="blas"):
            answers.append(baselines.WindowRidge(parts["train"], parts["val"]).predict(parts["test"].X))
    np.testing.assert_array_equal(answers[0], answers[1])
