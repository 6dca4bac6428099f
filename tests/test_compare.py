"""bwkit.experiments.compare on tables whose answers are known: repeats, intervals, the best against the runner-up."""
import numpy as np
import pandas as pd
import pytest

from bwkit.experiments import compare


def frame(losses: dict[float, list[float]]) -> pd.DataFrame:
    rows = [{"run": f"r{i}-{k}", "status": "succeeded", "error": "", "learning_rate": lr, "seed": 42 + k,
             "val_loss": loss, "test correlation": 1 - loss, "test mape": 10 * loss}
            for i, (lr, values) in enumerate(losses.items()) for k, loss in enumerate(values)]
    return pd.DataFrame(rows)


def test_configurations_pool_the_repeats_with_mean_sd_and_a_t_interval():
    table = compare.configurations(frame({1e-3: [0.10, 0.12, 0.11], 1e-2: [0.30, 0.31, 0.29]}))
    assert table["learning_rate"].tolist() == [1e-3, 1e-2] and table["runs"].tolist() == [3, 3]
    assert table["val_loss mean"][0] == pytest.approx(0.11) and table["val_loss sd"][0] == pytest.approx(0.01)
    half = 4.302653 * 0.01 / np.sqrt(3)   # t(0.975, 2 degrees of freedom)
    assert table["val_loss 95% CI"][0] == f"[{0.11 - half:.4g}, {0.11 + half:.4g}]"


def test_a_clearly_better_configuration_is_distinguishable():
    sentence = compare.verdict(frame({1e-3: [0.10, 0.12, 0.11], 1e-2: [0.30, 0.31, 0.29]}))
    assert "learning_rate=0.001" in sentence and "is distinguishable from the runner-up" in sentence


def test_overlapping_configurations_are_not_distinguishable():
    sentence = compare.verdict(frame({1e-3: [0.10, 0.20, 0.15], 1e-2: [0.12, 0.19, 0.16]}))
    assert "not distinguishable" in sentence


def test_one_run_each_says_repeat_the_sweep():
    assert "--repeats 3" in compare.verdict(frame({1e-3: [0.1], 1e-2: [0.2]}))


def test_differing_ignores_where_and_keeps_what(tiny_run):
    runs = compare.load([tiny_run.root, tiny_run.root])
    assert compare.differing(runs) == [] and compare.table(runs)["val_loss"].notna().all()
