"""Bands that adapt online to their own misses: adaptive conformal inference (Gibbs & Candès, 2021).

Split-conformal bands (`bwkit.evaluation.intervals`) hold their level when test rows look like the
validation rows. Telemetry drifts: on the real 5G traces the test traces' errors are larger,
for the same spread in the window, than the validation traces', and the 80 % band covers
fewer rows. A service learns each actual value one step later, so it can correct: it keeps
one miscoverage rate a per level and target, starts at a = 1 - level, uses the validation
residuals' conformal quantile at level 1 - a as the band's multiplier, and after each actual
moves a by GAMMA x ((1 - level) - miss). Over any long stretch the share of misses then stays
within about 1 / (GAMMA x rows) of 1 - level, whatever the drift.

The validation quantiles travel as a table over levels 0, 0.001, ..., 1 (`table`), in units of
each row's scale, so a consumer needs no residuals. Nothing here reads the test split's
future: each band uses only the misses before it.
"""
from __future__ import annotations

import math

import numpy as np

GAMMA = 0.005        # step of the miscoverage rate per observed row (the authors' choice)
GRID = 1000          # the quantile table's levels: k / GRID, k = 0 .. GRID


def table(normalised: np.ndarray, scored: np.ndarray | None = None) -> np.ndarray:
    """Conformal quantiles [targets, GRID + 1] of validation |residual| / scale, at levels k / GRID.

    Level L: the ceil((n + 1) x L)-th smallest of the n scored values (the largest when that
    rank passes n), as `bwkit.evaluation.intervals.calibrate`.
    """
    normalised = np.asarray(normalised, np.float64)
    scored = np.ones(normalised.shape, bool) if scored is None else scored
    out = np.empty((normalised.shape[1], GRID + 1))
    for j in range(normalised.shape[1]):
        values = np.sort(normalised[scored[:, j], j])
        n = len(values)
        ranks = np.minimum(np.ceil((n + 1) * np.arange(GRID + 1) / GRID - 1e-9).astype(np.int64), n)
        out[j] = np.where(ranks >= 1, values[np.maximum(ranks - 1, 0)], 0.0)
    return out


def lookup(quantiles: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Multipliers at `level` [..., targets] from the table [targets, GRID + 1]: the entry at the next grid
    level up (never narrower); 0 at or below level 0; at or above level 1 the largest validation value
    (a band stays finite, so its width and score do too)."""
    k = np.clip(np.ceil(np.asarray(level, np.float64) * GRID - 1e-9), 0, GRID).astype(np.int64)
    return quantiles[np.arange(quantiles.shape[0]), k]


class Tracker:
    """The miscoverage rates [levels, targets] of one stream of predictions."""

    def __init__(self, quantiles: np.ndarray, levels, gamma: float = GAMMA):
        self.quantiles, self.gamma = np.asarray(quantiles, np.float64), gamma
        self.nominal = 1 - np.asarray(levels, np.float64)[:, None] * np.ones(self.quantiles.shape[0])
        self.rate = self.nominal.copy()
        self._looked_up = (None, None)   # (rate, its multipliers)

    def multipliers(self) -> np.ndarray:
        """[levels, targets], in units of each row's scale (read-only: looked up once per rate, and `observe` and
        `observe_many` set a new rate array, as a restore may)."""
        if self._looked_up[0] is not self.rate:
            multipliers = lookup(self.quantiles, 1 - self.rate)
            multipliers.flags.writeable = False
            self._looked_up = (self.rate, multipliers)
        return self._looked_up[1]

    def observe(self, normalised_error: np.ndarray, scored: np.ndarray | None = None) -> None:
        """After an actual arrives: |actual - predicted| / scale [targets]; `scored` False leaves a target as it was."""
        miss = (np.asarray(normalised_error)[None] > self.multipliers()).astype(np.float64)
        step = self.gamma * (self.nominal - miss)
        self.rate = self.rate + (step if scored is None else np.where(np.asarray(scored)[None], step, 0.0))

    def observe_many(self, normalised_errors: np.ndarray, scored: np.ndarray) -> None:
        """`observe` of each row of [rows, targets] in turn (`scored` [rows, targets]): the same rates, computed as
        `replay` computes them."""
        errors, scored, rate = np.asarray(normalised_errors, np.float64), np.asarray(scored, bool), self.rate.copy()
        for j in range(errors.shape[1]):
            table, column, counted = self.quantiles[j].tolist(), errors[:, j].tolist(), scored[:, j].tolist()
            for i in range(len(rate)):
                rate[i, j] = _walk(table, float(self.nominal[i, j]), float(rate[i, j]), errors=column, scored=counted,
                                   gamma=self.gamma)[1]
        self.rate = rate


def _walk(table: list[float], nominal: float, rate: float, *, errors: list[float], scored: list[bool],
          gamma: float) -> tuple[list[float], float]:
    """One level and target's multiplier on each row, in time order, from miscoverage `rate` on; and the rate after.
    Tracker's arithmetic on Python floats: the recursion is sequential."""
    hit, miss = float(gamma * (nominal - False)), float(gamma * (nominal - True))   # Tracker's two steps
    ceil, top, values = math.ceil, GRID, []
    append = values.append
    for error, counted in zip(errors, scored):
        k = ceil((1 - rate) * GRID - 1e-9)
        multiplier = table[0 if k < 0 else top if k > top else k]
        append(multiplier)
        if counted:
            rate += miss if error > multiplier else hit
    return values, rate


def replay(quantiles, levels, normalised_errors: np.ndarray, *, scored: np.ndarray | None = None,
           gamma: float = GAMMA) -> np.ndarray:
    """The multipliers [levels, rows, targets] a `Tracker` uses on each row of a test split, in time order.

    The same arithmetic as Tracker, one (level, target) at a time on Python floats (`_walk`):
    this keeps a million rows to about a second.
    """
    errors = np.asarray(normalised_errors, np.float64)
    scored = np.ones(errors.shape, bool) if scored is None else np.asarray(scored, bool)
    quantiles = np.asarray(quantiles, np.float64)
    out = np.empty((len(levels), *errors.shape))
    for i, level in enumerate(levels):
        nominal = 1 - np.float64(level)
        for j in range(errors.shape[1]):
            out[i, :, j] = _walk(quantiles[j].tolist(), nominal, float(nominal), errors=errors[:, j].tolist(),
                                 scored=scored[:, j].tolist(), gamma=gamma)[0]
    return out


def bound(rows: int, gamma: float = GAMMA) -> float:
    """Gibbs & Candès' guarantee: |miss share - (1 - level)| <= (1 + gamma) / (gamma x rows) over `rows` rows."""
    return math.inf if rows <= 0 else (1 + gamma) / (gamma * rows)
