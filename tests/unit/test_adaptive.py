"""bwkit.evaluation.adaptive: bands that learn from their misses hold their level where the data drifts."""
from __future__ import annotations

import numpy as np

from bwkit.evaluation import adaptive
from bwkit.evaluation import intervals


def test_the_table_holds_the_split_conformal_quantiles():
    rng = np.random.default_rng(0)
    residuals = rng.exponential(size=(997, 3))
    table = adaptive.table(residuals)
    q = intervals.calibrate(residuals, np.zeros_like(residuals), levels=(0.8, 0.95))
    np.testing.assert_array_equal(table[:, [800, 950]].T, q)
    assert (np.diff(table, axis=1) >= 0).all() and (table[:, 0] == 0).all()
    assert (table[:, -1] == residuals.max(axis=0)).all()


def test_lookup_is_never_narrower_and_stays_finite():
    table = adaptive.table(np.random.default_rng(1).exponential(size=(500, 2)))
    assert (adaptive.lookup(table, np.array([0.8004, 0.8004])) == table[:, 801]).all()
    assert (adaptive.lookup(table, np.array([1.3, -0.2])) == [table[0, -1], 0.0]).all()


def _drifting(rows=8000, seed=2):
    """Validation errors of scale 1, test errors whose scale doubles halfway: exchangeability broken."""
    rng = np.random.default_rng(seed)
    validation = rng.exponential(size=(3000, 2))
    test = rng.exponential(size=(rows, 2)) * np.where(np.arange(rows) < rows // 2, 1.0, 2.0)[:, None]
    return adaptive.table(validation), test


def test_under_drift_the_adaptive_bands_keep_their_level_and_the_static_ones_do_not():
    table, test = _drifting()
    levels = (0.8, 0.95)
    online = adaptive.replay(table, levels, test)
    static = adaptive.lookup(table, np.array(levels)[:, None] * np.ones(2))[:, None, :]
    for i, level in enumerate(levels):
        assert abs((test <= online[i]).mean() - level) <= adaptive.bound(len(test))
        assert (test <= static[i]).mean() < level - 0.05


def test_each_band_uses_only_the_misses_before_it():
    table, test = _drifting(rows=400)
    online = adaptive.replay(table, (0.9,), test)
    changed = test.copy()
    changed[200:] *= 10
    np.testing.assert_array_equal(adaptive.replay(table, (0.9,), changed)[:, :201], online[:, :201])


def test_unscored_rows_leave_the_rate_alone():
    table, test = _drifting(rows=300)
    scored = np.zeros(test.shape, bool)
    scored[:, 0] = True
    online = adaptive.replay(table, (0.8,), test, scored=scored)
    assert (online[0, :, 1] == online[0, 0, 1]).all() and len(np.unique(online[0, :, 0])) > 1


def test_a_tracker_fed_many_rows_at_once_keeps_the_rates_of_one_row_at_a_time():
    """observe_many (a service's batch) against observe row by row: the same rates to the last bit, unscored rows,
    NaN errors and a rate set from outside (a restored stream) included; the multipliers follow each rate."""
    table, test = _drifting(rows=300)
    test[5, 0] = np.nan
    scored = np.random.default_rng(3).random(test.shape) > 0.1
    one, many = adaptive.Tracker(table, (0.8, 0.95)), adaptive.Tracker(table, (0.8, 0.95))
    for error, counted in zip(test[:120], scored[:120]):
        one.observe(error, counted)
    many.observe_many(test[:120], scored[:120])
    assert (many.rate == one.rate).all() and (many.multipliers() == one.multipliers()).all()
    np.testing.assert_array_equal(one.multipliers(), adaptive.lookup(table, 1 - one.rate))
    many.rate = one.rate = np.full_like(one.rate, 0.3)
    for error, counted in zip(test[120:], scored[120:]):
        one.observe(error, counted)
    many.observe_many(test[120:], scored[120:])
    assert (many.rate == one.rate).all() and (many.multipliers() == adaptive.lookup(table, 1 - one.rate)).all()
