"""Next-step predictions one row (or one batch of rows) at a time: what `bwkit serve` keeps per link.

    stream = predictor.stream(adaptive=True)
    stream.update(row)        # -> the prediction for the row one cadence after `row`, or None
    stream.update(rows)       # a batch: the same state and answer as its rows one by one
    stream.static             # with adaptive bands: that prediction with the validation-calibrated bands
"""
from __future__ import annotations

import math

import numpy as np

from bwkit.data import Rows, breaks as window_breaks, parse_rows, require_step
from bwkit.errors import DataError, RunError
from bwkit.evaluation import Tracker
from bwkit.serving.predictor import Forecast, Predictor, carry_before, check_continues


def _window_at(forecast: Forecast, k: int) -> Forecast:
    """The forecast of window k alone, as `Predictor.single` reads it."""
    return Forecast(forecast.end[k:k + 1], forecast.timestamp[k:k + 1], forecast.pred[k:k + 1],
                    forecast.half[:, k:k + 1])


def _carry_past_first(columns: list[str], first: list[float], carry: dict) -> dict:
    """`carry_before(rows, 1, carry)` for rows of one trace whose first row's values are `first`: each column's value
    there where valid, else its carry."""
    out = {}
    for column, value in zip(columns, first):
        if math.isfinite(value):
            out[column] = value
        elif column in carry:
            out[column] = carry[column]
    return out


class Stream:
    """Next-step predictions one row at a time, equal to `Predictor.predict` on the same rows where each comes one
    cadence after the one before (a stream predicts before the next row comes: for one cadence on, where `predict`,
    which holds that row, predicts it at its own time).

    `update(row)` keeps the last `window_size` rows of the current trace and returns the
    prediction for the row one cadence after `row` once it holds a full window (else None).
    A new `trace_id`, or a step longer than `max_gap_cadences` cadences, starts a new window.
    Filled columns carry their last valid value across the window, as in training.
    `update(rows)` with several rows leaves the stream as those rows one by one would (the
    adaptive bands learn from every row's miss) and answers as the last of them would.
    Nothing changes when a row is refused: a batch is taken whole or not at all.
    One difference with a whole-file batch: a trace's first rows before any valid value are
    back-filled from the first valid value *seen so far* (0 before any), never from a later row.

    A row that continues a full window of one trace (the usual case) takes a lean path with the
    same state and answer: the last window's input channels moved on by one row, one window run.
    Rows of another cadence are refused once they fill a window, as `Predictor.predict` refuses
    them: the window's median step more than 20 % off the training cadence (a step now and then
    off it passes).
    """

    def __init__(self, predictor: Predictor, adaptive: bool = False):
        self.predictor, self.recipe = predictor, predictor.recipe
        self.tail, self.carry, self.rows_seen = Rows.empty(self.recipe), {}, 0
        self.tracker, self.pending = None, None   # adaptive bands: the tracker, and the last (prediction, scale)
        self.static = None                        # the last answer with the validation-calibrated bands
        self._window = self._filled = None        # (tail, carry, its channels) and (tail, rows in its window)
        if adaptive:
            if predictor.adaptive_table is None:
                raise RunError(f"{predictor.onnx_path}: its metadata has no adaptive band table; export it again")
            quantiles, gamma = predictor.adaptive_table
            self.tracker = Tracker(quantiles, predictor.levels, gamma)

    def update(self, row) -> dict | None:
        new = parse_rows(row, self.recipe, label="rows given")   # a refused one is named by its place among them
        check_continues(self.tail, new, f"row {self.rows_seen + 1}")
        self._check_cadence(new)
        moved = self._next_window(new)
        if moved is not None:
            return self._step(new, *moved)
        tail = self.tail.then(new) if len(self.tail) else new
        first = len(tail) - (len(new) if self.tracker is not None else 1)   # the windows whose predictions we need
        forecast = self.predictor.forecast(tail, self.carry, first=max(first, 0), next_known=False) \
            if len(tail) >= self.recipe.window_size else None
        answer = forecast is not None and len(forecast.end) and forecast.end[-1] == len(tail) - 1
        if self.tracker is not None:
            self._learn(tail, new, forecast)
        cut = max(len(tail) - self.recipe.window_size, 0)        # keep one window's rows, carry the rest's values
        kept = tail.take(slice(cut, None))   # its inputs: an actual value is learnt as its row comes
        self.carry, self.tail = carry_before(tail, cut, self.carry), Rows(kept.timestamps, kept.trace, kept.values, {})
        self.rows_seen += len(new)
        if not answer:
            self.static = None
            return None
        last = _window_at(forecast, len(forecast.end) - 1)
        self.static = self.predictor.single(last)
        if self.tracker is not None:
            last.half = self.tracker.multipliers()[:, None, :] * self.pending[1][None, None]
            return self.predictor.single(last)
        return self.static

    def _check_cadence(self, new: Rows) -> None:
        """Every full window (one trace, no step over the gap limit) that ends at a row of `new` has its median step
        within the tolerance of the training cadence (`require_step`, the median as `gaps.cadence_seconds` takes it);
        else the rows are refused, nothing changed. Judged window by window, as the rows one by one would be. In
        plain Python: on a window's few numbers numpy's calls cost more than the arithmetic (it runs on every row)."""
        recipe, size = self.recipe, self.recipe.window_size
        if size < 2:
            return   # a window of one row has no step
        older = self.tail.timestamps[-(size - 1):].tolist()
        stamps, traces = older + new.timestamps.tolist(), self.tail.trace[-(size - 1):].tolist() + new.trace.tolist()
        steps = [later - earlier for earlier, later in zip(stamps, stamps[1:])]
        gap, last_break = recipe.max_gap_cadences * recipe.cadence_seconds, -1
        first_end = max(size - 1, len(older))   # the first row that is new and may end a full window
        for i, step in enumerate(steps):   # step i leads to row i + 1, which may end a window
            if step > gap or traces[i + 1] != traces[i]:
                last_break = i
            end = i + 1
            if end < first_end or last_break > end - size:
                continue   # not a new row, or its rows hold no full window: nothing is predicted from them
            ordered = sorted(steps[end - size + 1:end])
            median = (ordered[(size - 2) // 2] + ordered[(size - 1) // 2]) / 2
            try:
                require_step(median, recipe, f"the window ending at row {self.rows_seen + end - len(older) + 1}")
            except DataError as exc:
                raise DataError(f"{exc}. This window keeps the rows before it: a new trace_id, or a step over "
                                f"{recipe.max_gap_cadences:g} cadences, starts a new one") from None

    def filled(self) -> int:
        """Rows in the current window (since the last trace change or long gap), at most window_size."""
        tail, recipe = self.tail, self.recipe
        if self._filled is None or self._filled[0] is not tail:
            breaks = np.flatnonzero(window_breaks(tail.timestamps, tail.trace[1:] != tail.trace[:-1],
                                                  recipe.cadence_seconds, max_gap_cadences=recipe.max_gap_cadences))
            self._filled = (tail, len(tail) - (int(breaks[-1]) + 1 if breaks.size else 0))
        return self._filled[1]

    def _kept(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The tail's input channels [window, features] and raw values [window, columns] when it is one full window
        whose filled columns had a valid value before it (its fill is then the last valid value, which a next row
        carries on); None else. Kept from the last update while the tail and carry are its objects (a restore or a
        swap sets new ones: made again)."""
        tail, carry, kept = self.tail, self.carry, self._window
        if kept is not None and kept[0] is tail and kept[1] is carry:
            return kept[2], kept[3]
        if len(tail) != self.recipe.window_size or self.filled() != len(tail) or \
                any(column not in carry for column in self.recipe.flagged):
            return None
        raw = np.column_stack([tail.values[column] for column in self.recipe.columns])
        self._window = (tail, carry, self.predictor.inputs(tail, carry)[0], raw)
        return self._window[2], raw

    def _next_window(self, new: Rows) -> tuple[np.ndarray, np.ndarray] | None:
        """The channels and raw values of the window `new` completes when it is one row continuing `_kept`'s window
        (same trace, within the gap): that window moved on by one row. None: `update`'s general path."""
        recipe, tail = self.recipe, self.tail
        if len(new) != 1 or len(tail) != recipe.window_size or new.trace[0] != tail.trace[-1] or \
                new.timestamps[0] - tail.timestamps[-1] > recipe.max_gap_cadences * recipe.cadence_seconds:
            return None
        kept = self._kept()
        if kept is None:
            return None
        row = np.array([new.values[column][0] for column in recipe.columns], np.float64)
        stamp = float(new.timestamps[0])
        channels = recipe.roll(kept[0], row, (stamp, stamp + recipe.cadence_seconds))
        return channels, np.concatenate((kept[1][1:], row[None]))

    def _step(self, new: Rows, window: np.ndarray, raw: np.ndarray) -> dict:
        """`update` with one row that completes `window` (`_next_window`): the same state and answer."""
        predictor, tail, columns = self.predictor, self.tail, self.recipe.columns
        pred, half, scale = predictor.run_windows(window[None])
        if self.tracker is not None:
            if self.pending is not None:   # the new row is the one the last answer predicted
                self._observe(self._actual(new), self.pending[0][None], self.pending[1][None])
            self.pending = (pred[0].astype(np.float64), scale[0])
        dropped = self._window[3][0].tolist()   # the kept window's first row
        self.carry = _carry_past_first(columns, dropped, self.carry)
        self.tail = Rows(np.concatenate((tail.timestamps[1:], new.timestamps)), tail.trace,   # one trace: its labels
                         dict(zip(columns, raw.T)), {})
        self._window, self._filled = (self.tail, self.carry, window, raw), (self.tail, len(window))
        self.rows_seen += 1
        halves = [half[:, 0]] + ([self.tracker.multipliers() * scale[0]] if self.tracker is not None else [])
        answers = predictor.answers(float(new.timestamps[0]) + self.recipe.cadence_seconds, pred[0], *halves)
        self.static = answers[0]
        return answers[-1]

    def _actual(self, new: Rows) -> np.ndarray:
        """Each target's value [rows, targets] in `new` (NaN where the rows do not carry it)."""
        return np.column_stack([new.values[t] if t in new.values else new.actual.get(t, np.full(len(new), np.nan))
                                for t in self.predictor.targets]).astype(np.float64, copy=False)

    def _observe(self, actual: np.ndarray, pred: np.ndarray, scale: np.ndarray) -> None:
        """The adaptive bands count the misses of predictions and their scales [rows, targets] on the rows of actual
        [rows, targets] they were for, in time order."""
        errors, scored = np.abs(actual - pred) / scale, np.isfinite(actual)
        if len(actual) == 1:
            self.tracker.observe(errors[0], scored[0])
        else:
            self.tracker.observe_many(errors, scored)

    def _learn(self, tail: Rows, new: Rows, forecast: Forecast | None) -> None:
        """Each new row a pending prediction was for (same trace, within the gap): count its misses, in time order;
        then the prediction for the row after the last is pending."""
        old, targets = len(tail) - len(new), len(self.predictor.targets)
        broken = np.r_[True, window_breaks(tail.timestamps, tail.trace[1:] != tail.trace[:-1],
                                           self.recipe.cadence_seconds, max_gap_cadences=self.recipe.max_gap_cadences)]
        window = np.full(len(tail), -1)   # the forecast's window ending at each row, -1 for none
        pred, scale = np.empty((0, targets)), np.empty((0, targets))
        if forecast is not None and len(forecast.end):
            window[forecast.end] = np.arange(len(forecast.end))
            pred, scale = forecast.pred.astype(np.float64), np.concatenate(forecast.scale)
        rows = np.arange(old + 1, len(tail))
        rows = rows[(window[rows - 1] >= 0) & ~broken[rows]]   # else row r starts a new window: nothing predicted it
        at, pred_at, scale_at = rows - old, pred[window[rows - 1]], scale[window[rows - 1]]
        if self.pending is not None and not broken[old]:   # the first new row: the last update's prediction
            at = np.r_[0, at]
            pred_at, scale_at = (np.vstack([kept, part]) for kept, part in zip(self.pending, (pred_at, scale_at)))
        if len(at):
            self._observe(self._actual(new)[at], pred_at, scale_at)
        last = window[-1]
        self.pending = (pred[last].copy(), scale[last].copy()) if last >= 0 else None
