"""Timestamps given as times (pd.Timestamp, datetime, datetime64: what read_csv(parse_dates=...) gives) are read as
the times they are, by the one validator every path into the model shares; order errors print ISO 8601."""
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from bwkit.data import parse_rows
from bwkit.errors import DataError
from bwkit.features import Recipe

RECIPE = Recipe(2, ["a"], ["a"], [], 60.0)
START = pd.Timestamp("2026-03-01T00:00:00Z")


@pytest.mark.parametrize("kind", ["datetime64 utc", "datetime64 naive", "Timestamp objects", "datetime objects"])
def test_times_given_as_times_are_the_unix_seconds_they_are(kind):
    stamps = pd.date_range(START, periods=3, freq="min")
    column = {"datetime64 utc": stamps, "datetime64 naive": stamps.tz_localize(None),
              "Timestamp objects": pd.Series(list(stamps), dtype=object),
              "datetime objects": pd.Series([s.to_pydatetime() for s in stamps], dtype=object)}[kind]
    rows = parse_rows(pd.DataFrame({"timestamp": column, "a": [1.0, 2.0, 3.0]}), RECIPE)
    np.testing.assert_array_equal(rows.timestamps, START.timestamp() + 60.0 * np.arange(3))
    as_dicts = parse_rows([{"timestamp": t, "a": 1.0} for t in stamps], RECIPE)
    np.testing.assert_array_equal(as_dicts.timestamps, rows.timestamps)


def test_time_order_errors_name_both_times_in_iso_8601():
    stream_rows = [{"timestamp": dt.datetime(2026, 3, 1, 0, m, tzinfo=dt.timezone.utc), "a": 1.0} for m in (2, 1)]
    from bwkit.serving.predictor import check_continues

    first, second = (parse_rows(r, RECIPE) for r in stream_rows)
    with pytest.raises(DataError, match=r"2026-03-01T00:01:00Z is not after the previous row's 2026-03-01T00:02:00Z"):
        check_continues(first, second, "row 2")
