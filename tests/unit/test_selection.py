"""Settings left to "auto" are chosen on validation: the right one for the data, explicit settings kept,
and the winner is exactly the model a fixed setting would have trained."""
import numpy as np
import pandas as pd
import pytest
import torch

from bwkit.runs import params
from bwkit.training import selection
from bwkit.training import train
from bwkit.data.loader import load_telemetry

from conftest import train_config

HOURS = 24 * 7 * 3   # three weeks of hourly rows: training covers every hour of day and weekday


def hourly_csv(tmp_path, kind: str, hours: int = HOURS, features: str = "y,z"):
    """'profile': i.i.d. noise around an hour-of-day step profile; 'walk': a slow random walk (tomorrow ~ today)."""
    rng = np.random.default_rng(3)
    stamps = pd.date_range("2025-11-03", periods=hours, freq="h", tz="UTC")
    if kind == "profile":
        y = np.where((stamps.hour >= 9) & (stamps.hour <= 17), 800.0, 300.0) + 200 * rng.standard_normal(hours)
    else:
        y = 500 + np.cumsum(10 * rng.standard_normal(hours))
    frame = pd.DataFrame({"timestamp": stamps.strftime("%Y-%m-%dT%H:%M:%SZ"), "y": y,
                          "z": rng.standard_normal(hours)})
    path = tmp_path / f"{kind}.csv"
    frame.to_csv(path, index=False)
    return load_telemetry(path, features, "y", nan_policy="error")


def config(**changes):
    return train_config(**{"features": "y,z", "targets": "y", "window_size": 6, "hidden_size": 8,
                           "residual": "auto", "known_future": "auto",
                           "select_epochs": 4, "epochs": 4, **changes})


def chosen(choice):
    return choice.config["residual"], choice.config["known_future"]


def test_a_daily_profile_gets_the_level_and_the_calendar_a_random_walk_the_residual(tmp_path):
    profile = selection.choose(hourly_csv(tmp_path, "profile"), config())
    assert chosen(profile) == (False, True)
    assert len(profile.record["candidates"]) == 4 and profile.record["asked"] == {
        "residual": "auto", "known_future": "auto", "linear_path": True}
    walk = selection.choose(hourly_csv(tmp_path, "walk"), config())
    assert chosen(walk)[0] is True
    losses = {(c["residual"], c["known_future"]): c["val_loss"] for c in walk.record["candidates"]}
    assert losses[chosen(walk)] == min(losses.values())
    assert "validation" in selection.selection_sentence(walk.record) and f"{losses[chosen(walk)]:.4f}" in walk.describe()


def test_explicit_settings_win_and_nothing_is_raced(tmp_path):
    choice = selection.choose(hourly_csv(tmp_path, "profile"), config(residual=True, known_future=False))
    assert chosen(choice) == (True, False) and choice.record is None and choice.fit.epoch == 0
    half = selection.choose(hourly_csv(tmp_path, "profile"), config(residual=True))
    assert [(c["residual"], c["known_future"]) for c in half.record["candidates"]] == [(True, False), (True, True)]


def test_the_linear_path_left_to_auto_is_judged_after_training_to_early_stopping_both_ways(tmp_path):
    telemetry = hourly_csv(tmp_path, "walk")
    choice = selection.choose(telemetry, config(residual=True, known_future=False, linear_path="auto", epochs=12,
                                                patience=3))
    candidates, finals = choice.record["candidates"], choice.record["linear_path"]
    assert [c["linear_path"] for c in candidates] == [True, False] and choice.record["epochs"] == 4
    assert {k: v["epochs"] > 4 for k, v in finals.items()} == {"true": True, "false": True}   # past the race
    kept = min(finals, key=lambda k: finals[k]["val_loss"])
    assert choice.config.linear_path is (kept == "true") and choice.fit.best_val == finals[kept]["val_loss"]
    assert next(c for c in candidates if c["chosen"])["linear_path"] is choice.config.linear_path
    assert (choice.fit.model.linear is not None) is choice.config.linear_path
    assert choice.fit.stalled or choice.fit.epoch == 12
    assert "with and without the linear path" in selection.selection_sentence(choice.record)


def test_the_calendar_is_not_offered_when_training_misses_hours_or_weekdays(tmp_path):
    choice = selection.choose(hourly_csv(tmp_path, "profile", hours=24 * 4), config())
    assert {c["known_future"] for c in choice.record["candidates"]} == {False}
    assert any("hour of day and weekday" in n for n in choice.record["notes"])


def test_the_winner_is_the_model_its_settings_would_have_trained_alone(tmp_path):
    telemetry = hourly_csv(tmp_path, "walk")
    choice = selection.choose(telemetry, config(epochs=6))
    raced = train.train_model(choice.prepared, choice.config, tmp_path / "a.pth", log_path=tmp_path / "a.log",
                              data_info=telemetry.info(), progress=False, fit=choice.fit, selection=choice.record)
    alone = train.train_model(choice.prepared, choice.config, tmp_path / "b.pth", log_path=tmp_path / "b.log",
                              data_info=telemetry.info(), progress=False)
    assert raced.history["val_loss"] == alone.history["val_loss"]
    for key, value in raced.model.state_dict().items():
        assert torch.equal(value, alone.model.state_dict()[key]), key
    saved = torch.load(tmp_path / "a.pth", weights_only=True)
    assert saved["selection"]["asked"]["residual"] == "auto" and saved["config"]["residual"] is True
    others = sum(c["chosen"] is False for c in saved["selection"]["candidates"])
    assert others and raced.training_time_seconds > alone.training_time_seconds * 0.5   # the race is counted
    assert "(selection)" in (tmp_path / "a.log").read_text()


@pytest.mark.parametrize("given, expected", [("auto", "auto"), ("AUTO", "auto"), ("true", True), ("no", False),
                                             (True, True), (False, False)])
def test_auto_switches_take_true_false_or_auto(given, expected):
    assert params.configure({"residual": given}, stage="02_train")["residual"] == expected
    with pytest.raises(params.ParameterError, match="True, False or 'auto'"):
        params.configure({"known_future": "sometimes"}, stage="02_train")


def test_training_refuses_a_setting_still_left_to_auto(tmp_path):
    from bwkit.features.windows import prepare

    telemetry = hourly_csv(tmp_path, "walk")
    with pytest.raises(params.ParameterError, match="selection.choose"):
        train.Fit(prepare(telemetry, 6, False), config(), "cpu")
    with pytest.raises(params.ParameterError, match="known_future must be True or False"):
        prepare(telemetry, 6, "auto")


def test_with_the_calendar_the_output_leans_on_the_seasonal_profile_only_where_validation_says_so(tmp_path):
    from bwkit.training.model import predict

    for kind, expect_high in (("profile", True), ("walk", False)):
        telemetry = hourly_csv(tmp_path, kind)
        # without the linear path, which learns the hour profile from the calendar channels by itself (and then
        # validation rightly asks less of the blend): the blend is what is tested here
        choice = selection.choose(telemetry, config(residual=kind == "walk", known_future=True, epochs=3,
                                                    linear_path=False))
        result = train.train_model(choice.prepared, choice.config, tmp_path / f"{kind}.pth",
                                   log_path=tmp_path / f"{kind}.log", data_info=telemetry.info(), progress=False,
                                   fit=choice.fit)
        weight = torch.load(tmp_path / f"{kind}.pth", weights_only=True)["blend"]["y"]
        assert (weight >= 0.5) if expect_high else (weight <= 0.3), (kind, weight)
        val = choice.prepared.splits["val"]
        blended = predict(result.model, val.X)
        result.model.blend.zero_()
        alone = predict(result.model, val.X)
        profile = result.model.seasonal_profile(torch.as_tensor(np.asarray(val.X))).numpy()
        np.testing.assert_allclose(blended, (1 - weight) * alone + weight * profile, rtol=1e-5, atol=1e-3)
        assert ((blended - val.Y) ** 2).mean() <= ((alone - val.Y) ** 2).mean() + 1e-9   # never worse on validation
    assert "blend with the training mean" in (tmp_path / "profile.log").read_text()


def test_residual_is_not_raced_when_a_target_is_not_among_the_inputs(tmp_path):
    choice = selection.choose(hourly_csv(tmp_path, "walk", features="z"), config(features="z"))
    assert {c["residual"] for c in choice.record["candidates"]} == {False}
    assert any("not every target is among the features" in n for n in choice.record["notes"])


def test_a_fit_trained_in_a_forked_process_comes_back_as_the_same_fit_trained_here(tmp_path):
    """The linear path's twin trains beside the leader in a forked process (where `side_by_side` allows): what comes
    back is, to the last bit, what training it in this process gives."""
    from bwkit.features import prepare

    telemetry = hourly_csv(tmp_path, "walk")
    settings = config(residual=True, known_future=False, linear_path=False, epochs=8, patience=3)
    prepared = prepare(telemetry, settings.window_size, False)
    here, there = (train.Fit(prepared, settings, "cpu") for _ in range(2))
    for fit in (here, there):
        fit.step()                                      # a race's epoch, before the twin goes on
    while here.epoch < settings.epochs and not here.stalled:
        here.step()
    if not selection.side_by_side(there):
        pytest.skip("this machine has one core: the twin trains in this process")
    selection.TrainedElsewhere(there, stop_file=None).finish()
    same = [k for k in here.history if k != "seconds"]   # the epochs' seconds are the clock's
    assert {k: there.history[k] for k in same} == {k: here.history[k] for k in same}
    assert len(there.history["seconds"]) == there.epoch == here.epoch and there.best_epoch == here.best_epoch
    assert there.best_val == here.best_val
    for key, value in here.best_state.items():
        assert torch.equal(there.best_state[key], value), key
    for key, value in here.model.state_dict().items():
        assert torch.equal(there.model.state_dict()[key], value), key


def test_the_selection_is_the_same_with_the_twin_trained_beside_the_leader_or_after_it(tmp_path, monkeypatch):
    telemetry = hourly_csv(tmp_path, "walk")
    settings = config(residual=True, known_future=False, linear_path="auto", epochs=12, patience=3)
    beside = selection.choose(telemetry, settings)
    monkeypatch.setattr(selection, "side_by_side", lambda fit: False)
    after = selection.choose(telemetry, settings)
    assert beside.record["linear_path"] == after.record["linear_path"]
    for key, value in after.fit.best_state.items():
        assert torch.equal(beside.fit.best_state[key], value), key
