"""Next-step predictions one row (or one batch of rows) at a time: what `bwkit serve` keeps per link.

    stream = predictor.stream(adaptive=True)
    stream.update(row)        # -> the prediction for the row one cadence after `row`, or None
    stream.update(rows)       # a batch: the same state and answer as its rows one by one
    stream.static             # with adaptive bands: that prediction with the validation-calibrated bands
"""
from __future__ import annotations

import numpy as np

from bwkit.data import Rows, breaks as window_breaks, parse_rows
from bwkit.errors import RunError
from bwkit.evaluation import Tracker
from bwkit.serving.predictor import Forecast, Predictor, carry_before, check_continues


def _window_at(forecast: Forecast, k: int) -> Forecast:
    """The forecast of window k alone, as `Predictor.single` reads it."""
    return Forecast(forecast.end[k:k + 1], forecast.timestamp[k:k + 1], forecast.pred[k:k + 1],
                    forecast.half[:, k:k + 1])


class Stream:
    """Next-step predictions one row at a time, equal to `Predictor.predict` on the same rows.

    `update(row)` keeps the last `window_size` rows of the current trace and returns the
    prediction for the row one cadence after `row` once it holds a full window (else None).
    A new `trace_id`, or a step longer than `max_gap_cadences` cadences, starts a new window.
    Filled columns carry their last valid value across the window, as in training.
    `update(rows)` with several rows leaves the stream as those rows one by one would (the
    adaptive bands learn from every row's miss) and answers as the last of them would.
    Nothing changes when a row is refused: a batch is taken whole or not at all.
    One difference with a whole-file batch: a trace's first rows before any valid value are
    back-filled from the first valid value *seen so far* (0 before any), never from a later row.
    """

    def __init__(self, predictor: Predictor, adaptive: bool = False):
        self.predictor, self.recipe = predictor, predictor.recipe
        self.tail, self.carry, self.rows_seen = Rows.empty(self.recipe), {}, 0
        self.tracker, self.pending = None, None   # adaptive bands: the tracker, and the last (prediction, scale)
        self.static = None                        # the last answer with the validation-calibrated bands
        if adaptive:
            if predictor.adaptive_table is None:
                raise RunError(f"{predictor.onnx_path}: its metadata has no adaptive band table; export it again")
            quantiles, gamma = predictor.adaptive_table
            self.tracker = Tracker(quantiles, predictor.levels, gamma)

    def update(self, row) -> dict | None:
        new = parse_rows(row, self.recipe, label=f"row {self.rows_seen + 1}")
        check_continues(self.tail, new, f"row {self.rows_seen + 1}")
        tail = self.tail.then(new) if len(self.tail) else new
        first = len(tail) - (len(new) if self.tracker is not None else 1)   # the windows whose predictions we need
        forecast = self.predictor.forecast(tail, self.carry, first=max(first, 0)) \
            if len(tail) >= self.recipe.window_size else None
        answer = forecast is not None and len(forecast.end) and forecast.end[-1] == len(tail) - 1
        if self.tracker is not None:
            self._learn(tail, new, forecast)
        cut = max(len(tail) - self.recipe.window_size, 0)        # keep one window's rows, carry the rest's values
        self.carry, self.tail = carry_before(tail, cut, self.carry), tail.take(slice(cut, None))
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

    def _learn(self, tail: Rows, new: Rows, forecast: Forecast | None) -> None:
        """Each new row a pending prediction was for (same trace, within the gap): count its misses, in time order;
        then the prediction for the row after the last is pending."""
        old = len(tail) - len(new)
        broken = np.r_[True, window_breaks(tail.timestamps, tail.trace[1:] != tail.trace[:-1],
                                           self.recipe.cadence_seconds, self.recipe.max_gap_cadences)]
        by_end = {}
        if forecast is not None and len(forecast.end):
            scale = np.concatenate(forecast.scale)
            by_end = {int(e): (forecast.pred[k].astype(np.float64), scale[k]) for k, e in enumerate(forecast.end)}
        pending = self.pending
        for c in range(old, len(tail)):
            if c > old:
                pending = by_end.get(c - 1)
            if pending is None or broken[c]:   # row c starts a new window: nothing predicted it
                continue
            i = c - old
            actual = np.array([new.values[t][i] if t in new.values else new.actual.get(t, [np.nan] * (i + 1))[i]
                               for t in self.predictor.targets], np.float64)
            pred, scale = pending
            self.tracker.observe(np.abs(actual - pred) / scale, np.isfinite(actual))
        self.pending = by_end.get(len(tail) - 1)
