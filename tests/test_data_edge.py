"""CSV layouts users bring that the default schema does not: sub-second cadences,
milliseconds, separators, gaps in trace ids, and the messages they get."""
import numpy as np
import pandas as pd
import pytest

from bwkit.data import DataError, load_telemetry
from bwkit.params import configure

NAN_POLICY = configure(stage="02_train")["nan_policy"]   # the default lives in 02_train's parameters cell


def load(path, features="x,y", targets="y", nan_policy=NAN_POLICY, **fresh):
    return load_telemetry(path, features, targets, nan_policy, **fresh)


def frame(rows=50, start=1_700_000_000.0, step=1.0):
    rng = np.random.default_rng(0)
    return pd.DataFrame({"timestamp": start + step * np.arange(rows), "y": rng.normal(size=rows),
                         "x": rng.normal(size=rows)})


def test_sub_second_timestamps_load_and_keep_their_fractions(tmp_path):
    path = tmp_path / "fast.csv"
    frame(step=0.5).to_csv(path, index=False)
    telemetry = load(path)
    assert np.allclose(np.diff(telemetry.timestamps), 0.5)


def test_unix_milliseconds_are_converted_and_said(tmp_path):
    path = tmp_path / "ms.csv"
    frame(start=1_700_000_000_000.0, step=1000.0).to_csv(path, index=False)
    telemetry = load(path)
    assert telemetry.timestamps[0] == 1_700_000_000.0 and "milliseconds" in telemetry.notes[0]


def test_a_repeated_timestamp_is_named_as_a_repeat(tmp_path):
    data = frame()
    data.loc[7, "timestamp"] = data.loc[6, "timestamp"]
    path = tmp_path / "dup.csv"
    data.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"column 'timestamp', row 8 \(line 9\): 1700000006.0 repeats"):
        load(path)


def test_a_semicolon_separated_file_loads(tmp_path):
    path = tmp_path / "semi.csv"
    frame().to_csv(path, index=False, sep=";")
    assert load(path).rows == 50


def test_an_empty_trace_id_is_named_not_mistaken_for_a_reappearing_trace(tmp_path):
    data = frame()
    data["trace_id"] = ["a"] * 25 + ["b"] * 25
    data.loc[30, "trace_id"] = None
    path = tmp_path / "trace.csv"
    data.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"column 'trace_id', row 31 \(line 32\): empty"):
        load(path)


def test_fill_flag_refuses_to_overwrite_an_existing_flag_column(tmp_path):
    data = frame()
    data.loc[3, "x"] = np.nan
    data["x_missing"] = 7.0
    path = tmp_path / "flag.csv"
    data.to_csv(path, index=False)
    with pytest.raises(DataError, match="'x_missing': already in the file"):
        load(path, nan_policy="fill_flag")


def test_fresh_targets_without_a_fresh_column_is_refused(tmp_path):
    path = tmp_path / "f.csv"
    frame().to_csv(path, index=False)
    with pytest.raises(DataError, match="needs fresh_column"):
        load(path, fresh_targets="y")
