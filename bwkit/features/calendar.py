"""The calendar: the predicted row's hour of day and weekday, in UTC, as inputs and as a seasonal table.

One home for the calendar cell (`cell`: hour x 7 + weekday, 0 .. 167): the one-hot
channels of `known_future` models, the window array's one byte per row, the seasonal
baseline and the seasonal blend inside the model all index by it. numpy only.
"""
from __future__ import annotations

import numpy as np

CALENDAR_RULE = ("one-hot hour of day (24, next_hour_00..23) and weekday (7, next_weekday_0..6, Monday 0) in UTC "
                 "of the row after each row: hour = floor((t mod 86400) / 3600), weekday = (floor(t / 86400) + 3) "
                 "mod 7, t in unix seconds; the last row of a window carries the predicted row's: the next row's "
                 "time where the rows hold it (same trace, within the gap rule), else its own time plus the cadence)")


CALENDAR_FEATURES = tuple(f"next_hour_{h:02d}" for h in range(24)) + tuple(f"next_weekday_{d}" for d in range(7))


HOURS, WEEKDAYS = 24, 7
CELLS = HOURS * WEEKDAYS


def cell(hour, weekday):
    """The calendar cell of an hour of day and a weekday: the one place the (hour, weekday) -> 0 .. 167 order lives.

    Works on numpy arrays and torch tensors alike; `hour_of` and `weekday_of` undo it.
    """
    return hour * WEEKDAYS + weekday


def hour_of(cells):
    return cells // WEEKDAYS


def weekday_of(cells):
    return cells % WEEKDAYS


def one_hot_calendar(cells: np.ndarray) -> np.ndarray:
    """float32 [..., 24 + 7] of calendar cells (hour x 7 + weekday): the hour's and the weekday's channel set."""
    out = np.zeros((*np.shape(cells), HOURS + WEEKDAYS), np.float32)
    flat, cells = out.reshape(-1, HOURS + WEEKDAYS), np.asarray(cells, np.int64).ravel()
    at = np.arange(len(cells))
    flat[at, hour_of(cells)], flat[at, HOURS + weekday_of(cells)] = 1, 1
    return out


def hour_and_weekday(timestamps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hour of day (0-23) and weekday (Monday 0) of unix-second timestamps, in UTC."""
    hour = (timestamps % 86400) // 3600
    weekday = ((timestamps // 86400) + 3) % 7  # 1970-01-01 was a Thursday
    return hour.astype(np.int64), weekday.astype(np.int64)


def next_row_cells(timestamps: np.ndarray) -> np.ndarray:
    """Each row's *next* row's calendar cell, hour x 7 + weekday (uint8), known before that row is measured.

    Row r carries the calendar of row r+1, so the last step of a window carries the
    predicted row's. The last row repeats its own step forward (no window uses it).
    """
    step = np.diff(timestamps, append=timestamps[-1] + (timestamps[-1] - timestamps[-2] if len(timestamps) > 1 else 60))
    return calendar_cells(timestamps + step)


def calendar_cells(timestamps: np.ndarray) -> np.ndarray:
    """hour x 7 + weekday (uint8, 0 .. 167) of unix-second timestamps, in UTC."""
    return cell(*hour_and_weekday(np.asarray(timestamps, np.float64))).astype(np.uint8)


def calendar_of_next_row(timestamps: np.ndarray) -> np.ndarray:
    """Hour of day and weekday of the *next* row, one-hot (24 + 7 channels), known before it is measured.

    One-hot rather than sin/cos: a daily profile with steps (business hours, a
    weekend) is then one weight per hour, not a curve the network must bend.
    """
    return one_hot_calendar(next_row_cells(timestamps)).astype(np.float64)


def calendar_channels(next_timestamps: np.ndarray) -> np.ndarray:
    """One-hot [rows, 24 + 7] (CALENDAR_FEATURES, float32) of each row's next row, given that next row's unix seconds."""
    return one_hot_calendar(calendar_cells(next_timestamps))


def calendar_covered(timestamps: np.ndarray) -> bool:
    """Whether these (training) rows include every hour of day and every weekday, so no calendar input is unseen."""
    hour, weekday = hour_and_weekday(timestamps)
    return len(np.unique(hour)) == 24 and len(np.unique(weekday)) == 7


def _means(groups: np.ndarray, values: np.ndarray, size: int, *, observed: np.ndarray | None = None) -> np.ndarray:
    """Mean of `values` [rows, targets] per group 0 .. size - 1 (NaN for a group without rows).

    observed: bool [rows, targets]; each target's mean over its observed rows only.
    """
    if observed is None:
        counts = np.bincount(groups, minlength=size)[:, None]
        sums = np.column_stack([np.bincount(groups, weights=values[:, j], minlength=size)
                                for j in range(values.shape[1])])
    else:
        counts = np.column_stack([np.bincount(groups[observed[:, j]], minlength=size) for j in range(values.shape[1])])
        sums = np.column_stack([np.bincount(groups[observed[:, j]], weights=values[observed[:, j], j], minlength=size)
                                for j in range(values.shape[1])])
    with np.errstate(invalid="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


class SeasonalMean:
    """Mean of each target by (hour of day, weekday) over the training rows.

    A (hour, weekday) cell unseen in training falls back to the hour's mean, then to
    the overall mean. observed: bool [rows, targets]; a target's masked rows take no part.
    """

    def __init__(self, timestamps: np.ndarray, Y: np.ndarray, train_rows: np.ndarray,
                 *, observed: np.ndarray | None = None):
        self._fit(cell(*hour_and_weekday(timestamps[train_rows])), Y[train_rows],
                  None if observed is None else observed[train_rows])

    @classmethod
    def of_cells(cls, cells: np.ndarray, values: np.ndarray, observed: np.ndarray | None = None) -> "SeasonalMean":
        """The same, from each training row's calendar cell and targets (no timestamps needed)."""
        model = cls.__new__(cls)
        model._fit(cells, values, observed)
        return model

    def _fit(self, cells: np.ndarray, values: np.ndarray, observed: np.ndarray | None = None) -> None:
        """Means per cell and per hour as sums in row order over counts: what `values[mask].mean(axis=0)` adds."""
        values = np.asarray(values, np.float64)
        cells = np.asarray(cells, np.int64)
        if observed is not None and observed.all():
            observed = None   # the same numbers, by the unmasked sums
        self.overall = values.mean(axis=0) if observed is None else \
            np.array([values[observed[:, j], j].mean() for j in range(values.shape[1])])
        by_hour = _means(hour_of(cells), values, HOURS, observed=observed)
        by_cell = _means(cells, values, CELLS, observed=observed)
        self._table = np.where(np.isnan(by_cell),
                               np.repeat(np.where(np.isnan(by_hour), self.overall, by_hour), WEEKDAYS, 0), by_cell)

    def predict(self, timestamps: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return self._table[cell(*hour_and_weekday(timestamps[rows]))]

    def table(self) -> np.ndarray:
        """Every calendar cell's prediction, [CELLS, targets], in `cell` order."""
        return self._table.copy()
