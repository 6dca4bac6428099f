"""One window rule: on a trace with holes inside it, training, `bwkit predict` and `Predictor.stream()` build
the same windows (none spans a step longer than max_gap_cadences cadences)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bwkit import cli
from bwkit.data import load_telemetry
from bwkit.features import prepare
from bwkit.serving import Predictor

from conftest import FEATURES, TARGETS, telemetry_frame, train_and_export, train_config

WINDOW = 6
STEPS = {60: 10, 130: 4, 170: 3, 220: 7}   # row -> minutes since the row before it (the cadence is one minute)


@pytest.fixture(scope="module")
def holes(tmp_path_factory):
    """(run folder, CSV, the training windows' last rows' times) of a one-epoch model on a trace with holes."""
    folder = tmp_path_factory.mktemp("holes")
    frame = telemetry_frame(rows=300)
    stamps = pd.to_datetime(frame["timestamp"], utc=True)
    for row, minutes in STEPS.items():
        stamps.iloc[row:] += pd.Timedelta(minutes=minutes - 1)
    frame["timestamp"] = stamps.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    frame.to_csv(folder / "holes.csv", index=False)
    telemetry = load_telemetry(folder / "holes.csv", FEATURES, TARGETS, nan_policy="error")
    prepared = prepare(telemetry, WINDOW, False)
    config = train_config(window_size=WINDOW, hidden_size=4, epochs=1)
    train_and_export(folder, telemetry, prepared, config)
    rows = np.sort(np.concatenate([w.row for w in prepared.splits.values()]))
    return folder, frame, telemetry.timestamps[rows - 1]   # each training window's last row's time


def test_training_predict_and_the_stream_build_the_same_windows(holes, tmp_path):
    folder, frame, trained_ends = holes
    assert cli.main(["predict", str(folder), str(folder / "holes.csv"), "-o", str(tmp_path / "p.csv")]) == 0
    served = pd.read_csv(tmp_path / "p.csv")
    predicted, stamps = pd.to_datetime(served["timestamp"], utc=True), pd.to_datetime(frame["timestamp"], utc=True)
    known = served[TARGETS[0]].notna().to_numpy()   # windows whose predicted row is in the file, within the gap rule
    row = stamps.searchsorted(predicted[known])   # that row, predicted at its own time (4 minutes after a hole too)
    assert (stamps.iloc[row].to_numpy() == predicted[known].to_numpy()).all()
    ends = pd.Series(predicted - pd.Timedelta(minutes=1))   # a run's last window looks one cadence ahead
    ends[known] = stamps.iloc[row - 1].to_numpy()            # the others end at the row before the one they predict
    seconds = ((ends - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)).to_numpy()
    np.testing.assert_array_equal(seconds[known], trained_ends)
    assert (~known).sum() == 1 + sum(minutes > 3 for minutes in STEPS.values())   # each run's last window looks ahead

    stream = Predictor.from_run(folder).stream()   # the same windows, each answered before its next row comes
    answers = [stream.update(row) for row in frame.to_dict("records")]
    streamed = pd.to_datetime([a["timestamp"] for a in answers if a is not None], utc=True)
    np.testing.assert_array_equal(streamed, pd.to_datetime(ends + pd.Timedelta(minutes=1), utc=True))
