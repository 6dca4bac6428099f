"""bwkit.features.windows: windows, chronological split, scaler, next-row calendar, prepare."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from bwkit.features import calendar, windows
from bwkit.data.loader import DataError, Telemetry
from bwkit.errors import ParameterError


def naive_windows(X, Y, window, segment=None):
    """The obvious loop: every start whose window and next row lie in one trace."""
    xs, ys, rows = [], [], []
    for start in range(len(X) - window):
        span = np.arange(start, start + window + 1)
        if segment is not None and len(set(segment[span])) > 1:
            continue
        xs.append(X[start:start + window])
        ys.append(Y[start + window])
        rows.append(start + window)
    return np.array(xs), np.array(ys), np.array(rows)


@pytest.mark.parametrize("window", [1, 3, 7])
def test_make_windows_matches_naive_loop(window):
    rng = np.random.default_rng(window)
    X, Y = rng.standard_normal((40, 5)), rng.standard_normal((40, 2))
    w = windows.make_windows(X, Y, window)
    xs, ys, rows = naive_windows(X, Y, window)
    assert w.X.shape == (40 - window, window, 5) and w.Y.shape == (40 - window, 2)
    assert w.X.dtype == np.float32 and w.Y.dtype == np.float32 and w.row.dtype == np.int64
    np.testing.assert_array_equal(w.X, xs.astype(np.float32))
    np.testing.assert_array_equal(w.Y, ys.astype(np.float32))
    np.testing.assert_array_equal(w.row, rows)
    assert len(w) == 40 - window


def test_predicted_row_index_is_row_after_window():
    X = np.arange(20, dtype=float)[:, None]          # feature = row index
    Y = np.arange(20, dtype=float)[:, None] * 10     # target = 10 x row index
    w = windows.make_windows(X, Y, 4)
    np.testing.assert_array_equal(w.row, np.arange(4, 20))
    np.testing.assert_array_equal(w.X[:, -1, 0], w.row - 1)   # the last step is the row before
    np.testing.assert_array_equal(w.X[:, 0, 0], w.row - 4)
    np.testing.assert_array_equal(w.Y[:, 0], 10 * w.row)


def test_windows_never_span_two_traces():
    rng = np.random.default_rng(0)
    segment = np.repeat([0, 1, 2, 3], [10, 3, 12, 9])   # trace 1 is shorter than a window + 1
    X, Y = rng.standard_normal((34, 3)), rng.standard_normal((34, 2))
    window = 4
    w = windows.make_windows(X, Y, window, segment=segment)
    xs, ys, rows = naive_windows(X, Y, window, segment)
    np.testing.assert_array_equal(w.row, rows)
    np.testing.assert_array_equal(w.X, xs.astype(np.float32))
    np.testing.assert_array_equal(w.Y, ys.astype(np.float32))
    assert len(w) == (10 - 4) + 0 + (12 - 4) + (9 - 4)
    for row in w.row:   # window rows and the predicted row all in one segment
        assert len(set(segment[row - window:row + 1])) == 1


def test_window_size_must_be_positive():
    with pytest.raises(ParameterError, match="window_size"):
        windows.make_windows(np.zeros((10, 1)), np.zeros((10, 1)), 0)


@pytest.mark.parametrize("n", [20, 100, 101, 1000, 14_979])
def test_split_slices_chronological_70_15_15(n):
    parts = windows.split_slices(n)
    assert list(parts) == ["train", "val", "test"]
    index = np.arange(n)
    train, val, test = (index[parts[k]] for k in ("train", "val", "test"))
    np.testing.assert_array_equal(np.concatenate([train, val, test]), index)   # covers all, in order, no overlap
    assert train.max() < val.min() and val.max() < test.min()
    assert abs(len(train) - 0.70 * n) <= 1 and abs(len(val) - 0.15 * n) <= 1 and abs(len(test) - 0.15 * n) <= 1


def test_scaler_fit_on_windows():
    rng = np.random.default_rng(1)
    values = rng.normal([5.0, -2.0, 100.0], [2.0, 0.5, 30.0], size=(50, 4, 3))
    values[..., 1] = 7.0    # a constant column must not divide by zero
    scaler = windows.Scaler.fit(values)
    flat = values.reshape(-1, 3)
    np.testing.assert_allclose(scaler.mean, flat.mean(axis=0))
    np.testing.assert_allclose(scaler.std[[0, 2]], flat.std(axis=0)[[0, 2]])
    assert scaler.std[1] == 1.0
    scaled = (flat - scaler.mean) / scaler.std
    np.testing.assert_allclose(scaled.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(scaled[:, [0, 2]].std(axis=0), 1)
    assert scaler.to_dict() == {"mean": list(scaler.mean), "std": list(scaler.std)}


def _unix(text):
    return int(pd.Timestamp(text).timestamp())


def _hot(cal_row):
    """(hour, weekday) a one-hot calendar row stands for."""
    assert cal_row.shape == (31,) and cal_row[:24].sum() == 1 and cal_row[24:].sum() == 1
    return int(cal_row[:24].argmax()), int(cal_row[24:].argmax())


def test_calendar_of_next_row_crosses_midnight():
    ts = np.array([_unix("2025-11-03T23:58Z"), _unix("2025-11-03T23:59Z")])   # a Monday
    cal = calendar.calendar_of_next_row(ts)
    assert cal.shape == (2, len(calendar.CALENDAR_FEATURES)) == (2, 31)
    assert _hot(cal[0]) == (23, 0)     # row 0 carries 23:59 Monday
    assert _hot(cal[1]) == (0, 1)      # row 1 (the last) steps forward one minute: Tuesday 00:00


def test_calendar_of_next_row_known_days():
    # Sunday 23:00 -> next row (one hour later) is Monday 00:00; Friday 11:00 -> Friday 12:00
    ts = np.array([_unix("2025-11-09T23:00Z"), _unix("2025-11-10T00:00Z"), _unix("2025-11-14T11:00Z"),
                   _unix("2025-11-14T12:00Z")])
    cal = calendar.calendar_of_next_row(ts)
    assert [_hot(row) for row in cal] == [(0, 0), (11, 4), (12, 4), (13, 4)]
    assert calendar.CALENDAR_FEATURES[0] == "next_hour_00" and calendar.CALENDAR_FEATURES[-1] == "next_weekday_6"


def test_calendar_covered_needs_every_hour_and_weekday():
    week = _unix("2025-11-03T00:00Z") + 3600 * np.arange(24 * 7)
    assert calendar.calendar_covered(week)
    assert not calendar.calendar_covered(week[np.arange(len(week)) % 24 != 5])   # 05:00 never seen
    assert not calendar.calendar_covered(week[: 24 * 6])       # no Sunday at all


# --------------------------------------------------------------------------- prepare

def _telemetry(rows, segment=None, path="t.csv"):
    ts = _unix("2025-11-03T00:00Z") + 60 * np.arange(rows)
    X = np.column_stack([np.arange(rows, dtype=float), np.ones(rows)])
    return Telemetry(path=path, sha256="0" * 64, timestamps=ts,
                     segment=np.zeros(rows, np.int64) if segment is None else segment,
                     features=["a", "b"], targets=["a"], X=X, Y=X[:, :1].copy())


def test_prepare_splits_windows_chronologically():
    prep = windows.prepare(_telemetry(120), 10, False)
    assert prep.features == ["a", "b"] and prep.targets == ["a"]
    rows = [prep.splits[k].row for k in ("train", "val", "test")]
    assert sum(len(r) for r in rows) == 110
    assert rows[0].max() < rows[1].min() and rows[1].max() < rows[2].min()


def test_prepare_known_future_adds_calendar_channels():
    prep = windows.prepare(_telemetry(120), 10, known_future=True)
    assert prep.features == ["a", "b", *calendar.CALENDAR_FEATURES]
    assert prep.splits["train"].X.shape[-1] == 2 + 31


@pytest.mark.parametrize("rows", [3, 10, 15])
def test_prepare_too_few_rows_is_a_data_error(rows):
    """Fewer rows than the window (3), exactly the window (10), or too few for val/test (15)."""
    with pytest.raises(DataError) as exc:
        windows.prepare(_telemetry(rows, path="tiny.csv"), 10, False)
    assert "tiny.csv" in str(exc.value) and "window" in str(exc.value)


def test_prepare_minimum_rows_in_message_is_enough():
    """The error states a minimum row count; that many rows must then be accepted."""
    with pytest.raises(DataError) as exc:
        windows.prepare(_telemetry(12), 10, False)

    minimum = int(re.search(r"at least (\d+) rows", str(exc.value)).group(1))
    windows.prepare(_telemetry(minimum), 10, False)
    with pytest.raises(DataError):
        windows.prepare(_telemetry(minimum - 1), 10, False)


def test_prepare_too_few_rows_per_trace():
    """Enough rows overall but every trace shorter than a window: no windows at all."""
    segment = np.repeat(np.arange(10), 8)
    with pytest.raises(DataError):
        windows.prepare(_telemetry(80, segment=segment), 10, False)
