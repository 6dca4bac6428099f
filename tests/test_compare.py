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


def test_a_run_missing_the_parameter_is_still_a_runner_up_and_integers_stay_integers(tiny_run, tmp_path):
    """A sweep run compared with a plain run: 'no runner-up finished' although it had, and 'samples=500.0'."""
    import json
    import shutil

    copies = [shutil.copytree(tiny_run.root, tmp_path / name) for name in ("a", "b")]
    record = json.loads((copies[1] / "run.json").read_text())
    record["parameters"].pop("hidden_size")   # as a run from before a parameter existed records it
    for name in ("samples", "profile", "start"):   # as a sweep's run records it: the data handed to it as a file
        record["parameters"].pop(name, None)
    (copies[1] / "run.json").write_text(json.dumps(record))
    runs = compare.load(copies)
    assert compare.differing(runs) == ["hidden_size"]   # how the data was made is its sha256's to say: the same
    table = compare.table(runs)
    assert table["hidden_size"].tolist().count(8) == 1 and "8.0" not in table.to_string()
    sentence = compare.verdict(table)
    assert "no runner-up" not in sentence and "one run each" in sentence


def test_runs_of_other_targets_or_data_are_not_ranked_and_a_sweep_where_nothing_finished_says_so():
    other = frame({1e-3: [0.10], 1e-2: [0.20]}).assign(targets=["rtt_ms", "rtt_ms,jitter_ms"])
    assert "not comparable" in compare.verdict(other)
    failed = frame({1e-3: [0.1], 1e-2: [0.2]}).assign(val_loss=np.nan, status="failed")
    assert compare.verdict(failed).startswith("No run finished")
