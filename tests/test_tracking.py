"""Every run in MLflow, read back with MLflow's own client: the embedded SQLite store, a tracking server
started as `mlflow server` on 127.0.0.1, one that does not answer, a failed run, and the model card."""
import json
import os
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from bwkit import cli
from bwkit.experiments import Tracker, track_run
from bwkit.pipeline import run
from bwkit.runs import RunFolder, RunRecord

mlflow = pytest.importorskip("mlflow")
from mlflow.tracking import MlflowClient  # noqa: E402


@pytest.fixture(scope="module")
def tracked(tiny_run, tmp_path_factory):
    """The shared tiny run logged into a new embedded store: (uri, MLflow run id)."""
    store = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{store}/mlflow.db"
    return uri, track_run(tiny_run.root, uri=uri)


def test_a_run_lands_with_its_parameters_curve_metrics_tags_and_artifacts(tiny_run, tracked):
    uri, run_id = tracked
    client = MlflowClient(uri)
    logged, record = client.get_run(run_id), json.loads(tiny_run.run_json.read_text())
    report = json.loads(tiny_run.report.read_text())
    assert logged.info.status == "FINISHED" and logged.info.run_name == "tiny"
    assert logged.data.params == {k: str(v) for k, v in record["parameters"].items()}
    curve = client.get_metric_history(run_id, "val_loss")
    assert [m.step for m in curve] == [1, 2] and curve[-1].value == pytest.approx(report["validation_loss"][-1])
    assert {"train_loss", "learning_rate"} <= set(logged.data.metrics)
    assert logged.data.metrics["test/LSTM/average/correlation"] == pytest.approx(
        report["comparison"]["LSTM"]["average"]["correlation"])
    assert logged.data.metrics["test/persistence/rtt_ms/mae"] == pytest.approx(
        report["comparison"]["persistence"]["per_target"]["rtt_ms"]["mae"])
    assert logged.data.metrics["verdict/meets_rule"] == float(report["success"])
    assert "vs/persistence/average/mse_change_low_pct" in logged.data.metrics
    tags = logged.data.tags
    assert tags["bwkit.data_sha256"] == record["data"]["sha256"] and tags["bwkit.status"] == "succeeded"
    assert tags["mlflow.source.git.commit"] == record["environment"]["commit"]
    assert tags["bwkit.git_dirty"] == str(record["environment"]["dirty"])
    assert tags["bwkit.verdict.persistence"] in {"beats", "worse than", "indistinguishable from"}
    names = {a.path for a in client.list_artifacts(run_id)} | {a.path for a in client.list_artifacts(run_id, "pages")}
    assert {"index.html", "MODEL_CARD.md", RunFolder.REPORT, "pages/02_train.html", "model"} <= names


def test_a_run_whose_logging_fails_half_way_is_closed_failed_not_left_running(tiny_run, tmp_path, monkeypatch):
    """A key MLflow refused (a target named 'é') left the MLflow run RUNNING, with nothing in it, for ever."""
    from bwkit.experiments import tracking

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setattr(tracking, "_artifacts", lambda *a, **k: (_ for _ in ()).throw(OSError("store went away")))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert track_run(tiny_run.root, uri=uri) is None
    assert any("store went away" in str(w.message) for w in caught)
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("bwkit").experiment_id])
    assert [r.info.status for r in runs] == ["FAILED"]


def test_target_names_mlflow_cannot_take_get_keys_of_their_own():
    """'rtt ms' and 'rtt_ms' shared one key (one target's scores lost); 'é' became an empty key part (refused)."""
    from bwkit.experiments import tracking

    report = {"success": True, "comparison": {"LSTM": {
        "per_target": {"rtt ms": {"mae": 1.0}, "rtt_ms": {"mae": 2.0}, "é": {"mae": 3.0}, "中": {"mae": 4.0}},
        "average": {"mae": 2.5}}}}
    found = {k: v for k, v in tracking._test_metrics(report).items() if k.startswith("test/") and k.endswith("/mae")}
    assert found["test/LSTM/rtt_ms/mae"] == 2.0 and found["test/LSTM/average/mae"] == 2.5 and len(found) == 5
    assert all(tracking.KEY_UNSAFE.search(k) is None and "//" not in k for k in found)


def test_the_onnx_model_loads_through_mlflow_onnx_and_answers_as_the_runs_own_file(tiny_run, tracked, monkeypatch):
    import onnxruntime

    uri, run_id = tracked
    # mlflow.set_tracking_uri also sets MLFLOW_TRACKING_URI for the whole process: both are put back after the
    # test, so no later test's runs land in this one's store
    state = mlflow.tracking._tracking_service.utils
    monkeypatch.setattr(state, "_tracking_uri", state._tracking_uri)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    model = mlflow.onnx.load_model(f"runs:/{run_id}/model")
    meta = json.loads(tiny_run.metadata("v1").read_text())
    x = np.random.default_rng(0).standard_normal((3, meta["window_size"], len(meta["features"]))).astype(np.float32)
    ours = onnxruntime.InferenceSession(str(tiny_run.onnx("v1"))).run(None, {"input": x})[0]
    loaded = onnxruntime.InferenceSession(model.SerializeToString()).run(None, {"input": x})[0]
    served = mlflow.pyfunc.load_model(f"runs:/{run_id}/model").predict({"input": x})["output"]
    np.testing.assert_array_equal(loaded, ours)
    np.testing.assert_allclose(served, ours, rtol=1e-6)
    signature = mlflow.models.get_model_info(f"runs:/{run_id}/model").signature
    spec = signature.inputs.to_dict()[0]
    assert spec["name"] == "input" and list(spec["tensor-spec"]["shape"]) == [-1, x.shape[1], x.shape[2]]


def test_the_model_card_names_the_datas_sha256_and_the_verdict_and_shows_on_the_run_page(tiny_run):
    card = tiny_run.model_card.read_text()
    record, report = json.loads(tiny_run.run_json.read_text()), json.loads(tiny_run.report.read_text())
    assert record["data"]["sha256"] in card
    assert f"is {'met' if report['success'] else 'not met'}" in card
    assert "| persistence |" in card and "Out of scope" in card and "Licence: unknown" in card
    page = tiny_run.index.read_text()
    assert "Model card (MODEL_CARD.md)" in page and record["data"]["sha256"] in page


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_tracking_uri_is_one_warning_and_leaves_the_run_as_it_was(tiny_run):
    before = tiny_run.run_json.read_bytes()
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tracker = Tracker(f"http://127.0.0.1:{_free_port()}")
        tracker(RunRecord.load(tiny_run))
    mine = [w for w in caught if "MLflow tracking" in str(w.message)]
    assert len(mine) == 1 and "the run's own record is unaffected" in str(mine[0].message)
    assert tracker.mlflow_run is None and time.perf_counter() - start < 60
    assert tiny_run.run_json.read_bytes() == before


def test_a_failed_run_appears_with_its_status_and_error(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,throughput_mbps\n2025-01-01T00:00:00Z,1\n")
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    tracker = Tracker(uri, runs_root=tmp_path)
    with pytest.raises(Exception):
        run({"data_path": str(bad)}, run_id="bad", runs_root=tmp_path / "runs", log=lambda *_: None, on_finish=tracker)
    logged = MlflowClient(uri).get_run(tracker.mlflow_run)
    assert logged.info.status == "FAILED" and logged.data.tags["bwkit.status"] == "failed"
    assert "data check" in logged.data.tags["bwkit.error"]
    assert (tmp_path / "runs" / "bad" / "MODEL_CARD.md").read_text().count("The run is failed") == 1


@pytest.fixture
def server(tmp_path):
    """`mlflow server` with a SQLite store on a free loopback port; stopped (and waited for) after the test."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{tmp_path}/server.db", "--artifacts-destination", str(tmp_path / "art")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})   # as `make ui` starts it
    uri = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):   # up to two minutes on a loaded machine
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert process.poll() is None, "mlflow server exited"
                time.sleep(0.5)
        yield uri
    finally:
        import signal

        os.killpg(process.pid, signal.SIGKILL)   # a test's server: its drain (half a minute here) serves no one
        process.wait(timeout=30)


def test_bwkit_run_with_tracking_uri_sends_the_run_to_a_tracking_server(server, tiny_run, tmp_path, monkeypatch):
    """`--tracking-uri` on the command line reaches the server (with a run its data check refuses: no stage runs),
    and a finished run lands there whole, its ONNX model included: the shared tiny run, logged by `track_run`, as
    the runner's `on_finish` logs every run."""
    monkeypatch.setenv("BWKIT_RUNS", str(tmp_path / "runs"))
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,throughput_mbps\n2025-01-01T00:00:00Z,1\n")
    assert cli.main(["run", "--run-id", "refused", "--tracking-uri", server, "--set", f"data_path={bad}"]) == 1
    served = track_run(tiny_run.root, uri=server)
    client = MlflowClient(server)
    found = {r.info.run_name: r for r in client.search_runs([client.get_experiment_by_name("bwkit").experiment_id])}
    assert sorted(found) == ["refused", "tiny"] and found["refused"].info.status == "FAILED"
    assert "data check" in found["refused"].data.tags["bwkit.error"]
    assert found["tiny"].info.status == "FINISHED" and found["tiny"].data.params["hidden_size"] == "8"
    assert not (tmp_path / "runs" / "mlflow.db").exists()   # the server got them, not the embedded store
    assert "model" in {a.path for a in client.list_artifacts(served)}


def test_a_store_cut_short_while_it_was_created_leaves_nothing_and_the_next_run_creates_it(tmp_path, monkeypatch):
    """A full disk during MLflow's table migrations left a store that failed every later run ("table
    _alembic_tmp_experiments already exists"); a store is now made whole beside its place, then moved in."""
    from bwkit.experiments import tracking

    class Full:
        def __init__(self, tracking_uri):
            self.path = Path(tracking_uri.removeprefix("sqlite:///"))

        def search_experiments(self, max_results):
            self.path.write_bytes(b"half a store")
            raise OSError(28, "No space left on device")

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with pytest.raises(OSError):
        tracking._create_store(uri, Full)
    assert sorted(p.name for p in tmp_path.iterdir()) == []   # neither the store nor its half
    client = tracking._client(uri)
    assert client.search_experiments() and (tmp_path / "mlflow.db").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlflow.db"]


def test_a_sqlite_store_that_cannot_be_made_is_one_quick_warning(tmp_path):
    """A folder, or a place no file can be made in, for the store: MLflow retried opening it for about 100 s (its
    log's "Operation will be retried in 51.1 seconds") on every run of a sweep before the warning."""
    from bwkit.experiments.tracking import _client

    for uri in (f"sqlite:///{tmp_path}", "sqlite:////proc/bwkit-store.db"):
        started = time.monotonic()
        with pytest.raises(OSError):
            _client(uri)
        assert time.monotonic() - started < 10, uri
    assert list(tmp_path.iterdir()) == []
