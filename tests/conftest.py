"""Shared pytest fixtures for the bwkit test suite.

Sections:
  * Telemetry CSV fixtures (unit tests of bwkit)
  * Pipeline fixtures (one tiny `bwkit run`, shared by the pipeline and browser tests)
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bwkit.data import DEFAULT_FEATURES, DEFAULT_TARGETS

# ---------------------------------------------------------------------------
# Telemetry CSV fixtures
# ---------------------------------------------------------------------------

START = pd.Timestamp("2025-11-03T00:00:00Z")  # a Monday


def telemetry_frame(rows: int = 300, seed: int = 0, start=START) -> pd.DataFrame:
    """`rows` rows of default-schema telemetry, one per minute, ISO timestamps."""
    rng = np.random.default_rng(seed)
    stamps = pd.date_range(start, periods=rows, freq="min")
    frame = pd.DataFrame({"timestamp": stamps.strftime("%Y-%m-%dT%H:%M:%SZ")})
    frame["throughput_mbps"] = 500 + 50 * rng.standard_normal(rows)
    frame["rtt_ms"] = 40 + 5 * rng.standard_normal(rows)
    frame["packet_loss"] = rng.uniform(0, 0.01, rows)
    frame["jitter_ms"] = rng.uniform(1, 5, rows)
    frame["time_of_day"] = stamps.hour
    frame["day_of_week"] = stamps.dayofweek
    frame["congestion_window"] = rng.integers(100, 2000, rows)
    frame["queue_depth"] = rng.integers(0, 200, rows)
    frame["retransmits"] = rng.integers(0, 20, rows)
    assert list(frame.columns[1:]) == list(dict.fromkeys(DEFAULT_FEATURES + DEFAULT_TARGETS))
    return frame


@pytest.fixture
def make_frame():
    """make_frame(rows=300, seed=0, start=START) -> a default-schema DataFrame."""
    return telemetry_frame


@pytest.fixture
def write_csv(tmp_path):
    """write_csv(frame, name="t.csv") -> path of the frame written as CSV under tmp_path."""
    def write(frame: pd.DataFrame, name: str = "telemetry.csv"):
        path = tmp_path / name
        frame.to_csv(path, index=False)
        return path
    return write


@pytest.fixture
def telemetry_csv(write_csv):
    """A good 300-row default-schema CSV; returns (path, frame)."""
    frame = telemetry_frame()
    return write_csv(frame), frame


# ---------------------------------------------------------------------------
# Pipeline fixtures
# ---------------------------------------------------------------------------

TINY_RUN = {"samples": 500, "epochs": 2, "window_size": 8, "hidden_size": 8, "batch_size": 64}


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory):
    """(runs root, index.html) of one tiny end-to-end run with id 'tiny'."""
    from bwkit import pipeline

    root = tmp_path_factory.mktemp("runs")
    index = pipeline.run(TINY_RUN, run_id="tiny", runs_root=root, log=lambda *_: None)
    return root, index
