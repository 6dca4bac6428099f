"""bwkit.data.loader.load_telemetry: good input loads, bad input gets one clear DataError."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from bwkit import errors
from bwkit.data.loader import DataError, load_telemetry, sha256_file, split_names
from bwkit.runs.params import configure

MONDAY = int(pd.Timestamp("2025-11-03T00:00:00Z").timestamp())
# The defaults live in one place, 02_train's parameters cell; read them through the one configuration path.
TRAIN = configure(stage="02_train")
FEATURES, TARGETS = split_names(TRAIN["features"]), split_names(TRAIN["targets"])


def load(path, **changes):
    """load_telemetry with 02_train's default features, targets and nan_policy, except `changes`."""
    arguments = {"features": FEATURES, "targets": TARGETS, "nan_policy": TRAIN["nan_policy"], **changes}
    return load_telemetry(path, **arguments)


def assert_names(exc: pytest.ExceptionInfo, path, column, row=None):
    """The message names the file, the column and (1-based data) row."""
    message = str(exc.value)
    assert str(path) in message, message
    assert f"'{column}'" in message, message
    if row is not None:
        assert re.search(rf"\brow {row}\b", message), message


# --------------------------------------------------------------------------- good input

def test_default_schema_loads(telemetry_csv):
    path, frame = telemetry_csv
    tel = load(path)
    assert tel.rows == len(frame) == 300
    assert tel.features == FEATURES
    assert tel.targets == TARGETS
    assert tel.X.shape == (300, 9) and tel.Y.shape == (300, 4)
    np.testing.assert_allclose(tel.X, frame[FEATURES].to_numpy(float))
    np.testing.assert_allclose(tel.Y, frame[TARGETS].to_numpy(float))
    np.testing.assert_array_equal(np.diff(tel.timestamps), 60)
    assert tel.timestamps[0] == MONDAY
    np.testing.assert_array_equal(tel.segment, 0)
    assert tel.oracle is None and tel.observed.all() and tel.notes == []
    assert len(tel.sha256) == 64



def test_info_records_what_was_loaded(make_frame, write_csv):
    frame = pd.concat([make_frame(rows=20), make_frame(rows=30, seed=1)], ignore_index=True)
    frame.insert(1, "trace_id", ["a"] * 20 + ["b"] * 30)
    frame["timestamp"] = MONDAY + 60 * np.arange(50)
    frame.loc[[0, 5], "queue_depth"] = np.nan
    path = write_csv(frame, "info.csv")
    tel = load(path, nan_policy="fill_flag")
    info = tel.info()
    assert info == {"path": str(path.resolve()), "sha256": sha256_file(path), "rows": 50, "traces": 2,
                    "notes": tel.notes, "masked": tel.masked,
                    "span": ["2025-11-03T00:00:00Z", "2025-11-03T00:49:00Z"], "suspect": [], "cadence_seconds": 60.0}
    assert all(counts["masked"] == 0 for counts in info["masked"].values())
    assert len(info["notes"]) == 1 and "queue_depth" in info["notes"][0]
    json.dumps(info)   # goes into the run's record as is


def test_features_targets_and_nan_policy_are_required(telemetry_csv):
    path, _ = telemetry_csv
    with pytest.raises(TypeError):
        load_telemetry(path)
    with pytest.raises(TypeError):
        load_telemetry(path, FEATURES, TARGETS)


def test_data_error_is_the_kits_error():
    assert DataError is errors.DataError and issubclass(DataError, (errors.BwkitError, ValueError))

def test_features_and_targets_as_comma_string(telemetry_csv):
    path, frame = telemetry_csv
    tel = load(path, features=" rtt_ms, queue_depth ", targets="rtt_ms")
    assert tel.features == ["rtt_ms", "queue_depth"] and tel.targets == ["rtt_ms"]
    np.testing.assert_allclose(tel.Y[:, 0], frame["rtt_ms"])


def test_unix_and_iso_timestamps_agree(make_frame, write_csv):
    frame = make_frame(rows=50)
    iso = load(write_csv(frame, "iso.csv"))
    unix = frame.copy()
    unix["timestamp"] = MONDAY + 60 * np.arange(50)
    unix = load(write_csv(unix, "unix.csv"))
    assert unix.timestamps.dtype == iso.timestamps.dtype == np.float64  # seconds keep sub-second fractions
    np.testing.assert_array_equal(iso.timestamps, MONDAY + 60 * np.arange(50))
    np.testing.assert_array_equal(unix.timestamps, iso.timestamps)


def test_iso_timestamps_with_offset_are_utc(make_frame, write_csv):
    frame = make_frame(rows=10)
    frame["timestamp"] = [f"2025-11-03T01:{m:02d}:00+01:00" for m in range(10)]
    tel = load(write_csv(frame))
    np.testing.assert_array_equal(tel.timestamps, MONDAY + 60 * np.arange(10))


def test_trace_ids_give_segments_and_may_restart_time(make_frame, write_csv):
    frame = pd.concat([make_frame(rows=20), make_frame(rows=30, seed=1)], ignore_index=True)
    frame.insert(1, "trace_id", ["a"] * 20 + ["b"] * 30)   # time restarts in trace b: allowed
    tel = load(write_csv(frame))
    np.testing.assert_array_equal(tel.segment, [0] * 20 + [1] * 30)


# --------------------------------------------------------------------------- bad input

def test_missing_file(tmp_path):
    path = tmp_path / "nope.csv"
    with pytest.raises(DataError) as exc:
        load(path)
    assert str(path) in str(exc.value)


def test_missing_column(telemetry_csv, write_csv):
    _, frame = telemetry_csv
    path = write_csv(frame.drop(columns="jitter_ms"), "nojitter.csv")
    with pytest.raises(DataError) as exc:
        load(path)
    assert_names(exc, path, "jitter_ms")
    # ... and the kit trains on whatever the parameters name:
    tel = load(path, features=[f for f in FEATURES if f != "jitter_ms"],
                         targets=["throughput_mbps", "rtt_ms"])
    assert "jitter_ms" not in tel.features


def test_missing_timestamp_column(telemetry_csv, write_csv):
    _, frame = telemetry_csv
    path = write_csv(frame.drop(columns="timestamp"))
    with pytest.raises(DataError) as exc:
        load(path)
    assert_names(exc, path, "timestamp")


def test_unparseable_timestamp(telemetry_csv, write_csv):
    _, frame = telemetry_csv
    frame.loc[7, "timestamp"] = "yesterday"
    path = write_csv(frame)
    with pytest.raises(DataError) as exc:
        load(path)
    assert_names(exc, path, "timestamp", row=8)


def test_non_numeric_value(telemetry_csv, write_csv):
    _, frame = telemetry_csv
    frame["rtt_ms"] = frame["rtt_ms"].astype(object)
    frame.loc[10, "rtt_ms"] = "abc"
    path = write_csv(frame)
    with pytest.raises(DataError) as exc:
        load(path)
    assert_names(exc, path, "rtt_ms", row=11)
    assert "abc" in str(exc.value)


@pytest.mark.parametrize("column, bad", [("queue_depth", np.nan), ("queue_depth", np.inf), ("queue_depth", -np.inf),
                                         ("rtt_ms", np.inf), ("rtt_ms", -np.inf)])  # a feature only, a feature + target
def test_nan_and_inf_refused(telemetry_csv, write_csv, column, bad):
    _, frame = telemetry_csv
    frame[column] = frame[column].astype(float)
    frame.loc[42, column] = bad
    path = write_csv(frame)
    with pytest.raises(DataError) as exc:
        load(path)
    assert_names(exc, path, column, row=43)


def test_unused_column_may_have_nan(telemetry_csv, write_csv):
    _, frame = telemetry_csv
    frame["signal_dbm"] = ["n/a" if i == 3 else "" for i in range(len(frame))]
    load(write_csv(frame))   # not named by features or targets: not checked


@pytest.mark.parametrize("how", ["equal", "backwards"])
def test_timestamps_not_increasing(telemetry_csv, write_csv, how):
    _, frame = telemetry_csv
    frame.loc[50, "timestamp"] = frame.loc[49 if how == "equal" else 10, "timestamp"]
    path = write_csv(frame)
    with pytest.raises(DataError) as exc:
        load(path)
    assert_names(exc, path, "timestamp", row=51)


def test_non_increasing_unix_timestamps(make_frame, write_csv):
    frame = make_frame(rows=20)
    frame["timestamp"] = MONDAY + 60 * np.arange(20)
    frame.loc[5, "timestamp"] = MONDAY
    path = write_csv(frame)
    with pytest.raises(DataError) as exc:
        load(path)
    assert_names(exc, path, "timestamp", row=6)


def test_trace_that_reappears(make_frame, write_csv):
    frame = make_frame(rows=10)
    frame.insert(1, "trace_id", ["a", "a", "a", "b", "b", "b", "c", "a", "a", "a"])
    frame["timestamp"] = MONDAY + 60 * np.arange(10)
    path = write_csv(frame)
    with pytest.raises(DataError) as exc:
        load(path)
    assert_names(exc, path, "trace_id", row=8)
    assert "'a'" in str(exc.value)


def test_bad_nan_policy(telemetry_csv):
    path, _ = telemetry_csv
    with pytest.raises(DataError, match="nan_policy"):
        load(path, nan_policy="ignore")


# --------------------------------------------------------------------------- legacy 22-column CSV

LEGACY_COLUMNS = ["timestamp", "region", "az", "link_type", "node_id", "peer_id", "rtt_ms", "jitter_ms",
                  "throughput_mbps", "bytes_tx", "bytes_rx", "packet_loss", "retransmits", "congestion_window",
                  "queue_depth", "dwcp_mode", "network_tier", "transport_type", "time_of_day", "day_of_week",
                  "bandwidth_mbps", "latency_ms"]


def legacy_frame(rows: int = 200, seed: int = 0) -> pd.DataFrame:
    """The original guide's generator, as the legacy profile reproduces it (unix-second timestamps)."""
    rng = np.random.default_rng(seed)
    ts = MONDAY + 60 * np.arange(rows)
    hour = (ts % 86400) // 3600
    weekday = ((ts // 86400) + 3) % 7
    tput = (500 + 200 * np.sin(2 * np.pi * hour / 24)) * np.where((hour >= 9) & (hour <= 17), 1.5, 1.0)
    tput = np.clip(tput * np.where(weekday >= 5, 0.7, 1.0) + rng.normal(0, 50, rows), 10, 1000)
    rtt = np.clip(50 - (tput - 500) / 20 + rng.normal(0, 5, rows), 5, 150)
    jitter = np.clip(0.1 * rtt + rng.exponential(2, rows), 0.1, 20)
    congestion = (1000 - tput) / 1000
    loss = np.clip(0.05 * congestion + rng.exponential(0.001, rows), 0, 0.1)
    pick = lambda *options: rng.choice(options, rows)  # noqa: E731
    columns = {
        "timestamp": ts, "region": pick("us-east-1", "eu-west-1"), "az": pick("a", "b", "c"),
        "link_type": pick("fiber", "wan"), "node_id": [f"node-{i % 7}" for i in range(rows)],
        "peer_id": [f"peer-{i % 5}" for i in range(rows)], "rtt_ms": rtt, "jitter_ms": jitter,
        "throughput_mbps": tput, "bytes_tx": rng.integers(0, 10**9, rows), "bytes_rx": rng.integers(0, 10**9, rows),
        "packet_loss": loss, "retransmits": (1000 * loss + rng.poisson(5, rows)).astype(int),
        "congestion_window": np.clip(2 * tput + rng.normal(0, 100, rows), 100, 2000).astype(int),
        "queue_depth": np.clip(100 * congestion + rng.exponential(10, rows), 0, 200).astype(int),
        "dwcp_mode": pick("sync", "async"), "network_tier": pick("premium", "standard"),
        "transport_type": pick("tcp", "quic"), "time_of_day": hour, "day_of_week": weekday,
        "bandwidth_mbps": tput, "latency_ms": rtt,
    }
    frame = pd.DataFrame(columns)
    assert list(frame.columns) == LEGACY_COLUMNS and len(LEGACY_COLUMNS) == 22
    return frame


def test_legacy_22_column_csv_loads_as_is(write_csv):
    frame = legacy_frame()
    tel = load(write_csv(frame, "legacy.csv"))
    assert tel.features == FEATURES and tel.targets == TARGETS
    np.testing.assert_allclose(tel.X, frame[FEATURES].to_numpy(float))
    np.testing.assert_allclose(tel.Y, frame[TARGETS].to_numpy(float))
    np.testing.assert_array_equal(tel.timestamps, frame["timestamp"])
    assert tel.X.dtype == np.float32 and np.isfinite(tel.X).all()


def test_legacy_csv_with_aliases_only(write_csv):
    frame = legacy_frame().drop(columns=["throughput_mbps", "rtt_ms"])
    assert len(frame.columns) == 20
    tel = load(write_csv(frame, "legacy_alias.csv"))
    assert tel.features == FEATURES and tel.targets == TARGETS
    np.testing.assert_allclose(tel.Y[:, 0], frame["bandwidth_mbps"])
    np.testing.assert_allclose(tel.Y[:, 1], frame["latency_ms"])
    np.testing.assert_allclose(tel.X[:, 0], frame["bandwidth_mbps"])
    np.testing.assert_allclose(tel.X[:, 1], frame["latency_ms"])


def test_categorical_column_refused_only_when_named(write_csv):
    path = write_csv(legacy_frame(rows=20), "legacy.csv")
    with pytest.raises(DataError) as exc:
        load(path, features=["rtt_ms", "region"])
    assert_names(exc, path, "region", row=1)


# --------------------------------------------------------------------------- NaN policies

def _with_gaps(frame):
    frame["queue_depth"] = frame["queue_depth"].astype(float)
    frame.loc[[0, 20, 21], "queue_depth"] = [np.nan, np.nan, np.inf]
    return frame


def test_fill_flag_fills_and_flags(telemetry_csv, write_csv):
    _, frame = telemetry_csv
    original = frame["queue_depth"].astype(float).to_numpy()
    tel = load(write_csv(_with_gaps(frame)), nan_policy="fill_flag")
    i = tel.features.index("queue_depth")
    assert tel.features[i + 1] == "queue_depth_missing"
    assert len(tel.features) == 10 and tel.X.shape == (300, 10)
    filled, flag = tel.X[:, i], tel.X[:, i + 1]
    assert np.isfinite(tel.X).all()
    np.testing.assert_array_equal(np.flatnonzero(flag), [0, 20, 21])
    assert filled[0] == original[1]                    # first row: next valid value
    assert filled[20] == filled[21] == original[19]    # later rows: last valid value
    keep = np.setdiff1d(np.arange(300), [0, 20, 21])
    np.testing.assert_array_equal(filled[keep], original[keep])
    assert any("queue_depth" in note for note in tel.notes)


def test_drop_removes_the_feature(telemetry_csv, write_csv):
    _, frame = telemetry_csv
    tel = load(write_csv(_with_gaps(frame)), nan_policy="drop")
    assert tel.features == [f for f in FEATURES if f != "queue_depth"]
    assert tel.X.shape == (300, 8) and tel.rows == 300
    assert any("queue_depth" in note for note in tel.notes)


@pytest.mark.parametrize("policy", ["error", "fill_flag", "drop"])
@pytest.mark.parametrize("features", [FEATURES, ("time_of_day", "queue_depth")])
def test_nan_in_target_is_masked_under_every_policy(telemetry_csv, write_csv, policy, features):
    _, frame = telemetry_csv
    frame.loc[99, "jitter_ms"] = np.nan
    tel = load(write_csv(frame), features=features, nan_policy=policy)
    j = tel.targets.index("jitter_ms")
    assert not tel.observed[99, j] and tel.observed[:, j].sum() == 299 and tel.masked["jitter_ms"]["missing"] == 1
    assert tel.Y[99, j] == frame.loc[98, "jitter_ms"]              # the carried value, never scored
    assert any("jitter_ms" in note and "masked" in note for note in tel.notes)
    as_input = "jitter_ms" in features and policy != "drop"         # an input: carried and flagged, or dropped
    assert ("jitter_ms_missing" in tel.features) == as_input and ("jitter_ms" in tel.features) == as_input


def test_inf_in_target_is_refused(telemetry_csv, write_csv):
    _, frame = telemetry_csv
    frame.loc[99, "jitter_ms"] = np.inf
    path = write_csv(frame)
    with pytest.raises(DataError, match="infinite") as exc:
        load(path)
    assert_names(exc, path, "jitter_ms", row=100)


# --------------------------------------------------------------------------- oracle and fresh columns

def test_oracle_columns_loaded_but_refused_as_features(telemetry_csv, write_csv):
    _, frame = telemetry_csv
    for t in TARGETS:
        frame[f"oracle_next_{t}"] = frame[t].shift(-1).fillna(0.0)
    path = write_csv(frame)
    tel = load(path)
    assert not any(f.startswith("oracle") for f in tel.features)
    assert tel.oracle.shape == (300, 4)
    np.testing.assert_allclose(tel.oracle[:-1], frame[TARGETS].to_numpy()[1:])
    with pytest.raises(DataError) as exc:
        load(path, features=FEATURES + ["oracle_next_rtt_ms"])
    assert_names(exc, path, "oracle_next_rtt_ms")


def test_fresh_mask(telemetry_csv, write_csv):
    _, frame = telemetry_csv
    age = np.arange(300) % 14
    frame["ping_age_s"] = age
    tel = load(write_csv(frame), fresh_column="ping_age_s", fresh_targets="rtt_ms, jitter_ms")
    assert tel.observed.shape == (300, 4) and tel.observed.dtype == bool
    held = [tel.targets.index("rtt_ms"), tel.targets.index("jitter_ms")]
    others = [tel.targets.index("throughput_mbps"), tel.targets.index("packet_loss")]
    for j in held:
        np.testing.assert_array_equal(tel.observed[:, j], age == 0)
    assert tel.observed[:, others].all()
    assert tel.masked["rtt_ms"]["stale"] == int((age != 0).sum()) and tel.masked["packet_loss"]["masked"] == 0
    assert "ping_age_s" not in tel.features


def test_fresh_column_errors(telemetry_csv, write_csv):
    _, frame = telemetry_csv
    path = write_csv(frame)
    with pytest.raises(DataError) as exc:
        load(path, fresh_column="ping_age_s", fresh_targets="rtt_ms")
    assert_names(exc, path, "ping_age_s")
    frame["ping_age_s"] = 0
    path = write_csv(frame, "with_age.csv")
    with pytest.raises(errors.ParameterError, match="signal_dbm"):
        load(path, fresh_column="ping_age_s", fresh_targets="signal_dbm")


def test_values_that_are_probably_errors_are_said_and_kept(make_frame, write_csv):
    """A glitch of 1e7 Mbit/s and negative RTTs would dominate every squared-error figure without a word."""
    frame = make_frame(rows=400)
    frame.loc[[10, 200], "throughput_mbps"] = 1e7
    frame.loc[range(50, 90), "rtt_ms"] = -5.0
    tel = load(write_csv(frame, "odd.csv"))
    glitch, below = (next(w for w in tel.suspect if w.startswith(t)) for t in ("throughput_mbps", "rtt_ms"))
    assert glitch.startswith("throughput_mbps has 2 values over 100 times its interquartile range") and "1e+07" in glitch
    assert below.startswith("rtt_ms is below zero on 40 rows (lowest -5)")
    assert tel.Y[10, tel.targets.index("throughput_mbps")] == 1e7 and tel.info()["suspect"] == tel.suspect   # kept
    assert load(write_csv(make_frame(rows=400), "plain.csv")).suspect == []


def test_suspect_values_are_found_in_a_target_measured_every_fourth_row_and_in_one_mostly_zero():
    """Sampled among the observed rows (an every-k-th sample of all rows can miss them all), with the middle 98 %
    standing in for the middle half of a target that is mostly one value."""
    from bwkit.data.columns import QUARTILE_SAMPLE, suspect_values

    rows = 4 * QUARTILE_SAMPLE + 4
    rng = np.random.default_rng(0)
    Y = np.column_stack([rng.gamma(2.0, 20.0, rows), np.where(rng.random(rows) < 0.9, 0.0, rng.random(rows) * 0.2)])
    seen = np.zeros((rows, 2), bool)
    seen[1::4, 0], seen[:, 1] = True, True
    Y[5, 0], Y[9, 0], Y[7, 1] = 1e7, -3.0, 1e7
    said = suspect_values(Y, seen, ["rtt_ms", "packet_loss"])
    assert [w.split(" ", 1)[0] for w in said] == ["rtt_ms", "rtt_ms", "packet_loss"]
    assert "1st-to-99th-percentile range" in said[2]
