"""Rolling-origin evaluation: expanding windows in time order, every fold trained on its past only."""
import pytest

from bwkit.evaluation import rolling
from bwkit.errors import ParameterError


def test_folds_expand_in_time_and_never_train_on_their_test_block():
    splits = rolling.fold_splits(1000, 4)
    assert len(splits) == 4 and splits[0]["test"].start == 500 and splits[-1]["test"].stop == 1000
    for before, after in zip(splits, splits[1:]):
        assert before["test"].stop == after["test"].start            # blocks tile the second half
        assert after["train"].stop > before["train"].stop           # the past grows
    for s in splits:
        assert s["train"].stop == s["val"].start and s["val"].stop == s["test"].start   # val is the latest past
        assert s["val"].stop - s["val"].start >= 1


def test_too_many_folds_for_the_data_is_a_parameter_error():
    with pytest.raises(ParameterError, match="folds=300"):
        rolling.fold_splits(500, 300)


def test_every_fold_is_trained_and_scored_and_the_spread_is_summarised(tiny_run, tmp_path):
    from bwkit.training import trained
    from bwkit.runs.artifacts import RunFolder

    run = trained.load(tiny_run, log=lambda *a: None)
    files = RunFolder(tmp_path)
    per_fold = rolling.evaluate_folds(run.telemetry, run.saved["config"], 2, files=files, progress=False)
    assert set(per_fold["fold"]) == {1, 2} and (tmp_path / "folds" / "fold_2.pth").exists()
    assert {"LSTM", "persistence", "ridge"} <= set(per_fold[per_fold["fold"] == 1]["method"])
    windows = sum(len(w) for w in run.prepared.splits.values())
    assert per_fold.groupby("fold")["test rows"].first().sum() == windows - int(windows * rolling.FIRST_TRAIN)
    summary = rolling.summarise(per_fold)
    lstm = per_fold[(per_fold["method"] == "LSTM") & (per_fold["target"] == "average")]["correlation"]
    assert summary.loc["LSTM", ("correlation", "mean")] == pytest.approx(lstm.mean())
    assert summary.loc["LSTM", ("correlation", "std")] == pytest.approx(lstm.std(ddof=1))
    assert "Across 2 rolling-origin folds" in rolling.sentence(per_fold)


def test_too_many_folds_fail_the_run_at_the_data_check_before_any_training(tmp_path):
    import json

    from bwkit.pipeline import runner as pipeline
    from bwkit.errors import RunError

    from conftest import write_synthetic

    csv = write_synthetic(tmp_path / "data.csv", samples=300)   # a CSV of its own: no kernel generates it
    with pytest.raises(RunError, match="data check before 02_train: folds=1000"):
        pipeline.run({"data_path": str(csv), "epochs": 1, "folds": 1000}, run_id="folds", runs_root=tmp_path / "runs",
                     log=lambda *_: None)
    record = json.loads((tmp_path / "runs" / "folds" / "run.json").read_text())
    assert record["status"] == "failed" and record["stages"] == {}
