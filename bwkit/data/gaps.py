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
