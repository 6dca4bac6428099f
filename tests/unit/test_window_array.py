"""Windows never copied out (bwkit.features.window_array) give what the materialised windows gave."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from bwkit.evaluation import baselines
from bwkit.features import calendar, windows
from bwkit.features.window_array import TorchWindows, WindowArray


@pytest.fixture
def lazy():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((500, 5)) * [1, 10, 100, 0.01, 1e3] + [0, 5, -50, 1, 1e4]
    segment = np.repeat([0, 1, 2], [200, 120, 180])
    return windows.make_windows(X, X[:, :2], 12, segment=segment), X


def materialised(X, starts, window):
    return np.stack([X[s:s + window] for s in starts]).astype(np.float32)


def test_every_index_gathers_what_the_materialised_windows_hold(lazy):
    w, X = lazy
    full = materialised(X, w.row - 12, 12)
    assert isinstance(w.X, WindowArray) and w.X.shape == full.shape and w.X.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(w.X), full)
    for key in (slice(3, 40), np.array([7, 1, 300]), 5, (slice(None), -1), (slice(None), slice(None), [0, 3]),
                (slice(10, 20), -1, [4, 1]), (slice(None), slice(None), 2)):
        np.testing.assert_array_equal(w.X[key], full[key])
    np.testing.assert_array_equal(np.asarray(w.take(slice(50, 60)).X), full[50:60])


def test_the_scaler_over_windows_is_the_materialised_ones(lazy):
    w, X = lazy
    full = materialised(X, w.row - 12, 12)
    lazy_scaler, full_scaler = windows.Scaler.fit(w.X), windows.Scaler.fit(full)
    np.testing.assert_allclose(lazy_scaler.mean, full_scaler.mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(lazy_scaler.std, full_scaler.std, rtol=1e-12)


def test_training_batches_are_gathered_on_the_device_as_given(lazy):
    w, X = lazy
    full = torch.as_tensor(materialised(X, w.row - 12, 12))
    gathered, whole = TorchWindows(w.X, "cpu"), TorchWindows(full.numpy(), "cpu")
    idx = torch.tensor([4, 0, 250, 99])
    assert torch.equal(gathered[idx], full[idx]) and torch.equal(whole[idx], full[idx])
    assert torch.equal(gathered[2:9], full[2:9]) and len(gathered) == len(full)


def test_the_ridge_from_sums_is_scikit_learns_ridge_on_the_flattened_windows(lazy):
    sklearn = pytest.importorskip("sklearn.linear_model")
    w, X = lazy
    parts = {name: w.take(part) for name, part in windows.split_slices(len(w)).items()}
    ours = baselines.WindowRidge(parts["train"], parts["val"])
    flat = {n: np.asarray(p.X, np.float64).reshape(len(p), -1) for n, p in parts.items()}
    x_mean, x_std = flat["train"].mean(axis=0), flat["train"].std(axis=0)
    y_mean, y_std = parts["train"].Y.mean(axis=0), parts["train"].Y.std(axis=0)
    z = lambda name: (flat[name] - x_mean) / x_std   # noqa: E731
    fit = sklearn.Ridge(alpha=ours.alpha).fit(z("train"), (parts["train"].Y - y_mean) / y_std)
    theirs = fit.predict(z("test")) * y_std + y_mean
    np.testing.assert_allclose(ours.predict(parts["test"].X), theirs, rtol=1e-6, atol=1e-6 * np.abs(theirs).max())


def test_a_file_that_cannot_fit_is_refused_before_parsing_with_the_estimate(telemetry_csv, monkeypatch):
    from bwkit.data import memory
    from bwkit.data.loader import DataError, load_telemetry
    from conftest import FEATURES, TARGETS

    path, _ = telemetry_csv
    monkeypatch.setattr(memory, "memory_available", lambda: 100_000)
    with pytest.raises(DataError, match=r"300 rows x 1\d used columns need about 0\.0 GiB .* 0\.0 GiB is available"):
        load_telemetry(path, FEATURES, TARGETS, nan_policy="error")


def test_only_the_used_columns_are_parsed(telemetry_csv, write_csv):
    from bwkit.data.csvfile import read_table
    from bwkit.data.loader import load_telemetry
    from conftest import TARGETS

    _, frame = telemetry_csv
    path = write_csv(frame.assign(notes="free text, never read"))
    table, _, _ = read_table(path, {"timestamp", "rtt_ms"})
    assert list(table.columns) == ["timestamp", "rtt_ms"] and "notes" in table.attrs["header"]
    telemetry = load_telemetry(path, ["rtt_ms", "jitter_ms"], TARGETS[1:2], nan_policy="error")
    assert telemetry.features == ["rtt_ms", "jitter_ms"]


def test_calendar_channels_expanded_when_gathered_are_the_stored_ones():
    """known_future windows keep one byte per row; every index, the scaler and the device batches see the
    31 one-hot channels a stored [rows, features + 31] array held."""
    rng = np.random.default_rng(5)
    times = 1_762_128_000 + np.cumsum(rng.integers(600, 7200, 400)).astype(np.float64)   # every hour and weekday
    X = rng.standard_normal((400, 3)) * [1, 50, 0.1]
    cells = calendar.next_row_cells(times)
    lazy = windows.make_windows(X, X[:, :1], 9, calendar=cells)
    stored = np.hstack([X, calendar.calendar_of_next_row(times)]).astype(np.float32)
    full = materialised(stored, lazy.row - 9, 9)
    assert lazy.X.shape == full.shape == (len(lazy), 9, 3 + 31)
    np.testing.assert_array_equal(np.asarray(lazy.X), full)
    for key in (np.array([3, 0, 200]), (slice(None), -1), (slice(5, 50), slice(None), [0, 3, 33]),
                (slice(None), slice(None), 4)):
        np.testing.assert_array_equal(lazy.X[key], full[key])
    ours, theirs = windows.Scaler.fit(lazy.X), windows.Scaler.fit(full)
    np.testing.assert_allclose(ours.mean, theirs.mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.std, theirs.std, rtol=1e-9)
    idx = torch.tensor([4, 0, 250, 99])
    assert torch.equal(TorchWindows(lazy.X, "cpu")[idx], torch.as_tensor(full)[idx])
    hot = full[:, -1, 3:]
    np.testing.assert_array_equal(lazy.X.last_cells(), hot[:, :24].argmax(1) * 7 + hot[:, 24:].argmax(1))
    np.testing.assert_allclose(lazy.X.spread([1, 4]), full[:, :, [1, 4]].astype(np.float64).std(axis=1), rtol=1e-12)
