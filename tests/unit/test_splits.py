"""The split by time: two instants cut every trace; the file-order split stays available and says what it is."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bwkit.data import load_telemetry
from bwkit.evaluation import prepared_folds
from bwkit.features import prepare, split_rows, split_shares, split_table, split_warnings
from bwkit.runs import Config

from conftest import telemetry_frame

WINDOW = 5


def simultaneous(tmp_path, rows=300, group=False):
    """Two traces recorded side by side (same timestamps), at different levels, the file sorted by trace."""
    frames = []
    for trace, level in (("low", 100.0), ("high", 1000.0)):
        frame = telemetry_frame(rows=rows, seed=len(frames))
        frame["throughput_mbps"] += level
        frame.insert(1, "trace_id", trace)
        if group:
            frame["network"] = "carrier " + trace
        frames.append(frame)
    path = tmp_path / "two.csv"
    pd.concat(frames, ignore_index=True).to_csv(path, index=False)
    return path


def load(path, **kw):
    return load_telemetry(path, "throughput_mbps,rtt_ms", "throughput_mbps,rtt_ms", nan_policy="error", **kw)


def test_the_time_split_gives_every_split_both_simultaneous_traces(tmp_path):
    telemetry = load(simultaneous(tmp_path))
    rows = split_rows(telemetry, WINDOW, "time")
    shares = split_shares(telemetry, rows)
    assert list(shares.index) == ["low", "high"]
    for name in ("train", "val", "test"):
        assert shares[name].tolist() == [50.0, 50.0], name
    times = {name: telemetry.timestamps[r] for name, r in rows.items()}
    assert times["train"].max() < times["val"].min() and times["val"].max() < times["test"].min()
    assert split_warnings(telemetry, rows, "time") == []
    prepared = prepare(telemetry, WINDOW, False, split="time")
    assert {n: list(w.row) for n, w in prepared.splits.items()} == {n: list(r) for n, r in rows.items()}


def test_a_file_order_split_is_reported_as_such_and_warned(tmp_path):
    telemetry = load(simultaneous(tmp_path, group=True), group_column="network")
    rows = split_rows(telemetry, WINDOW, "file")
    shares = split_shares(telemetry, rows)
    assert shares.index.name == "network" and shares.at["carrier high", "test"] == 100.0
    lines = split_warnings(telemetry, rows, "file")
    assert lines[0].startswith("split=file: the boundaries are positions in the file")
    # training is mostly the trace recorded first, which validation and test lack
    assert any("71 % of the train windows are from 'carrier low', which is under 5 % of val and test" in line
               for line in lines)
    table = split_table(telemetry, rows, "file")
    assert table.index.name == "split=file" and table["windows"].sum() == sum(len(r) for r in rows.values())


def test_with_one_trace_the_time_split_is_the_file_split(tmp_path):
    path = tmp_path / "one.csv"
    telemetry_frame(rows=200).to_csv(path, index=False)
    telemetry = load(path)
    by_time, by_file = split_rows(telemetry, WINDOW, "time"), split_rows(telemetry, WINDOW, "file")
    for name in by_time:
        np.testing.assert_array_equal(by_time[name], by_file[name])
    assert isinstance(prepare(telemetry, WINDOW, False).splits["test"].X.starts.base, np.ndarray)   # views


def test_the_rolling_folds_cut_at_instants_too(tmp_path):
    telemetry = load(simultaneous(tmp_path))
    folds = prepared_folds(telemetry, Config({"window_size": WINDOW, "known_future": False, "split": "time"}), 3)
    for fold in folds:
        test = fold.splits["test"].row
        traces = telemetry.segment[test]
        assert set(traces) == {0, 1} and abs((traces == 0).mean() - 0.5) < 0.01
        assert telemetry.timestamps[fold.splits["train"].row].max() < telemetry.timestamps[test].min()


@pytest.mark.parametrize("split", ["time", "file"])
def test_no_window_spans_a_gap_longer_than_the_limit(tmp_path, split):
    frame = telemetry_frame(rows=120)
    stamps = pd.to_datetime(frame["timestamp"], utc=True)
    stamps.iloc[50:] += pd.Timedelta(minutes=3)      # a 4-minute step: over 3 cadences
    stamps.iloc[90:] += pd.Timedelta(minutes=2)      # a 3-minute step: exactly 3 cadences, kept
    frame["timestamp"] = stamps.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    frame.to_csv(tmp_path / "gaps.csv", index=False)
    telemetry = load(tmp_path / "gaps.csv")
    predicted = np.concatenate(list(split_rows(telemetry, WINDOW, split).values()))
    assert not np.isin(np.arange(50, 50 + WINDOW), predicted).any()   # windows reaching back over the gap: dropped
    assert 90 in predicted and len(predicted) == 120 - 2 * WINDOW
    strict = load(tmp_path / "gaps.csv", max_gap_cadences=2.5)
    assert len(np.concatenate(list(split_rows(strict, WINDOW, split).values()))) == 120 - 3 * WINDOW
