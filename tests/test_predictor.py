"""bwkit.serving.predictor, bwkit.data.rows, bwkit.serving.scoring and the Node.js consumer: serving agrees with training.

The served model here has everything a consumer could get wrong: legacy column names, two
traces, gaps filled and flagged (nan_policy="fill_flag", one at a trace's start), and the
predicted row's calendar among its inputs.
"""
from __future__ import annotations

import bz2
import gzip
import json
import lzma
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bwkit import cli
from bwkit.evaluation import MethodBands, uncertainty
from bwkit.data import read_table, rows as R
from bwkit.data.loader import load_telemetry
from bwkit.errors import DataError, RunError
from bwkit.evaluation.intervals import band_terms
from bwkit.training.model import predict
from bwkit.serving.predictor import Predictor
from bwkit.serving.scoring import score_csv
from bwkit.features.windows import prepare, window_all
from conftest import FEATURES, TARGETS, WITHOUT_TORCH, telemetry_frame, train_and_export, train_config

ROOT = Path(__file__).resolve().parents[1]
NODE = ROOT / "consumers" / "node"
WINDOW = 8


def served_frame() -> pd.DataFrame:
    """Two traces of one-minute rows with legacy names and gaps in queue_depth (the second trace opens with one)."""
    frames = []
    for trace, start in (("a", "2025-11-03T00:00:00Z"), ("b", "2025-11-05T07:00:00Z")):
        frame = telemetry_frame(rows=400, seed=len(frames), start=pd.Timestamp(start))
        frame.insert(1, "trace_id", trace)
        frames.append(frame)
    frame = pd.concat(frames, ignore_index=True).rename(columns={"throughput_mbps": "bandwidth_mbps"})
    frame["queue_depth"] = frame["queue_depth"].astype(float)
    frame.loc[[50, 51, 52, 300, 400, 401, 402], "queue_depth"] = np.nan
    return frame


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(Predictor, frame, torch model, Prepared) of a model trained for one epoch and exported as 04_export does."""
    folder = tmp_path_factory.mktemp("served")
    frame = served_frame()
    frame.to_csv(folder / "telemetry.csv", index=False)
    telemetry = load_telemetry(folder / "telemetry.csv", FEATURES, TARGETS, nan_policy="fill_flag")
    config = train_config(window_size=WINDOW, hidden_size=8, epochs=1, known_future=True, batch_size=64)
    prepared = prepare(telemetry, WINDOW, True)
    model = train_and_export(folder, telemetry, prepared, config)
    return Predictor.from_run(folder), frame, model, prepared


def _seconds(stamps: pd.Series) -> np.ndarray:
    return ((stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)).to_numpy()


def test_predictions_are_the_trained_models_on_every_window(served):
    predictor, frame, model, prepared = served
    out = predictor.predict(frame)
    windows = {name: len(w) for name, w in prepared.splits.items()}
    # every training window, plus the one after each trace's last row (no actual value there)
    assert len(out) == sum(windows.values()) + 2 and out[TARGETS[0]].isna().sum() == 2
    scored = out.dropna(subset=[TARGETS[0]])
    expected = np.concatenate([predict(model, w.X) for w in prepared.splits.values()])
    got = scored[[f"{t}_pred" for t in TARGETS]].to_numpy()
    assert (np.abs(got - expected).max(axis=0) / model.y_std.numpy() < 1e-5).all()   # per target, in its std
    actual = np.concatenate([w.Y for w in prepared.splits.values()])
    np.testing.assert_allclose(scored[TARGETS].to_numpy(), actual, rtol=1e-6)
    assert (scored[[f"{t}_lower_80" for t in TARGETS]].to_numpy() < got).all()
    assert (scored[[f"{t}_upper_95" for t in TARGETS]].to_numpy()
            > scored[[f"{t}_upper_80" for t in TARGETS]].to_numpy()).all()


def test_the_predicted_row_is_one_cadence_after_the_window(served):
    predictor, frame, _, _ = served
    out = predictor.predict(frame)
    last = pd.to_datetime(frame["timestamp"], utc=True)
    first_a = last.iloc[WINDOW - 1] + pd.Timedelta(minutes=1)
    assert out["timestamp"].iloc[0] == first_a and list(out["trace_id"].unique()) == ["a", "b"]
    assert predictor.next(frame.iloc[-WINDOW:])["timestamp"] == last.iloc[-1] + pd.Timedelta(minutes=1)


def irregular(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows with three missing (steps of two cadences, within the gap rule) and trace b's up to 15 s off."""
    rows = frame.drop(index=[100, 230, 500]).reset_index(drop=True)
    stamps = pd.to_datetime(rows["timestamp"], utc=True)
    shift = np.where(rows["trace_id"] == "b", np.random.default_rng(0).integers(-15, 16, len(rows)), 0)
    rows["timestamp"] = (stamps + pd.to_timedelta(shift, unit="s")).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return rows


def test_a_window_predicts_the_next_row_at_its_time_where_rows_are_missing_or_off_the_cadence(served, tmp_path):
    """As in training, a window predicts its trace's next row: a missing row (a step of two cadences, within the gap
    rule) or a row a little off the cadence is predicted at its own time, beside its own value, as the trained model
    predicts the windows training builds of the same file; only a window the rows end with is for one cadence on."""
    predictor, frame, model, _ = served
    rows = irregular(frame)
    rows.to_csv(tmp_path / "irregular.csv", index=False)
    telemetry = load_telemetry(tmp_path / "irregular.csv", FEATURES, TARGETS, nan_policy="fill_flag")
    windows = window_all(telemetry, WINDOW, True)[1]

    out = predictor.predict(rows)
    scored = out.dropna(subset=[TARGETS[0]])
    assert len(scored) == len(windows) and len(out) == len(windows) + 2   # the two traces' last windows: ahead
    np.testing.assert_array_equal(_seconds(scored["timestamp"]), telemetry.timestamps[windows.row])
    np.testing.assert_allclose(scored[TARGETS].to_numpy(), windows.Y, rtol=1e-6)
    got, expected = scored[[f"{t}_pred" for t in TARGETS]].to_numpy(), predict(model, windows.X)
    assert (np.abs(got - expected).max(axis=0) / model.y_std.numpy() < 1e-5).all()
    after = out.drop(index=scored.index)   # for one cadence after each trace's last row
    last = pd.to_datetime(rows.groupby("trace_id")["timestamp"].last(), utc=True)
    assert list(after["timestamp"]) == list(last + pd.Timedelta(minutes=1))

    score_csv(predictor, tmp_path / "irregular.csv", tmp_path / "out.csv", block_bytes=4096)   # blocks: the same
    in_blocks = pd.read_csv(tmp_path / "out.csv")
    assert list(in_blocks["timestamp"]) == list(out["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"))


def test_the_stream_gives_exactly_the_batch_predictions(served):
    predictor, frame, _, _ = served
    batch = predictor.predict(frame)
    stream = predictor.stream()
    answers = [stream.update(row) for row in frame.to_dict("records")]
    got = pd.DataFrame([a for a in answers if a is not None])
    assert sum(a is None for a in answers) == 2 * (WINDOW - 1)   # each trace fills its first window
    columns = [c for c in batch.columns if c.endswith(("_pred", "_80", "_95"))]
    np.testing.assert_array_equal(got[columns].to_numpy(), batch[columns].to_numpy())
    assert (got["timestamp"].to_numpy() == batch["timestamp"].to_numpy()).all()


def test_a_long_gap_starts_a_new_window_in_batch_and_stream(served):
    predictor, frame, _, _ = served
    rows = frame[frame.trace_id == "a"].drop(columns="trace_id").iloc[:40].copy()
    stamps = pd.to_datetime(rows["timestamp"], utc=True)
    stamps.iloc[20:] += pd.Timedelta(minutes=10)   # 11 minutes between rows 19 and 20: over 3 cadences
    rows["timestamp"] = stamps.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    batch = predictor.predict(rows)
    assert len(batch) == (20 - WINDOW + 1) * 2
    stream = predictor.stream()
    answers = [stream.update(r) for r in rows.to_dict("records")]
    assert [a is None for a in answers[20:20 + WINDOW]] == [True] * (WINDOW - 1) + [False]
    np.testing.assert_array_equal([a["rtt_ms_pred"] for a in answers if a], batch["rtt_ms_pred"].to_numpy())


def test_plain_dicts_take_the_fast_path_to_the_full_checks_answer(served):
    predictor, frame, _, _ = served
    rows = frame[frame.trace_id == "a"].drop(columns="trace_id").iloc[100:100 + WINDOW]
    assert R._fast(rows.to_dict("records"), predictor.recipe) is not None
    checked = predictor.next(rows)   # a DataFrame: every check of the loader
    as_iso = predictor.next(rows.to_dict("records"))
    numeric = rows.assign(timestamp=_seconds(pd.to_datetime(rows["timestamp"], utc=True)))
    as_seconds = predictor.next(numeric.to_dict("records"))
    as_millis = predictor.next(numeric.assign(timestamp=numeric["timestamp"] * 1000).to_dict("records"))
    assert checked == as_iso == as_seconds == as_millis


@pytest.mark.parametrize("change, message", [
    (lambda f: f.drop(columns="rtt_ms"), "column 'rtt_ms': not found"),
    (lambda f: f.iloc[:WINDOW - 1], f"the model reads windows of {WINDOW} rows"),
    (lambda f: f.assign(jitter_ms=f["jitter_ms"].where(f.index != 3)), "column 'jitter_ms', row 4"),
    (lambda f: f.iloc[[0, 2, 1, 3, 4, 5, 6, 7, 8]], "comes before the previous row's"),
    (lambda f: f.assign(rtt_ms=f["rtt_ms"].astype(str).where(f.index != 2, "fast")), "'fast' is not a number"),
])
def test_bad_rows_are_refused_with_the_loaders_messages(served, change, message):
    predictor, frame, _, _ = served
    rows = frame[frame.trace_id == "a"].drop(columns="trace_id").iloc[:20].reset_index(drop=True)
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        predictor.predict(change(rows))


def test_the_stream_refuses_a_row_back_in_time(served):
    predictor, frame, _, _ = served
    rows = frame.drop(columns="trace_id").to_dict("records")
    stream = predictor.stream()
    stream.update(rows[5])
    with pytest.raises(DataError, match="row 2: timestamp .* is not after"):
        stream.update(rows[4])


def test_scoring_a_csv_in_blocks_equals_predicting_it_whole(served, tmp_path):
    predictor, frame, _, _ = served
    frame.to_csv(tmp_path / "in.csv", index=False)
    counts = score_csv(predictor, tmp_path / "in.csv", tmp_path / "out.csv", block_bytes=3000, progress=False)
    written, whole = pd.read_csv(tmp_path / "out.csv"), predictor.predict(frame)
    assert counts == {"rows": len(frame), "predictions": len(whole), "output": str(tmp_path / "out.csv")}
    assert list(written.columns) == list(whole.columns)
    numbers = [c for c in whole.columns if c not in ("timestamp", "trace_id")]
    np.testing.assert_allclose(written[numbers].to_numpy(), whole[numbers].to_numpy(), rtol=1e-6)
    assert (pd.to_datetime(written["timestamp"], utc=True) == whole["timestamp"]).all()
    # a name ending .gz, .bz2 or .xz is compressed so, as the loader reads such a name (it was plain text under it),
    # with neither the partial file's name nor the time inside: the same rows, the same bytes
    for suffix, decompress in ((".gz", gzip.decompress), (".bz2", bz2.decompress), (".xz", lzma.decompress)):
        out = tmp_path / f"out.csv{suffix}"
        score_csv(predictor, tmp_path / "in.csv", out, block_bytes=3000, progress=False)
        first = out.read_bytes()
        assert decompress(first) == (tmp_path / "out.csv").read_bytes() and b".partial" not in first
        assert read_table(out)[0].shape == written.shape   # and the kit reads it back
        score_csv(predictor, tmp_path / "in.csv", out, block_bytes=3000, progress=False, force=True)
        assert out.read_bytes() == first
    with pytest.raises(DataError, match="name it .csv, .csv.gz, .csv.bz2 or .csv.xz"):
        score_csv(predictor, tmp_path / "in.csv", tmp_path / "out.zip", progress=False)


def test_scoring_names_the_files_row_and_line_in_a_later_block(served, tmp_path):
    predictor, frame, _, _ = served
    frame.to_csv(tmp_path / "in.csv", index=False)
    lines = (tmp_path / "in.csv").read_text().splitlines()
    lines[700] = lines[700] + ",9"
    (tmp_path / "in.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"row 700 \(line 701\): 12 fields where the header has 11"):
        score_csv(predictor, tmp_path / "in.csv", tmp_path / "out.csv", block_bytes=3000, progress=False)
    assert not (tmp_path / "out.csv").exists() and not list(tmp_path.glob("*.partial"))


def test_bwkit_predict_scores_a_runs_own_data(tiny_run, tmp_path, capsys):
    data = json.loads(tiny_run.metadata("v1").read_text())["data"]["path"]
    assert cli.main(["predict", str(tiny_run.root), data, "-o", str(tmp_path / "p.csv")]) == 0
    assert "predictions from 500 rows" in capsys.readouterr().out
    out = pd.read_csv(tmp_path / "p.csv")
    assert len(out) == 500 - WINDOW + 1 and out["throughput_mbps"].isna().sum() == 1
    assert cli.main(["predict", str(tiny_run.root), str(tmp_path / "none.csv"), "-o", str(tmp_path / "q.csv")]) == 1
    assert "none.csv: file not found" in capsys.readouterr().err
    fast = pd.read_csv(data)   # the same rows, ten seconds apart: another cadence than the model learned
    fast["timestamp"] = pd.to_datetime(fast["timestamp"]).iloc[0] + pd.to_timedelta(10 * fast.index, unit="s")
    fast.to_csv(tmp_path / "fast.csv", index=False)
    assert cli.main(["predict", str(tiny_run.root), str(tmp_path / "fast.csv"), "-o", str(tmp_path / "f.csv")]) == 1
    assert "rows are 10 s apart (the median step); the model learned from rows 60 s apart" in capsys.readouterr().err
    assert not (tmp_path / "f.csv").exists()
    if Path("/proc").is_dir():   # a folder no file can be made in, even by root: named as the user named it
        assert cli.main(["predict", str(tiny_run.root), data, "-o", "/proc/bwkit-predictions.csv"]) == 1
        assert "bwkit: /proc/bwkit-predictions.csv: cannot be written (" in capsys.readouterr().err


def test_a_run_folder_moved_elsewhere_is_scored_on_its_own_copy_of_the_data(tiny_run, tmp_path):
    """06_predict's default rows: where the run recorded another path (the folder was moved or copied to another
    machine, where that path is gone or holds another file), the run folder's own copy, when it is the file the model
    was trained on (sha256)."""
    from bwkit.runs import RunFolder

    copy = RunFolder(shutil.copytree(tiny_run.root, tmp_path / "moved"))
    model = Predictor.from_run(copy.root)
    assert model.data_path == str(copy.data) != model.metadata["data"]["path"]   # its own, where the original is too
    assert Path(Predictor.from_run(tiny_run.root).data_path).resolve() == tiny_run.data.resolve()   # and there
    gone = str(tmp_path / "gone" / "telemetry.csv")
    moved = Predictor(model.onnx_path, {**model.metadata, "data": {**model.metadata["data"], "path": gone}},
                      metadata_path=model.metadata_path)
    assert moved.data_path == str(copy.data)
    copy.data.write_text("timestamp,throughput_mbps\n")   # not the file it was trained on: the recorded path, which
    assert moved.data_path == gone                          # the loader then says is missing


def test_a_run_without_an_export_is_refused(tmp_path):
    with pytest.raises(RunError, match="run its 04_export stage first"):
        Predictor.from_run(tmp_path)
    with pytest.raises(RunError, match="nope: no such run folder"):
        Predictor.from_run(tmp_path / "nope")


def test_the_predictor_imports_and_runs_without_torch(tiny_run):
    code = WITHOUT_TORCH + f"""
import pandas as pd
from bwkit.serving.predictor import Predictor
p = Predictor.from_run({str(tiny_run.root)!r})
rows = pd.read_csv(p.metadata["data"]["path"]).iloc[:50]
print(len(p.predict(rows)), "torch" in sys.modules)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(50 - WINDOW + 1), "False"]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (the Node.js consumer needs it)")
def test_the_node_consumer_matches_the_predictor(served, tmp_path):
    if not (NODE / "node_modules" / "onnxruntime-node").is_dir():
        pytest.fail(f"{NODE}/node_modules is missing: run `make node` (npm ci there)")
    predictor, frame, _, _ = served
    frame = irregular(frame)   # the predicted row's time and calendar: the next row's, where the rows hold it
    frame.to_json(tmp_path / "rows.json", orient="records")
    result = subprocess.run(["node", str(NODE / "predict.js"), str(predictor.onnx_path), str(predictor.metadata_path),
                             str(tmp_path / "rows.json")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    theirs, ours = pd.DataFrame(json.loads(result.stdout)), predictor.predict(frame)
    assert len(theirs) == len(ours)
    np.testing.assert_array_equal(theirs["timestamp"].to_numpy(), _seconds(ours["timestamp"]))
    std = dict(zip(predictor.targets, predictor.metadata["scalers"]["targets"]["std"]))
    for column in theirs.columns.drop("timestamp"):
        target = next(t for t in predictor.targets if column.startswith(t + "_"))
        assert np.abs(theirs[column].to_numpy() - ours[column].to_numpy()).max() / std[target] < 1e-5, column


def _two_exports(tiny_run, folder: Path) -> Path:
    """A copy of the tiny run exported twice, as `papermill 04_export -p model_version v2` by hand leaves it."""
    copy = shutil.copytree(tiny_run.root, folder)
    meta = json.loads(tiny_run.metadata("v1").read_text())
    shutil.copy(tiny_run.onnx("v1"), copy / "bandwidth_lstm_v2.onnx")
    (copy / "model_metadata_v2.json").write_text(json.dumps({**meta, "onnx_file": "bandwidth_lstm_v2.onnx"}))
    return copy


def test_a_run_exported_twice_is_served_predicted_and_scored_by_the_version_asked_for(tiny_run, tmp_path, capsys):
    """bwkit serve had no --version and 06_predict no version: such a folder could be served by neither."""
    from bwkit.serving.service import Service

    copy = _two_exports(tiny_run, tmp_path / "twice")
    with pytest.raises(RunError, match="several exported models .* choose one with --version"):
        Predictor.from_run(copy)
    assert Service(copy, version="v2").predictor.onnx_path.name == "bandwidth_lstm_v2.onnx"
    data = json.loads(tiny_run.metadata("v1").read_text())["data"]["path"]
    assert cli.main(["predict", str(copy), data, "-o", str(tmp_path / "p.csv"), "--version", "v2"]) == 0


def test_the_consumer_notebook_scores_new_rows_and_shows_a_trace_break(tiny_run, tmp_path):
    """On the run's rows written with semicolons, as the loader reads them (the notebook read commas only), from a
    folder exported twice (the version asked for)."""
    import papermill

    out, data = tmp_path / "06.ipynb", json.loads(tiny_run.metadata("v1").read_text())["data"]["path"]
    pd.read_csv(data).to_csv(tmp_path / "semicolons.csv", sep=";", index=False)
    papermill.execute_notebook(str(ROOT / "notebooks" / "06_predict.ipynb"), str(out), kernel_name="python3",
                               parameters={"run_dir": str(_two_exports(tiny_run, tmp_path / "twice")), "version": "v2",
                                           "data_path": str(tmp_path / "semicolons.csv"), "rows": 200,
                                           "break_after": 100},
                               progress_bar=False, cwd=str(ROOT))
    text = "".join("".join(o.get("text", "")) for c in json.loads(out.read_text())["cells"] for o in c.get("outputs", []))
    assert "bandwidth_lstm_v2.onnx: windows of" in text
    assert f"{200 - WINDOW + 1} predictions as one trace, {200 - 2 * (WINDOW - 1)} as two" in text
    assert "identical to the batch: True" in text


def test_the_export_writes_the_recipe_into_the_metadata_and_the_onnx_file(tiny_run):
    import onnx

    meta = json.loads(tiny_run.metadata("v1").read_text())
    props = {p.key: json.loads(p.value) for p in onnx.load(str(tiny_run.onnx("v1"))).metadata_props}
    assert props["bwkit.recipe"] == meta["recipe"] and meta["opset"] == 17
    assert meta["recipe"]["features"] == meta["features"] and meta["recipe"]["cadence_seconds"] == 60.0
    assert [d["kind"] for d in meta["recipe"]["derivation"]][-31:] == ["next_hour"] * 24 + ["next_weekday"] * 7


def test_an_adaptive_stream_gives_the_bands_the_evaluation_scores(served):
    """Fed the test split row by row, the stream's learning bands are those 03_evaluate scores as "adaptive"."""
    predictor, frame, model, prepared = served
    test = prepared.splits["test"]
    rows = frame.iloc[test.row[0] - WINDOW:].to_dict("records")
    stream = predictor.stream(adaptive=True)
    answers = [a for a in map(stream.update, rows) if a is not None][:len(test)]
    predicted = predict(model, test.X)
    shipped = MethodBands.from_dict(predictor.bands)
    _, scale = band_terms(shipped, predictor.levels, test.X, features=prepared.features, targets=prepared.targets)
    expected = uncertainty.adaptive_multipliers(shipped, predictor.levels, prepared.targets, actual=test.Y,
                                                predicted=predicted, scale=scale, scored=None) * scale[None]
    for j, t in enumerate(prepared.targets):
        got = np.array([a[f"{t}_upper_95"] - a[f"{t}_pred"] for a in answers])
        np.testing.assert_allclose(got, expected[1, :, j], rtol=1e-5, atol=1e-9 * predictor.bands["scale"]["base"][t])
    static = predictor.predict(frame.iloc[test.row[0] - WINDOW:])
    assert not np.allclose(static[f"{TARGETS[0]}_upper_95"].to_numpy()[:len(test)],
                           [a[f"{TARGETS[0]}_upper_95"] for a in answers])


def test_a_stream_fed_batches_is_the_stream_fed_rows_one_by_one(served):
    """Adaptive bands too: a batch's rows each count their misses, in order, as single rows would."""
    predictor, frame, _, _ = served
    rows = frame.iloc[300:460].to_dict("records")   # a trace change at row 400, gaps filled on both sides
    single, batched = predictor.stream(adaptive=True), predictor.stream(adaptive=True)
    for start in range(0, len(rows), 13):
        part = rows[start:start + 13]
        assert batched.update(part) == [single.update(row) for row in part][-1]
        assert batched.static == single.static and (batched.tracker.rate == single.tracker.rate).all()
    assert batched.rows_seen == single.rows_seen == len(rows) and single.static is not None


def _state(stream) -> list:
    """What a stream keeps, arrays as their bytes (bit for bit, NaN included)."""
    tail = stream.tail
    return [stream.rows_seen, stream.filled(), stream.carry, stream.static, tail.timestamps.tobytes(),
            tail.trace.tolist(), {k: v.tobytes() for k, v in tail.values.items()},
            None if stream.tracker is None else stream.tracker.rate.tobytes(),
            None if stream.pending is None else [p.tobytes() for p in stream.pending]]


def test_a_stream_refuses_rows_of_another_cadence_once_they_fill_a_window(served):
    """Ten-second rows posted to a one-minute model were answered as if each were a minute later. Now the row that
    fills a window of them is refused, and the stream is as it was; a step now and then off the cadence passes."""
    from bwkit.serving.meters import reason

    predictor, frame, _, _ = served
    rows = frame.iloc[:WINDOW + 2].copy()
    start = pd.Timestamp(rows["timestamp"].iloc[0])
    fast = rows.assign(timestamp=[(start + pd.Timedelta(seconds=10 * i)).isoformat() for i in range(len(rows))])
    stream = predictor.stream()
    assert [stream.update(row) for row in fast.iloc[:WINDOW - 1].to_dict("records")] == [None] * (WINDOW - 1)
    before = _state(stream)
    with pytest.raises(DataError, match=f"the window ending at row {WINDOW}: rows are 10 s apart \\(the median step"
                                        f"\\); the model learned from rows 60 s apart") as refused:
        stream.update(fast.iloc[WINDOW - 1].to_dict())
    assert _state(stream) == before and reason(str(refused.value)) == "cadence"
    assert _state(stream) == before and "a new trace_id, or a step over 3 cadences, starts a new one" in str(refused.value)
    # a batch is judged window by window, as its rows one by one: here ten-second rows, then a window's worth of
    # one-minute rows it ends with
    later = pd.Timestamp(fast["timestamp"].iloc[-1])
    ends = rows.assign(timestamp=[(later + pd.Timedelta(minutes=1 + i)).isoformat() for i in range(len(rows))])
    batch = predictor.stream()
    with pytest.raises(DataError, match=f"the window ending at row {WINDOW}: rows are 10 s apart"):
        batch.update(pd.concat([fast, ends]).to_dict("records"))
    assert batch.rows_seen == 0
    odd = rows.copy()   # one row half a minute early: steps of 30 and 90 s around it, the median still a minute
    odd.loc[odd.index[3], "timestamp"] = (pd.Timestamp(odd["timestamp"].iloc[3]) - pd.Timedelta(seconds=30)).isoformat()
    assert predictor.stream().update(odd.to_dict("records")) is not None


@pytest.mark.parametrize("adaptive", [False, True])
def test_the_streams_lean_path_keeps_the_state_and_answers_of_its_general_path(served, adaptive):
    """A row that continues a full window takes the lean path (that window moved on by one row); turned off, the
    stream answers the same and keeps the same state, to the last bit: a trace change into gaps, filled and flagged
    gaps, a long gap, a step of several cadences within the gap rule, calendar inputs, adaptive bands."""
    predictor, frame, _, _ = served
    rows = frame.iloc[280:470].copy()   # gaps at 300 and 400-402 (trace b opens with them)
    stamps = pd.to_datetime(rows["timestamp"], utc=True)
    stamps[stamps.index >= 340] += pd.Timedelta(minutes=2)   # 3 minutes between rows 339 and 340: one window
    stamps[stamps.index >= 360] += pd.Timedelta(minutes=10)  # 11 minutes before row 360: a new window
    rows["timestamp"] = stamps.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    lean, general = predictor.stream(adaptive=adaptive), predictor.stream(adaptive=adaptive)
    general._next_window = lambda new: None
    taken, step = [], lean._step
    lean._step = lambda *args: taken.append(1) or step(*args)
    for row in rows.to_dict("records"):
        assert lean.update(row) == general.update(row)
        assert _state(lean) == _state(general)
    assert len(taken) > len(rows) / 2 and len(taken) < len(rows) - 3 * WINDOW
