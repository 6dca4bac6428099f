"""Targets learned and scored where observed: a missing, held or invalid value gives no loss, no score and
no baseline fit, whatever number stands in for it."""
from __future__ import annotations

import numpy as np
import pytest

from bwkit.data import DataError, load_telemetry
from bwkit.errors import ParameterError
from bwkit.evaluation import baselines, evaluate
from bwkit.features import prepare
from bwkit.runs import configure
from bwkit.training import train

from conftest import telemetry_frame, train_config

DEFAULTS = configure(stage="02_train")


def gappy(tmp_path, rows=400, share=0.05, seed=3, columns=("rtt_ms", "jitter_ms")):
    """Default-schema telemetry with `share` of two targets missing at random (empty cells)."""
    frame = telemetry_frame(rows=rows, seed=seed)
    rng = np.random.default_rng(seed)
    for column in columns:
        frame.loc[rng.random(rows) < share, column] = np.nan
    path = tmp_path / "gappy.csv"
    frame.to_csv(path, index=False)
    return path, frame


def load_defaults(path, **changes):
    c = {**DEFAULTS, **changes}
    return load_telemetry(path, c["features"], c["targets"], nan_policy=c["nan_policy"], fresh_column=c["fresh_column"],
                          fresh_targets=c["fresh_targets"], valid_column=c["valid_column"],
                          valid_targets=c["valid_targets"])


def test_gappy_targets_load_with_the_defaults_and_say_how_many_rows_are_masked(tmp_path):
    path, frame = gappy(tmp_path)
    telemetry = load_defaults(path)
    for j, target in enumerate(telemetry.targets):
        missing = int(frame[target].isna().sum())
        assert telemetry.masked[target]["masked"] == missing == int((~telemetry.observed[:, j]).sum())
        assert any(f"target '{target}': {missing:,} of 400 rows masked" in n for n in telemetry.notes) == (missing > 0)
    assert {"rtt_ms_missing", "jitter_ms_missing"} <= set(telemetry.features)   # the inputs still see the gaps
    assert np.isfinite(telemetry.X).all() and np.isfinite(telemetry.Y).all()


def test_a_validity_column_masks_exactly_as_missing_values_do(tmp_path):
    path, frame = gappy(tmp_path, columns=("rtt_ms",))
    missing = frame["rtt_ms"].isna().to_numpy()
    frame["rtt_valid"] = (~missing).astype(int)
    frame["rtt_ms"] = frame["rtt_ms"].ffill().bfill()     # the previous value repeated, flagged 0
    frame.to_csv(tmp_path / "valid.csv", index=False)
    flagged = load_defaults(tmp_path / "valid.csv", valid_column="rtt_valid", valid_targets="rtt_ms")
    gaps = load_defaults(path)
    np.testing.assert_array_equal(flagged.observed, gaps.observed)
    assert flagged.masked["rtt_ms"]["invalid"] == missing.sum() and flagged.masked["rtt_ms"]["missing"] == 0
    assert "rtt_valid" not in flagged.features


def test_masking_parameters_are_checked_once_before_anything_runs():
    with pytest.raises(ParameterError, match="'valid_targets' .* needs 'valid_column'"):
        configure(sets=["valid_targets=rtt_ms"])
    with pytest.raises(ParameterError, match="not among the targets"):
        configure(sets=["valid_column=ok", "valid_targets=signal"])
    with pytest.raises(ParameterError, match="'fresh_column' .* needs 'fresh_targets'"):
        configure(sets=["fresh_column=age"])


def test_a_target_observed_on_too_few_rows_is_refused_with_the_reason(tmp_path):
    frame = telemetry_frame(rows=300)
    frame.loc[200:, "jitter_ms"] = np.nan     # none in validation or test
    frame.to_csv(tmp_path / "late.csv", index=False)
    telemetry = load_defaults(tmp_path / "late.csv")
    with pytest.raises(DataError, match=r"target 'jitter_ms' is observed on 0 of the \d+ val windows \(missing on 100"):
        prepare(telemetry, 10, False)


def _trained(telemetry, tmp_path, name):
    prepared = prepare(telemetry, 10, False)
    result = train.train_model(prepared, train_config(epochs=2, hidden_size=4, window_size=10), tmp_path / f"{name}.pth",
                               log_path=tmp_path / f"{name}.log", data_info=telemetry.info(), progress=False)
    return prepared, result


def test_masked_values_take_no_part_in_training_the_baselines_or_the_scores(tmp_path):
    """The number standing in for a masked value (the carried one, or any other) changes nothing."""
    path, _ = gappy(tmp_path, share=0.1)
    runs = []
    for stand_in in (None, 1e4):
        telemetry = load_defaults(path)
        if stand_in is not None:
            telemetry.Y = np.where(telemetry.observed, telemetry.Y, stand_in)
        prepared, result = _trained(telemetry, tmp_path, f"m{stand_in}")
        runs.append((telemetry, prepared, result, evaluate.evaluate(result.model, prepared, telemetry)))
    (_, _, first, ev_a), (_, _, second, ev_b) = runs
    for name, value in first.model.state_dict().items():
        assert np.array_equal(value.numpy(), second.model.state_dict()[name].numpy()), name
    assert first.history["val_loss"] == second.history["val_loss"]
    for method in ("LSTM", "ridge", "seasonal"):
        np.testing.assert_allclose(ev_a.predictions[method], ev_b.predictions[method], rtol=1e-9, err_msg=method)
        for target in ev_a.targets:   # skill divides by persistence, whose answer is the carried input value
            drop = lambda m: {k: v for k, v in m.items() if k != "skill"}   # noqa: E731
            np.testing.assert_equal(drop(ev_a.metrics[method][target]), drop(ev_b.metrics[method][target]))
    assert ev_a.intervals.methods["LSTM"].multiplier == ev_b.intervals.methods["LSTM"].multiplier
    j = ev_a.targets.index("rtt_ms")
    assert ev_a.scored[:, j].sum() < len(ev_a.rows) and any("rtt_ms is scored on the" in n for n in ev_a.notes)


def test_the_ridge_fits_each_target_on_its_observed_windows_only(tmp_path):
    path, _ = gappy(tmp_path, share=0.2)
    telemetry = load_defaults(path)
    prepared = prepare(telemetry, 10, False)
    train_split, val = prepared.splits["train"], prepared.splits["val"]
    masked = baselines.MaskedRidge(train_split, val)
    assert len(masked.fits) == 3            # throughput and loss share one (no mask); rtt and jitter their own
    j = telemetry.targets.index("rtt_ms")
    rows = np.flatnonzero(train_split.observed[:, j])
    subset = type(train_split)(train_split.X.take(rows), train_split.Y[rows][:, [j]], train_split.row[rows])
    vals = np.flatnonzero(val.observed[:, j])
    only = baselines.WindowRidge(subset, type(val)(val.X.take(vals), val.Y[vals][:, [j]], val.row[vals]))
    np.testing.assert_allclose(masked.predict(val.X)[:, j], only.predict(val.X)[:, 0], rtol=1e-10)
