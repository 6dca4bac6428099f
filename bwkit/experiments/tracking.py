"""Every run in MLflow: parameters, the training curve, test metrics, verdicts, tags and artifacts.

The default store is embedded, with nothing to start: `sqlite:///<runs root>/mlflow.db`, artifacts in
`<runs root>/mlartifacts/` (`make ui` opens it). `--tracking-uri` or MLFLOW_TRACKING_URI sends the same
to a tracking server; the parameter `tracking` (`--set tracking=off`) turns it off for a run.

What is logged is read from the finished run folder (run.json, the report JSON, the training log,
the ONNX file), so tracking never touches a run in progress and never changes its record: any error
here is one warning line. A run that ended by a signal or failed is logged with its status and error.
A sweep or a search is a parent MLflow run; its runs are nested children with their seed and group.
`bwkit run` logs from the runner's `on_finish`; sweeps and searches log on the client as each run lands.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import logging
import os
import re
import tempfile
import threading
import time
import uuid
import warnings
from pathlib import Path

from bwkit.runs import (STAGES, TRACKING_ARTIFACTS, TRACKING_DB, RunFolder, model_version, read_record,
                        runs_root as default_runs_root)

EXPERIMENT = "bwkit"
STATUS = {"succeeded": "FINISHED", "failed": "FAILED", "interrupted": "KILLED", "running": "RUNNING"}
# A tracking server that does not answer must not hold a run for minutes (MLflow retries with backoff by
# default), and an offline kit sends MLflow no usage telemetry. Each is a default: the environment wins.
MLFLOW_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
                   "MLFLOW_DISABLE_TELEMETRY": "true",
                   # MLflow sets its loggers' level from this when first imported: its INFO lines (a new store's
                   # tables, a run's link) would land in the middle of a run's progress bars
                   "MLFLOW_LOGGING_LEVEL": "WARNING"}
KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_\-./]+")   # what MLflow refuses in a name, and spaces ("LSTM (window only)")
PER_BATCH = 1000  # MLflow's log_batch takes at most 1000 metrics (and 100 parameters, 100 tags) per call
SCORES = ("mae", "rmse", "mape", "wape", "r2", "correlation", "skill")   # of each method and target


def tracking_uri(uri: str | None = None, runs_root=None) -> str:
    """The URI given, else MLFLOW_TRACKING_URI, else the embedded SQLite store under the runs root."""
    root = Path(runs_root or default_runs_root()).resolve()
    return uri or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{root / TRACKING_DB}"


def _artifact_root(uri: str) -> str | None:
    """Artifacts beside a SQLite store (MLflow's default would be ./mlruns of whatever folder it runs in)."""
    if not uri.startswith("sqlite:///"):
        return None   # a server keeps (or proxies) its own artifacts
    return (Path(uri.removeprefix("sqlite:///")).parent / TRACKING_ARTIFACTS).resolve().as_uri()


def _client(uri: str):
    for name, value in MLFLOW_DEFAULTS.items():   # before MLflow is first imported
        os.environ.setdefault(name, value)
    from mlflow.tracking import MlflowClient

    _create_store(uri, MlflowClient)
    return MlflowClient(tracking_uri=uri)


def _create_store(uri: str, client_class) -> None:
    """A new SQLite store is made whole beside its place and then moved into it: MLflow creates its tables by
    migrations that SQLite cannot undo, so a store cut short (a full disk) failed every later run
    ("table _alembic_tmp_experiments already exists"). A store made by another process meanwhile is kept."""
    if not uri.startswith("sqlite:///"):
        return
    from sqlalchemy.engine import make_url

    url = make_url(uri)   # the file apart from any options (sqlite:///x.db?timeout=20)
    if url.database and Path(url.database).is_dir():   # MLflow would retry opening it for 100 s, then fail
        raise IsADirectoryError(errno.EISDIR, "a folder, not a store file", url.database)
    if not url.database or url.database == ":memory:" or Path(url.database).exists():
        return
    path = Path(url.database)
    making = path.with_name(f".{path.name}.{uuid.uuid4().hex}.making")
    try:
        making.touch(exist_ok=False)   # a folder no file can be made in fails here at once, not after MLflow's retries
        client_class(tracking_uri=url.set(database=str(making)).render_as_string(hide_password=False)
                     ).search_experiments(max_results=1)
        try:
            os.link(making, path)   # never over a store another process has just made
        except FileExistsError:
            pass
        except OSError:   # a file system without hard links
            if not path.exists():
                os.replace(making, path)
    finally:
        making.unlink(missing_ok=True)


def _experiment(client, uri: str) -> str:
    found = client.get_experiment_by_name(EXPERIMENT)
    if found is not None:
        return found.experiment_id
    try:
        return client.create_experiment(EXPERIMENT, artifact_location=_artifact_root(uri))
    except Exception:  # noqa: BLE001 - another process created it first
        return client.get_experiment_by_name(EXPERIMENT).experiment_id


def _key(*parts) -> str:
    return "/".join(KEY_UNSAFE.sub("_", str(p)).strip("_") for p in parts)


def _column(name: str) -> str:
    """A user's column name as a key part: as it is where MLflow takes it, else made safe and told apart by a hash
    of the name (`rtt ms` and `rtt_ms`, or `é` and `中`, would otherwise share one key, or none)."""
    safe = KEY_UNSAFE.sub("_", name).strip("_")
    return safe if safe == name else f"{safe or 'column'}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"


def _ms(stamp: str | None) -> int | None:
    return int(dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000) if stamp else None


def _tags(run: dict, files: RunFolder, extra: dict) -> dict[str, str]:
    """MLflow's own tags (name, source, git: MLflow sets none for notebooks) and the kit's."""
    env, data = run.get("environment", {}), run.get("data", {})
    tags = {"mlflow.runName": run["run_id"], "mlflow.source.type": "LOCAL",
            "mlflow.source.name": " ".join(run.get("command") or ["bwkit run"])[:500],
            "mlflow.source.git.commit": env.get("commit") or "unknown",
            "bwkit.git_dirty": str(env.get("dirty")), "bwkit.run_id": run["run_id"], "bwkit.run_dir": str(files.root),
            "bwkit.status": run["status"], "bwkit.data_path": str(data.get("path", "")),
            "bwkit.data_sha256": str(data.get("sha256", "unknown")), "bwkit.data_generated": str(data.get("generated")),
            "bwkit.seed": str(run.get("parameters", {}).get("seed"))}
    if run.get("error"):
        tags["bwkit.error"] = str(run["error"])[:5000]
        tags["mlflow.note.content"] = f"{run['status']}: {run['error']}"[:5000]
    return {**tags, **{k: str(v) for k, v in extra.items()}}


def _verdict_tags(report: dict) -> dict[str, str]:
    from bwkit.evaluation import tests_table

    tags = {"bwkit.meets_rule": str(report["success"])}
    if report.get("significance"):
        frame = tests_table(report["significance"])
        for row in frame[frame["target"] == "average"].to_dict("records"):
            tags[_key("bwkit.verdict", row["against"]).replace("/", ".")] = row["verdict"]
    return tags


def _test_metrics(report: dict) -> dict[str, float]:
    """Every method's metric per target and averaged, the rule's verdict, and the model against each method."""
    found = {"verdict/meets_rule": float(report["success"]), "best_val_loss": report.get("best_val_loss"),
             "best_epoch": report.get("best_epoch"), "training_time_seconds": report.get("training_time_seconds")}
    for method, scores in report.get("comparison", {}).items():
        for target, values in {**scores["per_target"], "average": scores["average"]}.items():
            for metric in SCORES:
                found[_key("test", method, _column(target), metric)] = values.get(metric)
    for method, per_target in (report.get("significance") or {}).items():
        for target, t in per_target.items():
            for name, field in (("mse_change_pct", "rel_mse_diff"), ("mse_change_low_pct", "rel_low"),
                                ("mse_change_high_pct", "rel_high")):
                found[_key("vs", method, _column(target), name)] = None if t.get(field) is None else 100 * t[field]
            found[_key("vs", method, _column(target), "dm_p")] = t.get("dm_p")
    from bwkit.evaluation import MODEL

    for entry in ((report.get("intervals") or {}).get("methods", {}).get(MODEL, {}).get("test") or []):
        found[_key("bands", f"{entry['level']:.0%}".replace("%", "pct"), _column(entry["target"]), "coverage")] = entry["coverage"]
    return {k: float(v) for k, v in found.items() if isinstance(v, (int, float)) and v == v}


def _metrics(run: dict, files: RunFolder, report: dict):
    """MLflow Metric entities: the curve per epoch (step = epoch), then every scalar once."""
    from mlflow.entities import Metric
    from bwkit.training import epochs_trained, read_epochs

    now = int(time.time() * 1000)
    metrics = [Metric(name, float(e[name]), now, e["epoch"]) for e in read_epochs(files.log)
               for name in ("train_loss", "val_loss", "learning_rate") if e[name] is not None]
    scalars = {**(_test_metrics(report) if report else {}), "wall_seconds": run.get("wall_seconds"),
               "epochs_trained": epochs_trained(files.root)}
    metrics += [Metric(k, float(v), now, 0) for k, v in scalars.items() if isinstance(v, (int, float))]
    return metrics


def _onnx_model(client, mlflow_run: str, run: dict, *, files: RunFolder) -> None:
    """The ONNX file as an MLflow ONNX model (`mlflow.onnx.load_model("runs:/<id>/model")`), with its signature."""
    import json

    import mlflow.onnx
    import numpy as np
    import onnx
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    version = model_version(run)
    path, meta = files.onnx(version), json.loads(files.metadata(version).read_text())
    window, features, targets = meta["window_size"], len(meta["features"]), len(meta["targets"])
    signature = ModelSignature(inputs=Schema([TensorSpec(np.dtype(np.float32), (-1, window, features), "input")]),
                               outputs=Schema([TensorSpec(np.dtype(np.float32), (-1, targets), "output")]))
    with tempfile.TemporaryDirectory(prefix="bwkit-mlflow-") as tmp:
        mlflow.onnx.save_model(onnx.load(str(path)), Path(tmp) / "model", signature=signature,
                               save_as_external_data=False,   # one self-contained file, as the kit exports it
                               onnx_execution_providers=["CPUExecutionProvider"],
                               pip_requirements=[f"onnxruntime=={run.get('versions', {}).get('onnxruntime', '')}"])
        client.log_artifacts(mlflow_run, str(Path(tmp) / "model"), "model")


def _artifacts(client, mlflow_run: str, run: dict, *, files: RunFolder) -> None:
    """The run page, the report JSON, the model card, run.json, the reviewer pages and the ONNX model."""
    for path in (files.index, files.report, files.model_card, files.run_json):
        if path.is_file():
            client.log_artifact(mlflow_run, str(path))
    for stage in STAGES:
        if files.html(stage).is_file():
            client.log_artifact(mlflow_run, str(files.html(stage)), "pages")
    if files.onnx(model_version(run)).is_file():
        _onnx_model(client, mlflow_run, run, files=files)


def _log_batch(client, mlflow_run: str, metrics=(), *, params=(), tags=()) -> None:
    """As few calls (one SQLite transaction each) as MLflow's limits allow: 1000 metrics, 100 params, 100 tags."""
    metrics, params, tags = list(metrics), list(params), list(tags)
    for i in range(max(-(-len(metrics) // PER_BATCH), -(-len(params) // 100), -(-len(tags) // 100))):
        client.log_batch(mlflow_run, metrics=metrics[i * PER_BATCH:(i + 1) * PER_BATCH],
                         params=params[i * 100:(i + 1) * 100], tags=tags[i * 100:(i + 1) * 100])


def _replace_earlier(client, experiment: str, run_dir: Path) -> None:
    """A resumed run replaces the MLflow run its first attempt logged (one MLflow run per run folder)."""
    folder = str(run_dir).replace("'", "\\'")
    for found in client.search_runs([experiment], f"tags.`bwkit.run_dir` = '{folder}'", max_results=50):
        client.delete_run(found.info.run_id)


def _log(run_dir: Path, uri: str, parent: str | None, *, tags: dict) -> str:
    import json

    from mlflow.entities import Param, RunTag

    files = RunFolder(run_dir)
    run = read_record(files)
    report = json.loads(files.report.read_text()) if files.report.is_file() else {}
    client = _client(uri)
    experiment = _experiment(client, uri)
    _replace_earlier(client, experiment, files.root)
    every = {**_tags(run, files, tags), **(_verdict_tags(report) if report else {}),
             **({"mlflow.parentRunId": parent} if parent else {})}
    created = client.create_run(experiment, start_time=_ms(run.get("started")), run_name=run["run_id"])
    mlflow_run = created.info.run_id
    params = [Param(_key(k), str(v)[:6000]) for k, v in run.get("parameters", {}).items()]
    try:
        _log_batch(client, mlflow_run, _metrics(run, files, report), params=params,
                   tags=[RunTag(k, v) for k, v in every.items()])
        _artifacts(client, mlflow_run, run, files=files)
    except Exception:
        with contextlib.suppress(Exception):   # never left RUNNING with half a record: said FAILED (and warned)
            client.set_terminated(mlflow_run, "FAILED")
        raise
    client.set_terminated(mlflow_run, STATUS.get(run["status"], "FAILED"), end_time=_ms(run.get("finished")))
    return mlflow_run


def _warn(what: str, exc: Exception, after: str = "") -> None:
    """The one warning line a tracking failure gives."""
    first = str(exc).splitlines()[0][:300] if str(exc) else ""
    warnings.warn(f"MLflow tracking {what} failed ({type(exc).__name__}: {first}){after}", RuntimeWarning, stacklevel=3)


def track_run(run_dir, *, uri: str | None = None, runs_root=None, parent: str | None = None,
              tags: dict | None = None) -> str | None:
    """Log a finished run folder to MLflow; return the MLflow run id, or None (with one warning) when it could not.

    uri: a tracking URI (default: `tracking_uri(None, runs_root)`). parent: the MLflow run of its sweep or search.
    tags: more tags (a sweep's group and repeat)."""
    run_dir = Path(run_dir).resolve()
    uri = tracking_uri(uri, runs_root or run_dir.parent)
    try:
        return _log(run_dir, uri, parent, tags=tags or {})
    except Exception as exc:  # noqa: BLE001 - tracking never makes a run fail
        _warn(f"of {run_dir.name} to {uri}", exc, "; the run's own record is unaffected")
        return None


def _save_onnx_once() -> None:
    """A one-node ONNX model saved as an MLflow model: its first save scans every installed package."""
    import mlflow.onnx
    from onnx import TensorProto, helper

    tensor = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1]) for n in ("x", "y")]
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "warm", tensor[:1], tensor[1:])
    with tempfile.TemporaryDirectory(prefix="bwkit-mlflow-warm-") as tmp:
        mlflow.onnx.save_model(helper.make_model(graph), Path(tmp) / "model", save_as_external_data=False,
                               pip_requirements=["onnxruntime"])


def _warm(uri: str) -> None:
    """MLflow's imports and, on first use, the store's tables: seconds paid while the run's notebooks execute."""
    try:
        logging.getLogger("mlflow").setLevel(logging.WARNING)   # its first-use INFO lines are not the run's news
        logging.getLogger("alembic").setLevel(logging.WARNING)
        client = _client(uri)
        import mlflow.onnx  # noqa: F401
        import mlflow.models  # noqa: F401
        import onnx  # noqa: F401
        from bwkit.evaluation import tests_table  # noqa: F401 - pandas and the evaluation's modules
        from mlflow.entities import Metric  # noqa: F401

        client.search_runs([_experiment(client, uri)], max_results=1)
        _save_onnx_once()
    except Exception:  # noqa: BLE001 - track_run reports the problem when it runs
        pass


def _off(record) -> bool:
    """Whether a run's `tracking` parameter is off (.get: a run recorded before it existed is tracked)."""
    return record.data.get("parameters", {}).get("tracking") is False


class Tracker:
    """`on_finish` for `bwkit.pipeline.run`/`resume`: logs the run to MLflow unless its `tracking` is off.

    Importing MLflow (and creating the store on first use) starts in a thread when the run's stages begin
    (`begin(record)`, called by the runner once the run's parameters and folder are checked), so a run pays for
    it while its notebooks execute rather than after them; a refused run, or one with tracking off, touches no
    store."""

    def __init__(self, uri: str | None = None, runs_root=None, parent: str | None = None, *, tags: dict | None = None):
        self.uri, self.runs_root, self.parent, self.tags = uri, runs_root, parent, tags or {}
        self.mlflow_run: str | None = None
        self.seconds = 0.0
        self._warming: threading.Thread | None = None

    def begin(self, record=None) -> None:
        if self._warming is None and not (record is not None and _off(record)):
            self._warming = threading.Thread(target=_warm, args=(tracking_uri(self.uri, self.runs_root),),
                                             daemon=True, name="bwkit-mlflow-warm")
            self._warming.start()

    def __call__(self, record) -> None:
        if _off(record):
            return
        start = time.perf_counter()
        if self._warming is not None:
            self._warming.join()
        self.mlflow_run = track_run(record.files.root, uri=self.uri, runs_root=self.runs_root, parent=self.parent,
                                    tags=self.tags)
        self.seconds = time.perf_counter() - start
