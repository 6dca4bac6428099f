"""The generator's contract: deterministic bytes, the legacy layout, and a dwcp profile
on which persistence fails the guide's rule while the oracle meets it."""
import hashlib

import numpy as np
import pandas as pd
import pytest

from bwkit import synth
from bwkit.data.loader import load_telemetry
from bwkit.errors import ParameterError
from bwkit.evaluation.metrics import target_metrics, verdict, average
from bwkit.runs.params import configure
from bwkit.schema import METRICS


def _defaults(**overrides):
    """01_generate_data's defaults (from its parameters cell), then `overrides`; no output."""
    config = {**configure(stage="01_generate_data"), **overrides}
    return {name: config[name] for name in ("samples", "seed", "profile", "start")}


def generate(**overrides):
    config = _defaults(**overrides)
    return synth.generate(config["samples"], config["seed"], config["profile"], start=config["start"])


def test_same_parameters_give_identical_bytes_and_another_seed_differs(tmp_path):
    a, b, c = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    synth.write_csv(generate(samples=2000, seed=42), a)
    synth.write_csv(generate(samples=2000, seed=42), b)
    synth.write_csv(generate(samples=2000, seed=43), c)
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()


@pytest.mark.parametrize("profile, samples, seed, start, sha256", [
    ("dwcp", 2000, 7, "2025-11-03T00:00:00Z",
     "263c3e6e0d0bc56978fc71b12c6d085c871beca856174601e604f35bb040d619"),
    ("legacy", 777, 3, "2024-02-28T23:00:00Z",
     "95787641f9a1f2e6e2320d86ad4d335eaddf57e302e284f805ef6bff8d251152"),
    # several oracle blocks, a start with seconds, across a year's end
    ("dwcp", 20001, 11, "1999-12-31T23:59:07Z",
     "c5ac5ac2293560e4cb5d6426c0e4801884d33f7b6a976c4317ea86bf64d2d904"),
    ("legacy", 1441, 5, "2025-11-03T00:00:00Z",
     "5a0f1367b07da01c81d3d1a203d4c2178fc3d36415647d08d1ab59046d808b9f"),
])
def test_the_bytes_are_pinned(tmp_path, profile, samples, seed, start, sha256):
    path = synth.write(tmp_path / "new" / "folder" / "data.csv", samples, seed, profile=profile, start=start)
    assert path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == sha256


def test_write_csv_writes_exactly_what_pandas_writes(tmp_path):
    """Rounding ties, powers of ten, subnormal and huge values, -0 and NaN, wide integers, labels;
    then text pandas would quote, which the writer leaves to pandas."""
    rng = np.random.default_rng(0)
    ties = (rng.integers(100000, 1000000, 3000) + 0.5) * 10.0 ** rng.integers(-12, 12, 3000)
    x = np.concatenate([ties, np.nextafter(ties, 0), np.nextafter(ties, np.inf), -ties,
                        rng.standard_normal(3000) * 10.0 ** rng.integers(-320, 300, 3000),
                        10.0 ** np.arange(-8, 9), [0.0, -0.0, np.nan, 5e-324, 99999.95, 999999.5, 1e300]])
    frame = pd.DataFrame({"x": x, "k": rng.integers(-10 ** 12, 10 ** 12, len(x)),
                          "s": np.where(rng.random(len(x)) < 0.5, "ab", "c-d")})
    for df in (frame, frame.assign(s=frame["s"].where(frame.index != 3, 'say "hi", bye'))):
        synth.write_csv(df, tmp_path / "fast.csv")
        df.to_csv(tmp_path / "pandas.csv", index=False, float_format="%.6g", lineterminator="\n", na_rep="")
        assert (tmp_path / "fast.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()


def test_every_generator_argument_is_required():
    with pytest.raises(TypeError):
        synth.generate(10, 42, "dwcp")  # no start


def test_profiles_come_from_the_registry():
    assert list(synth.PROFILES) == ["dwcp", "legacy"] and all(map(callable, synth.PROFILES.values()))


def test_start_is_a_parameter_not_the_clock():
    frame = generate(samples=3, start="2025-11-03T00:00:00Z")
    assert list(frame["timestamp"]) == ["2025-11-03T00:00:00Z", "2025-11-03T00:01:00Z", "2025-11-03T00:02:00Z"]
    assert frame["day_of_week"].iloc[0] == 0  # a Monday


@pytest.mark.parametrize("kwargs", [{"profile": "nope"}, {"samples": 0}, {"samples": 2.5},
                                    {"start": "yesterday-ish"}])
def test_bad_generator_parameters_are_refused(kwargs):
    with pytest.raises(ParameterError):
        generate(**{"samples": 10, **kwargs})


def test_legacy_profile_has_the_guides_22_columns_and_loads_through_the_aliases(tmp_path):
    frame = generate(samples=500, profile="legacy")
    assert list(frame.columns[:22]) == list(synth.LEGACY_COLUMNS) and len(synth.LEGACY_COLUMNS) == 22
    assert pd.api.types.is_integer_dtype(frame["timestamp"])
    path = tmp_path / "legacy.csv"
    synth.write_csv(frame.drop(columns=["throughput_mbps", "rtt_ms"]), path)  # aliases only
    train = configure(stage="02_train")  # its default features, targets and nan_policy
    telemetry = load_telemetry(path, train["features"], train["targets"], nan_policy=train["nan_policy"])
    assert np.allclose(telemetry.Y[:, 0], frame["bandwidth_mbps"], rtol=1e-5)


def test_the_oracle_predicts_the_next_row_and_is_empty_on_the_last():
    frame = generate(samples=400)
    assert frame[list(synth.ORACLE_COLUMNS)].iloc[-1].isna().all()
    assert frame[list(synth.ORACLE_COLUMNS)].iloc[:-1].notna().all().all()


def test_dwcp_default_data_makes_the_guides_rule_mean_something():
    """The guide's rules on the default data: persistence fails the verdict, the oracle meets it."""
    frame = generate()
    test = np.arange(int(len(frame) * 0.85), len(frame))
    actual = frame.loc[test, list(METRICS)].to_numpy()
    persistence = frame.loc[test - 1, list(METRICS)].to_numpy()
    oracle = frame.loc[test - 1, list(synth.ORACLE_COLUMNS)].to_numpy()
    score = lambda p: average({t: target_metrics(actual[:, j], p[:, j]) for j, t in enumerate(METRICS)})  # noqa: E731
    assert not verdict(score(persistence))
    assert verdict(score(oracle)) and score(oracle)["correlation"] > 0.99
    physical = frame[list(METRICS)]
    assert (physical["throughput_mbps"] <= 1000).all() and physical["packet_loss"].between(0, 1).all()
    assert (physical["rtt_ms"] > 0).all() and (physical["jitter_ms"] >= 0).all()


@pytest.mark.parametrize("start", ["2300-01-01T00:00:00Z", "9999-12-31T23:59:00Z", "1600-01-01T00:00:00Z"])
def test_a_start_outside_the_times_pandas_can_hold_is_refused_before_any_stage(start):
    """01_generate_data wrote such a CSV (or failed in its plot with pandas' traceback) and 02_train refused it."""
    with pytest.raises(ParameterError, match="outside the times pandas can hold"):
        synth.parse_start(start)
    with pytest.raises(ParameterError, match="'start'"):
        configure({"start": start}, stage="01_generate_data")
