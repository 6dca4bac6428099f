"""Glue the notebooks share: default data on demand, a run folder read back."""
import pytest

from bwkit import stages
from bwkit.data import DataError


def test_missing_default_data_is_generated_once_and_said(tmp_path, monkeypatch):
    monkeypatch.setattr(stages, "default_data_path", lambda *args: tmp_path / "default.csv")
    said = []
    path = stages.ensure_data("", log=said.append)
    assert path == tmp_path / "default.csv" and path.stat().st_size > 100_000
    assert "generating the default dwcp data (15,000 rows, seed 42)" in said[0]
    said.clear()
    assert stages.ensure_data("", log=said.append) == path and not said
    assert stages.ensure_data("mine.csv").name == "mine.csv"


def test_a_run_whose_data_changed_since_training_is_refused(tmp_path):
    from bwkit import synth, train, windows
    from bwkit.data import load_telemetry

    csv = tmp_path / "d.csv"
    synth.write_csv(synth.generate(samples=300), csv)
    config = {"data_path": str(csv), "features": "throughput_mbps,rtt_ms", "targets": "rtt_ms",
              "nan_policy": "error", "window_size": 8, "known_future": False}
    telemetry = stages.load_data(config)
    prepared = windows.prepare(telemetry, 8)
    train.train_model(prepared, tmp_path, epochs=1, hidden_size=4, progress=False, config=config,
                      data_info=stages.data_info(telemetry))
    assert stages.load_run(tmp_path)[2].rows == 300
    synth.write_csv(synth.generate(samples=300, seed=9), csv)
    with pytest.raises(DataError, match="changed since training"):
        stages.load_run(tmp_path)
    assert load_telemetry(csv).rows == 300
