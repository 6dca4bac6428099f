"""bwkit.data.isotime: Arrow's fast path reads exactly what pandas reads, and leaves the rest to pandas."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from bwkit.data import isotime


def slow(values: pd.Series) -> np.ndarray:
    """The pandas path alone."""
    original = isotime._zoned_whole_seconds
    isotime._zoned_whole_seconds = lambda raw: None
    try:
        return isotime.iso_seconds(values)
    finally:
        isotime._zoned_whole_seconds = original


zones = st.sampled_from(["Z", "+00:00", "+02:00", "-05:30", "+0130", "-0800"])
times = st.datetimes(min_value=dt.datetime(1678, 1, 1), max_value=dt.datetime(2261, 12, 31))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(times, zones), min_size=1, max_size=20), st.booleans())
def test_zoned_whole_seconds_are_read_as_pandas_reads_them(stamps, space):
    text = pd.Series([t.replace(microsecond=0).isoformat(sep=" " if space else "T") + z for t, z in stamps])
    fast = isotime._zoned_whole_seconds(text)
    assert fast is not None or space   # Arrow reads the "T" form; pandas may take the other
    np.testing.assert_array_equal(isotime.iso_seconds(text), slow(text))


def test_what_arrow_does_not_read_goes_to_pandas_with_the_bad_value_marked():
    cases = [["2025-11-03T00:00:00"], ["2025-11-03"], ["2025-11-03T00:00:00.5Z"], ["2025-11-03T00:00:00Z", "soon"],
             ["2016-12-31T23:59:60Z"], ["2025-11-03T00:00:00Z", None]]
    for values in cases:
        raw = pd.Series(values)
        assert isotime._zoned_whole_seconds(raw) is None, values
        np.testing.assert_array_equal(isotime.iso_seconds(raw), slow(raw))
    assert np.isnan(isotime.iso_seconds(pd.Series(["2025-11-03T00:00:00Z", "soon"]))[1])
    assert isotime.iso_seconds(pd.Series(["2025-11-03T00:00:00.5Z"]))[0] == 1762128000.5
