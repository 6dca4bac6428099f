"""The generator's contract: deterministic bytes, the legacy layout, and a dwcp profile
on which persistence fails the guide's rule while the oracle meets it."""
import numpy as np
import pandas as pd
import pytest

from bwkit import synth
from bwkit.data import load_telemetry
from bwkit.metrics import target_metrics, verdict, average


def test_same_parameters_give_identical_bytes_and_another_seed_differs(tmp_path):
    a, b, c = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    synth.write_csv(synth.generate(samples=2000, seed=42), a)
    synth.write_csv(synth.generate(samples=2000, seed=42), b)
    synth.write_csv(synth.generate(samples=2000, seed=43), c)
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()


def test_start_is_a_parameter_not_the_clock():
    frame = synth.generate(samples=3, start="2025-11-03T00:00:00Z")
    assert list(frame["timestamp"]) == ["2025-11-03T00:00:00Z", "2025-11-03T00:01:00Z", "2025-11-03T00:02:00Z"]
    assert frame["day_of_week"].iloc[0] == 0  # a Monday


@pytest.mark.parametrize("kwargs", [{"profile": "nope"}, {"samples": 0}, {"start": "yesterday-ish"}])
def test_bad_generator_parameters_are_refused(kwargs):
    with pytest.raises(ValueError):
        synth.generate(**{"samples": 10, **kwargs})


def test_legacy_profile_has_the_guides_22_columns_and_loads_through_the_aliases(tmp_path):
    frame = synth.generate(samples=500, profile="legacy")
    assert list(frame.columns[:22]) == list(synth.LEGACY_COLUMNS) and len(synth.LEGACY_COLUMNS) == 22
    assert pd.api.types.is_integer_dtype(frame["timestamp"])
    path = tmp_path / "legacy.csv"
    synth.write_csv(frame.drop(columns=["throughput_mbps", "rtt_ms"]), path)  # aliases only
    telemetry = load_telemetry(path)
    assert np.allclose(telemetry.Y[:, 0], frame["bandwidth_mbps"], rtol=1e-5)


def test_the_oracle_predicts_the_next_row_and_is_empty_on_the_last():
    frame = synth.generate(samples=400)
    assert frame[list(synth.ORACLE_COLUMNS)].iloc[-1].isna().all()
    assert frame[list(synth.ORACLE_COLUMNS)].iloc[:-1].notna().all().all()


def test_dwcp_default_data_makes_the_guides_rule_mean_something():
    """Issue 3's rules on the default data: persistence fails the verdict, the oracle meets it."""
    frame = synth.generate()
    test = np.arange(int(len(frame) * 0.85), len(frame))
    actual = frame.loc[test, list(synth.TARGETS)].to_numpy()
    persistence = frame.loc[test - 1, list(synth.TARGETS)].to_numpy()
    oracle = frame.loc[test - 1, list(synth.ORACLE_COLUMNS)].to_numpy()
    score = lambda p: average({t: target_metrics(actual[:, j], p[:, j]) for j, t in enumerate(synth.TARGETS)})  # noqa: E731
    assert not verdict(score(persistence))
    assert verdict(score(oracle)) and score(oracle)["correlation"] > 0.99
    physical = frame[list(synth.TARGETS)]
    assert (physical["throughput_mbps"] <= 1000).all() and physical["packet_loss"].between(0, 1).all()
    assert (physical["rtt_ms"] > 0).all() and (physical["jitter_ms"] >= 0).all()
