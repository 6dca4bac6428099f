"""Raw telemetry rows for serving, checked with the loader's own rules.

`parse` takes what a consumer has (a DataFrame, a list of dicts, one dict) and returns
`Rows`: unix seconds, trace labels, and the raw columns a `Recipe` needs, as floats
(NaN where missing), plus the targets' actual values where the rows carry them.
Checks and messages are `bwkit.data.loader`'s (legacy aliases, timestamps, order, numbers),
so serving refuses what training refuses. A list of plain numeric dicts takes a
numpy-only fast path; anything it cannot vouch for goes through the full checks.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING
from operator import itemgetter
from pathlib import Path

import numpy as np
import pandas as pd

from bwkit.data import columns as data, loader
from bwkit.data.csvfile import Source, name_list
from bwkit.data.gaps import cadence_seconds
from bwkit.errors import DataError

if TYPE_CHECKING:   # the recipe is read, never built, here: data sits below features
    from bwkit.features import Recipe


@dataclass
class Rows:
    timestamps: np.ndarray            # float64 unix seconds
    trace: np.ndarray                 # object labels ("" without trace_id)
    values: dict[str, np.ndarray]     # each needed raw column, float64, NaN where missing
    actual: dict[str, np.ndarray]     # each target the rows carry, float64

    def __len__(self) -> int:
        return len(self.timestamps)

    def take(self, part) -> "Rows":
        return Rows(self.timestamps[part], self.trace[part], {k: v[part] for k, v in self.values.items()},
                    {k: v[part] for k, v in self.actual.items()})

    def then(self, later: "Rows") -> "Rows":
        """These rows followed by `later` (columns both have)."""
        join = np.concatenate   # np.r_ builds the same arrays at several times the cost (one window: microseconds)
        return Rows(join((self.timestamps, later.timestamps)), join((self.trace, later.trace)),
                    {k: join((v, later.values[k])) for k, v in self.values.items()},
                    {k: join((v, later.actual[k])) for k, v in self.actual.items() if k in later.actual})

    @classmethod
    def empty(cls, recipe: Recipe) -> "Rows":
        return cls(np.empty(0), np.empty(0, object), {c: np.empty(0) for c in recipe.columns},
                   {t: np.empty(0) for t in recipe.targets})


def _check_complete(values: dict, recipe: Recipe, source) -> None:
    """Columns the model has no missing flag for must be complete (the run's nan_policy)."""
    for column in recipe.columns:
        if column in recipe.flagged:
            continue
        bad = np.flatnonzero(~np.isfinite(values[column]))
        if bad.size:
            raise DataError(f"{source}, column '{column}', {source.at(int(bad[0]))}: missing (NaN or inf); the model "
                            "was trained without gaps in this column (no '_missing' flag): give every row a value")


def rows_from_frame(frame: pd.DataFrame, recipe: Recipe, source: Source) -> Rows:
    """Rows of a DataFrame as the CSV had it, with the loader's checks and messages."""
    frame = frame.copy(deep=False)
    if not len(frame):
        raise DataError(f"{source}: no rows")
    # legacy aliases, missing columns, oracles
    loader._resolve_columns(frame, recipe.columns, [], extra=[], path=source)
    timestamps = data._timestamps(frame, source, [])
    segment, _ = data._segments(frame, source)
    data._check_order(frame, timestamps, segment, path=source)
    values = {c: data._numeric(frame, c, source) for c in recipe.columns}
    _check_complete(values, recipe, source)
    actual = {t: data._numeric(frame, t, source) for t in recipe.targets if t in frame}
    trace = frame["trace_id"].astype(str).to_numpy(object) if "trace_id" in frame else np.full(len(frame), "", object)
    return Rows(timestamps, trace, values, actual)


def _fast_seconds(stamps: list) -> np.ndarray | None:
    """Unix seconds of all-number or all-plain-ISO timestamps; None for anything the full checks must see."""
    kinds = set(map(type, stamps))
    if kinds == {str}:
        text = np.array(stamps)
        chars = text.view("U1").reshape(len(stamps), -1)
        if chars.shape[1] < 10 or not ((chars[:, 4] == "-") & (chars[:, 7] == "-")).all():
            return None   # not date-first ISO 8601 (numpy would read "20251103" as a count)
        if (chars[:, 10:] == "+").any() or (chars[:, 10:] == "-").any():
            return None   # an offset: pandas applies it, numpy would only warn
        zulu = chars[:, -1] == "Z"
        if zulu.any():
            if not zulu.all():
                return None   # strings of several lengths, or Z on some only: the full path
            text = text.astype(f"U{chars.shape[1] - 1}")   # drops the final Z
        if text.dtype.itemsize // 4 > len("2025-11-03T00:00:00.123456"):
            return None   # digits below a microsecond: pandas keeps them, as training did
        try:   # microseconds: nanoseconds would wrap a year outside 1677-2262 round silently
            parsed = text.astype("datetime64[us]")
        except ValueError:
            return None
        if np.isnat(parsed).any():
            return None
        seconds = parsed.astype(np.int64) / 1e6
        inside = (seconds >= data.TIME_RANGE[0]) & (seconds <= data.TIME_RANGE[1])
        return seconds if inside.all() else None   # the full path names the time it cannot hold
    if not all(issubclass(k, (int, float, np.integer, np.floating)) and not issubclass(k, bool) for k in kinds):
        return None
    seconds = np.array(stamps, np.float64)
    low, high = seconds.min(), seconds.max()               # NaN fails both tests below
    if low > data.UNIX_MS_ABOVE:                           # every one in milliseconds (the loader's rule)
        return seconds / 1000.0
    return seconds if high <= data.UNIX_MS_ABOVE else None   # a mix, or NaN: the full checks decide


def _keys(first: dict, recipe: Recipe) -> list[str]:
    """The key each needed column has in these rows (the loader's alias rule: a legacy name where the new is not)."""
    legacy = {name: alias for alias, name in recipe.aliases.items() if alias in first}
    return [c if c in first or c not in legacy else legacy[c] for c in recipe.columns]


def _fast_one(row: dict, recipe: Recipe) -> Rows | None:
    """`_fast` of one dict whose needed values are Python floats and ints, in Python floats (the same Rows, without
    numpy's cost per call). None: `_fast` decides."""
    try:
        raw, stamp = [row[key] for key in _keys(row, recipe)], row["timestamp"]
        values = [float(v) for v in raw if type(v) is float or type(v) is int]
    except (KeyError, OverflowError):
        return None
    if len(values) != len(raw) or "trace_id" in row:
        return None
    if type(stamp) is float or type(stamp) is int:
        seconds = float(stamp)
        seconds = seconds / 1000.0 if seconds > data.UNIX_MS_ABOVE else seconds   # the loader's milliseconds rule
    else:
        parsed = _fast_seconds([stamp])
        seconds = float(parsed[0]) if parsed is not None else math.nan
    if not data.TIME_RANGE[0] <= seconds <= data.TIME_RANGE[1] or \
            any(not math.isfinite(v) for v, c in zip(values, recipe.columns) if c not in recipe.flagged) or \
            any(math.isfinite(v) and abs(v) > data.FLOAT32_MAX for v in values):
        return None
    try:
        actual = {t: np.array([row[t]], np.float64) for t in recipe.targets if t in row}
    except (TypeError, ValueError):
        return None
    return Rows(np.array([seconds]), np.full(1, "", object),
                {c: np.array([v]) for c, v in zip(recipe.columns, values)}, actual)


def _fast(rows: list[dict], recipe: Recipe) -> Rows | None:
    """Plain dicts with every needed key and nothing to refuse: numpy only. None: take the full path."""
    if len(rows) == 1:
        one = _fast_one(rows[0], recipe)
        if one is not None:
            return one
    columns, first = recipe.columns, rows[0]
    keys = _keys(first, recipe)
    try:
        stamps = [r["timestamp"] for r in rows]
        table = np.array(list(map(itemgetter(*keys), rows)), np.float64).reshape(len(rows), -1)
    except (KeyError, TypeError, ValueError, OverflowError):
        return None
    timestamps = None if "trace_id" in rows[0] else _fast_seconds(stamps)
    if timestamps is None or not (data.TIME_RANGE[0] <= timestamps.min() and timestamps.max() <= data.TIME_RANGE[1]):
        return None
    complete = [j for j, c in enumerate(columns) if c not in recipe.flagged]
    if (timestamps[1:] <= timestamps[:-1]).any() or not np.isfinite(table[:, complete]).all() or \
            (np.abs(table[np.isfinite(table)]) > data.FLOAT32_MAX).any():   # the loader's range refusal
        return None
    actual = {}   # the targets the rows carry, as the full path keeps them
    for target in (t for t in recipe.targets if t in first):
        try:
            actual[target] = np.array([r[target] for r in rows], np.float64)
        except (KeyError, TypeError, ValueError):
            return None
    return Rows(timestamps, np.full(len(rows), "", object), {c: table[:, j] for j, c in enumerate(columns)},
                actual)


def parse_rows(rows, recipe: Recipe, label: str = "rows") -> Rows:
    """Rows from a DataFrame, a list of dicts (raw CSV columns, `timestamp`, optional `trace_id`) or one dict."""
    if isinstance(rows, Rows):
        return rows
    if isinstance(rows, dict):
        rows = [rows]
    if isinstance(rows, list):
        if not rows:
            raise DataError(f"{label}: no rows")
        fast = _fast(rows, recipe) if isinstance(rows[0], dict) else None
        if fast is not None:
            return fast
        if not all(isinstance(r, dict) for r in rows):
            raise DataError(f"{label}: expected dicts of column -> value, got "
                            f"{type(next(r for r in rows if not isinstance(r, dict))).__name__}")
        rows = pd.DataFrame.from_records(rows)
    if not isinstance(rows, pd.DataFrame):
        raise DataError(f"{label}: expected a DataFrame or a list of dicts, got {type(rows).__name__}")
    return rows_from_frame(rows.reset_index(drop=True), recipe, Source(Path(label), in_a_file=False))


CADENCE_TOLERANCE = 0.2   # the rows' median step may differ from the training cadence by this fraction at most


def require_cadence(rows: Rows, recipe: Recipe, label: str = "rows") -> None:
    """Rows about as far apart as the training data's (median step within a trace): a model that learned one-minute
    steps predicts one minute ahead, so ten-second rows would be scored as if each were a minute later."""
    require_step(cadence_seconds(rows.timestamps, rows.trace, default=None), recipe, label)


def require_step(step: float | None, recipe: Recipe, label: str) -> None:
    """`require_cadence` for a median step already known (None: no two rows of a trace, nothing to judge)."""
    cadence = recipe.cadence_seconds
    if step is not None and abs(step - cadence) > CADENCE_TOLERANCE * cadence:
        raise DataError(f"{label}: rows are {step:g} s apart (the median step); the model learned from rows "
                        f"{cadence:g} s apart and predicts the row {cadence:g} s ahead. Resample the rows to "
                        f"{cadence:g} s, or train a run on data of this cadence")


def require_window(rows: Rows, recipe: Recipe, label: str = "rows") -> None:
    """At least one full window."""
    if len(rows) < recipe.window_size:
        raise DataError(f"{label}: {len(rows)} row{'s' if len(rows) != 1 else ''}; the model reads windows of "
                        f"{recipe.window_size} rows (columns {name_list(recipe.columns)}): pass at least that many")
