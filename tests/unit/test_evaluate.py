"""Evaluation on shapes beyond the default: one target, a held target with no fresh rows, masked targets."""
import numpy as np
import pandas as pd
import pytest

from bwkit.evaluation import evaluate
from bwkit.training import train
from bwkit.data.loader import DataError, load_telemetry
from bwkit.features.windows import prepare

from conftest import train_config


def csv(tmp_path, rows=300, age=None):
    rng = np.random.default_rng(1)
    y = np.cumsum(rng.normal(size=rows))
    data = pd.DataFrame({"timestamp": 1_700_000_000 + 60 * np.arange(rows), "y": y, "x": rng.normal(size=rows)})
    if age is not None:
        data["age"] = age
    path = tmp_path / "d.csv"
    data.to_csv(path, index=False)
    return path


def fit(telemetry, tmp_path):
    prepared = prepare(telemetry, 8, False)
    result = train.train_model(prepared, train_config(epochs=1, hidden_size=4), tmp_path / "m.pth",
                               log_path=tmp_path / "m.log", data_info=telemetry.info(), progress=False)
    return evaluate.evaluate(result.model, prepared, telemetry)


def test_a_single_target_is_scored_like_several(tmp_path):
    with pytest.warns(UserWarning, match="residual=True needs every target among the features"):
        ev = fit(load_telemetry(csv(tmp_path), "x", "y", nan_policy="error"), tmp_path)  # target not among the features
    assert ev.table()["target"].tolist()[:2] == ["y", "average"]
    assert all(p.shape == (len(ev.rows), 1) for p in ev.predictions.values())


def test_a_held_target_without_fresh_test_rows_gets_a_clear_error(tmp_path):
    age = np.r_[np.zeros(255), np.ones(45)]  # fresh until the test split begins (its first predicted row is 256)
    telemetry = load_telemetry(csv(tmp_path, age=age), "x,y", "y", nan_policy="error", fresh_column="age",
                               fresh_targets="y")
    with pytest.raises(DataError, match=r"target 'y' is observed on 0 of the 44 test windows \(stale on 45 rows\)"):
        fit(telemetry, tmp_path)   # refused when the windows are split, before any training
