"""Text columns as byte matrices, and back: no Python object per row.

A generated column of a million timestamps or labels cost more as Python
strings (made, then converted to pandas' Arrow-backed ``str``, then encoded
again for the CSV) than the simulation that produced it.  Here a column is a
NUL-padded ``uint8`` matrix (one row per value) on the numpy side and an Arrow
string array on the pandas side.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

QUOTED = np.isin(np.arange(256), list(b',"\r\n\x00') + list(range(128, 256)))  # or not ASCII
TWO_DIGITS = np.array([list(b"%02d" % k) for k in range(100)], np.uint8)
ISO_YEARS = (np.datetime64("0001-01-01", "s").astype(np.int64),
             np.datetime64("10000-01-01", "s").astype(np.int64))


def str_array(matrix: np.ndarray):
    """pandas ``str`` array of the rows of a NUL-padded ASCII byte matrix (NULs only at the end)."""
    lengths = (matrix != 0).sum(axis=1)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    data = matrix[matrix != 0] if (lengths < matrix.shape[1]).any() else matrix.ravel()
    arrow = pa.Array.from_buffers(pa.large_string(), len(matrix),
                                  [None, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(data))])
    return pd.array(arrow, dtype="str")


def iso_stamps(ts: pd.DatetimeIndex):
    """``ts.strftime("%Y-%m-%dT%H:%M:%SZ")`` of UTC minutes, as a ``str`` array.

    Assembled from a table of the days spanned and a two-digit table (``strftime``
    took a second per million rows); outside years 1..9999, which numpy spells
    differently, ``strftime`` itself."""
    sec = ts.as_unit("s").asi8
    if not (ISO_YEARS[0] <= sec[0] and sec[-1] < ISO_YEARS[1]):
        return ts.strftime("%Y-%m-%dT%H:%M:%SZ")
    of_day, day = sec % 86400, sec // 86400
    dates = np.datetime_as_string(np.arange(day[0], day[-1] + 1).astype("M8[D]")).astype("S10")
    parts = [dates.view(np.uint8).reshape(-1, 10)[day - day[0]], b"T", TWO_DIGITS[of_day // 3600], b":",
             TWO_DIGITS[of_day // 60 % 60], b":", TWO_DIGITS[of_day % 60], b"Z"]
    return str_array(np.concatenate([np.broadcast_to(np.frombuffer(p, np.uint8), (len(sec), 1))
                                     if isinstance(p, bytes) else p for p in parts], axis=1))


def labels(names, codes: np.ndarray):
    """pandas ``str`` array of ``names[codes]`` (Arrow spells each code from its dictionary)."""
    arrow = pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(list(names), pa.large_string()))
    return pd.array(arrow.cast(pa.large_string()), dtype="str")


def byte_matrix(column: pd.Series):
    """A ``str`` column's values as a NUL-padded byte matrix; None if one is missing, empty,
    not ASCII, or holds a NUL, a quote, a comma or a line break (text pandas would quote)."""
    try:
        arrow = pa.array(column.array, type=pa.large_string())
    except (pa.ArrowException, TypeError, ValueError):
        return None
    if isinstance(arrow, pa.ChunkedArray):
        arrow = arrow.combine_chunks()
    if arrow.null_count or not len(arrow):
        return None
    offsets, data = _buffers(arrow)
    lengths = np.diff(offsets)
    if lengths.min() == 0:                                  # pandas may quote an empty field
        return None
    width = int(lengths.max())
    if (lengths == width).all():
        table, codes = data[offsets[0]:offsets[-1]].reshape(len(arrow), width), None
    else:                                                   # labels: spell each distinct value once
        encoded = pc.dictionary_encode(arrow)
        offsets, data = _buffers(encoded.dictionary)
        lengths = np.diff(offsets)
        index = offsets[:-1, None] + np.arange(width)
        table = np.where(np.arange(width) < lengths[:, None], data[np.minimum(index, len(data) - 1)], 0)
        table, codes = table.astype(np.uint8), encoded.indices.to_numpy(zero_copy_only=False)
    if QUOTED[data[offsets[0]:offsets[-1]]].any():
        return None
    return table if codes is None else table[codes]


def _buffers(arrow):
    """The value offsets and the bytes of a ``large_string`` Arrow array."""
    offsets = np.frombuffer(arrow.buffers()[1], np.int64)[arrow.offset:arrow.offset + len(arrow) + 1]
    return offsets, np.frombuffer(arrow.buffers()[2], np.uint8)
