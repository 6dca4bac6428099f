"""Missing values in a feature column: the fill rule training and serving share (`nan_policy="fill_flag"`)."""
from __future__ import annotations

import numpy as np

FILL_RULE = ("within a trace, the last valid value carried forward; a trace's first rows before any valid "
             "value: its first valid value; a trace with none: 0")


def fill_gaps(values: np.ndarray, trace: np.ndarray, carry: float = np.nan) -> np.ndarray:
    """`values` with missing entries (NaN, +-inf) filled by FILL_RULE, per contiguous `trace` id.

    carry: the last valid value seen before these rows in the first row's trace (a stream or a
    chunked read continues with it); NaN when there is none.
    """
    values = np.r_[carry, np.asarray(values, np.float64)]
    trace = np.r_[trace[:1], trace] if len(trace) else np.zeros(1, np.int64)
    n = len(values)
    valid = np.isfinite(values)
    positions = np.arange(n)
    begins = np.flatnonzero(np.r_[True, trace[1:] != trace[:-1]])
    first = np.repeat(begins, np.diff(np.r_[begins, n]))             # each row's trace start
    end = np.repeat(np.r_[begins[1:], n], np.diff(np.r_[begins, n]))  # and end (exclusive)
    last = np.maximum.accumulate(np.where(valid, positions, -1))
    upcoming = np.minimum.accumulate(np.where(valid, positions, n)[::-1])[::-1]
    out = np.where(last >= first, values[np.maximum(last, 0)], 0.0)
    backward = (last < first) & (upcoming < end)
    out[backward] = values[upcoming[backward]]
    return out[1:]


MAX_GAP_CADENCES = 3.0   # 02_train's max_gap_cadences default (its parameters cell), for metadata written before it
GAP_RULE = ("a window never spans a new trace_id or a step longer than max_gap_cadences x cadence_seconds "
            "(the median step within a trace); training, evaluation and serving all apply it")


def cadence_seconds(timestamps: np.ndarray, segment: np.ndarray, default: float | None = 60.0) -> float | None:
    """The median step between consecutive rows of one trace (segment: each row's trace, ids or labels): the data's
    cadence; `default` where no two rows share a trace."""
    steps = np.diff(timestamps)[segment[1:] == segment[:-1]]
    return float(np.median(steps)) if steps.size else default


def breaks(timestamps: np.ndarray, new_trace: np.ndarray, cadence: float, *, max_gap_cadences: float) -> np.ndarray:
    """bool [rows - 1]: no window may hold both row i and row i + 1 (GAP_RULE)."""
    return new_trace | (np.diff(timestamps) > max_gap_cadences * cadence)


def pieces(timestamps: np.ndarray, segment: np.ndarray, cadence: float, *, max_gap_cadences: float) -> np.ndarray:
    """int64 [rows]: an id per run of rows a window may span (one trace, no step over the gap limit)."""
    out = np.zeros(len(timestamps), np.int64)
    if len(timestamps) > 1:
        np.cumsum(breaks(timestamps, segment[1:] != segment[:-1], cadence, max_gap_cadences=max_gap_cadences),
                  out=out[1:])
    return out
