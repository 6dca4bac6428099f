"""Timestamps as text: unix numbers or ISO 8601, and ISO 8601 to unix seconds for a column of any length.

Times that all carry a zone and whole seconds (what loggers and the generator write) are
parsed by Arrow in C; anything else by pandas, which also marks each value it cannot read.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd


def _zoned_whole_seconds(raw: pd.Series) -> np.ndarray | None:
    """Unix seconds of ISO 8601 times that each carry a zone (Z or an offset) and whole seconds, parsed by
    Arrow without a Python string per row (pandas makes one for every row);
    None when any value is not one of those (pandas then reads the column, and names a bad value)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        nanoseconds = pc.cast(pa.array(raw, from_pandas=True), pa.timestamp("ns", tz="UTC")).cast(pa.int64())
    except (pa.ArrowException, TypeError, ValueError):
        return None
    if nanoseconds.null_count:
        return None
    nanoseconds = nanoseconds.to_numpy()
    seconds, fraction = np.divmod(nanoseconds, 1_000_000_000)
    return None if fraction.any() else seconds.astype(np.float64)   # a fraction: pandas' unit and arithmetic


def datetime_seconds(raw: pd.Series) -> np.ndarray | None:
    """Unix seconds of times given as times (what `pd.read_csv(parse_dates=...)`, `pd.Timestamp`, `datetime`
    and datetime64 give; UTC when naive), NaN where missing; None for a column of anything else."""
    if pd.api.types.is_datetime64_any_dtype(raw):
        parsed = raw if getattr(raw.dt, "tz", None) is None else raw.dt.tz_convert("UTC").dt.tz_localize(None)
    elif raw.dtype == object and len(raw) and all(isinstance(v, (dt.datetime, np.datetime64)) or v is None
                                                 for v in raw):
        parsed = pd.to_datetime(raw, utc=True, errors="coerce").dt.tz_localize(None)
    else:
        return None
    values = parsed.to_numpy()
    seconds = values.astype("datetime64[ns]").astype(np.int64) / 1e9
    seconds[np.isnat(values)] = np.nan
    return seconds


def iso_seconds(raw: pd.Series) -> np.ndarray:
    """Unix seconds of ISO 8601 times, NaN where a value is not one; exact at any resolution and in any year."""
    fast = _zoned_whole_seconds(raw)
    if fast is not None:
        return fast
    parsed = pd.to_datetime(raw, utc=True, errors="coerce", format="ISO8601")
    naive = parsed.dt.tz_localize(None).to_numpy()
    per_second = np.timedelta64(1, "s").astype(naive.dtype.str.replace("M8", "m8")).astype(np.int64)
    seconds = naive.view(np.int64) / per_second
    seconds[np.isnat(naive)] = np.nan
    return seconds


def is_unix(raw: pd.Series) -> bool:
    """Numbers (unix seconds or milliseconds): by the column's type, or else by its first value."""
    if pd.api.types.is_numeric_dtype(raw):
        return not pd.api.types.is_bool_dtype(raw)
    first = raw.first_valid_index() if pd.isna(raw.iloc[0]) else raw.index[0]   # no pass over the column
    return first is not None and bool(pd.notna(pd.to_numeric(raw.loc[first], errors="coerce")))


def iso(seconds: float) -> str:
    """Unix seconds as ISO 8601 in UTC, to the microsecond where there is a fraction."""
    stamp = pd.Timestamp(float(seconds), unit="s", tz="UTC")
    return stamp.strftime("%Y-%m-%dT%H:%M:%S" + (".%f" if stamp.microsecond else "") + "Z")
