"""One column of a telemetry table read and checked: numbers, times, traces, groups.

The loader's helpers (`bwkit.data.loader`): every refusal is a `DataError` naming the file,
the column and the row.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from bwkit.data.csvfile import Source, cut, name_list
from bwkit.data.isotime import datetime_seconds, is_unix, iso_seconds
from bwkit.errors import DataError

FLOAT32_MAX = float(np.finfo(np.float32).max)   # the model computes in float32
OUTSIDE_FLOAT32 = "is outside float32's range (+-3.4e38); the model computes in float32: rescale the column (other units)"
# pandas' timestamps (nanoseconds in an int64) cover 1677-09-21 to 2262-04-11; the plots convert to them.
TIME_RANGE = (pd.Timestamp.min.value / 1e9, pd.Timestamp.max.value / 1e9)


def _shown(value) -> str:
    return cut(repr(value.item() if isinstance(value, np.generic) else value))


def _where(path: Source, column, row=None) -> str:
    """"<file>, column 'x'" and, given a 0-based data row, ", row 3 (line 4)"."""
    place = f"{path}, column '{column}'"
    return place if row is None else f"{place}, {path.at(row)}"


def _numeric(frame: pd.DataFrame, column: str, path) -> np.ndarray:
    raw = frame[column]
    try:
        values = pd.to_numeric(raw, errors="coerce")
    except OverflowError:   # a Python integer past float64 (from JSON or a list of dicts): past float32 too
        row = next((i for i, v in enumerate(raw) if isinstance(v, int) and abs(v) > FLOAT32_MAX), 0)
        raise DataError(f"{_where(path, column, row)}: {cut(str(raw.iloc[row]))} {OUTSIDE_FLOAT32}") from None
    bad = values.isna() & raw.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"{_where(path, column, row)}: {_shown(raw.iloc[row])} is not a number")
    values = values.to_numpy(dtype=np.float64)
    huge = np.flatnonzero(np.isfinite(values) & (np.abs(values) > FLOAT32_MAX))
    if huge.size:
        row = int(huge[0])
        raise DataError(f"{_where(path, column, row)}: {values[row]:g} {OUTSIDE_FLOAT32}")
    return values


UNIX_MS_ABOVE = 1e11  # unix seconds reach 1e11 in the year 5138; larger numbers are milliseconds


def _timestamps(frame: pd.DataFrame, path, notes: list[str]) -> np.ndarray:
    """Float unix seconds (sub-second cadences keep their fractions)."""
    if "timestamp" not in frame:
        raise DataError(f"{path}: no 'timestamp' column (ISO 8601 or unix seconds); "
                        f"columns: {name_list(frame.attrs.get('header', frame.columns))}")
    raw = frame["timestamp"]
    given = datetime_seconds(raw)   # times already (a DataFrame read with parse_dates, datetimes)
    unix = given is None and is_unix(raw)
    seconds = given if given is not None else (pd.to_numeric(raw, errors="coerce").to_numpy(np.float64) if unix
                                               else iso_seconds(raw))
    bad = ~np.isfinite(seconds)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        value = raw.iloc[row]
        mixed = not unix and str(value).strip().lstrip("-").replace(".", "", 1).isdigit()
        numbers = ("the other rows' are numbers" if row == 0 or pd.isna(raw.iloc[0])
                   else "the first row's is a number")
        shown = "an empty cell" if pd.isna(value) else _shown(value)
        raise DataError(f"{_where(path, 'timestamp', row)}: {shown} is not an ISO 8601 time or unix seconds"
                        + (f" ({numbers}, so all must be)" if unix else "")
                        + (" (a number, where the first row's is an ISO 8601 time: write every row one way)"
                           if mixed else ""))
    if unix and np.median(np.minimum(np.abs(seconds), 1e300)) > UNIX_MS_ABOVE:   # no overflow in the mean of two
        seconds = seconds / 1000.0
        notes.append("timestamps read as unix milliseconds (values above 1e11) and converted to seconds")
    outside = np.flatnonzero((seconds < TIME_RANGE[0]) | (seconds > TIME_RANGE[1]))
    if outside.size:
        row = int(outside[0])
        raise DataError(f"{_where(path, 'timestamp', row)}: {_shown(raw.iloc[row])} is outside the times "
                        "pandas can hold (1677-09-21 to 2262-04-11); correct it (a placeholder date?)")
    return seconds


def _segments(frame: pd.DataFrame, path) -> tuple[np.ndarray, list[str]]:
    """Each row's trace (0, 1, ... in file order) and each trace's trace_id."""
    if "trace_id" not in frame:
        return np.zeros(len(frame), dtype=np.int64), ["(one trace)"]
    empty = frame["trace_id"].isna().to_numpy()
    if empty.any():
        row = int(np.flatnonzero(empty)[0])
        raise DataError(f"{_where(path, 'trace_id', row)}: empty; give every row its trace")
    ids = frame["trace_id"].astype(str).to_numpy()
    change = np.r_[False, ids[1:] != ids[:-1]]
    seen = set()
    for row in np.flatnonzero(np.r_[True, change[1:]]):  # the first row of each contiguous trace
        if ids[row] in seen:
            raise DataError(f"{_where(path, 'trace_id', int(row))}: trace {ids[row]!r} appears again after another "
                            "trace; keep each trace's rows together")
        seen.add(ids[row])
    return np.cumsum(change), [str(name) for name in ids[np.flatnonzero(np.r_[True, change[1:]])]]


def _groups(frame: pd.DataFrame, group_column: str) -> tuple[np.ndarray | None, list[str]]:
    """Each row's group id and the groups' names (first seen first); None without a group column."""
    if not group_column:
        return None, []
    codes, names = pd.factorize(frame[group_column].astype("string").fillna("(empty)"), sort=False)
    return codes.astype(np.int64), [str(n) for n in names]


def _check_order(frame: pd.DataFrame, timestamps: np.ndarray, segment: np.ndarray, *, path) -> None:
    """Within each trace, every row's time is after the previous row's."""
    same_trace = segment[1:] == segment[:-1]
    backwards = np.flatnonzero(same_trace & (np.diff(timestamps) <= 0))
    if backwards.size:
        row = int(backwards[0]) + 1
        now, before = frame["timestamp"].iloc[row], frame["timestamp"].iloc[row - 1]
        what = "repeats" if timestamps[row] == timestamps[row - 1] else "comes before"
        raise DataError(f"{_where(path, 'timestamp', row)}: {now} {what} the previous row's {before}; rows must be "
                        "sorted by time with one row per time step (within each trace)")


FAR_IQRS = 100          # a target value this many interquartile ranges beyond its middle half is suspect (or
                        # 1st-to-99th-percentile ranges beyond those, for a target that is mostly one value)
QUARTILE_SAMPLE = 1_000_000   # quartiles from at most this many evenly spaced observed values (bounded memory)


def suspect_values(Y: np.ndarray, observed: np.ndarray, targets: list[str]) -> list[str]:
    """Warnings, one per target, about values that are probably errors and would dominate every squared-error
    figure: a metric that cannot be negative (METRICS: throughput, RTT, loss, jitter) below zero, or values
    FAR_IQRS interquartile ranges beyond the middle half (a glitch, a unit change). The values are kept."""
    from bwkit.schema import METRICS

    said = []
    for j, target in enumerate(targets):
        column, seen = Y[:, j], observed[:, j]
        if target in METRICS and (negative := int(((column < 0) & seen).sum())):
            said.append(f"{target} is below zero on {negative:,} rows (lowest {column[seen].min():.4g}), which a "
                        f"{target} cannot be: check how it was logged; those rows weigh on every figure")
        measured = np.flatnonzero(seen)   # sampled among the observed rows: a target measured every k-th row counts
        sample = column[measured[::max(1, len(measured) // QUARTILE_SAMPLE)]]
        del measured
        if not sample.size:
            continue
        low, high = np.percentile(sample, [25, 75])
        middle = "interquartile range"
        if high == low:   # mostly one value (a loss that is mostly 0): the middle 98 % stands in for the middle half
            (low, high), middle = np.percentile(sample, [1, 99]), "1st-to-99th-percentile range"
        spread = high - low
        if spread > 0:
            far = ((column > high + FAR_IQRS * spread) | (column < low - FAR_IQRS * spread)) & seen
            if (count := int(far.sum())):
                extreme = column[far][np.argmax(np.abs(column[far] - (low + high) / 2))]
                said.append(f"{target} has {count:,} value{'s' if count > 1 else ''} over {FAR_IQRS} times its "
                            f"{middle} away from that range ({low:.4g} to {high:.4g}; the farthest "
                            f"{extreme:.4g}): a glitch or a change of units? Squared-error figures (MSE, skill, "
                            "intervals) are dominated by such rows")
    return said
