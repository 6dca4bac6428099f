"""Export the trained model: one self-contained ONNX file, TorchScript, metadata.

The ONNX graph takes `input` float32 [batch, window, features] in original units
and returns `output` float32 [batch, targets] in original units (the scalers are
inside the graph); the batch axis is dynamic. Export fails loudly when
onnxruntime and PyTorch disagree on the test windows by more than the tolerance.
"""
from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from bwkit.errors import ExportError
from bwkit.evaluation import Calibration, calibration, shipped_bands
from bwkit.features import training_recipe
from bwkit.runs import RunFolder, versions, write_json
from bwkit.training import PREDICT_BATCH, load, predict

OPSET = 17
LATENCY_REPEATS = 500   # timed single-window calls (after 50 warm-up calls)


def export_onnx(model, window: int, n_features: int, *, path) -> Path:
    """Write a single-file ONNX model with a dynamic batch axis."""
    path = Path(path)
    example = torch.zeros(2, window, n_features)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript-based exporter warns it is legacy; it is the one that
        torch.onnx.export(               # handles LSTMs with a dynamic batch in well under a second
            model.eval(), (example,), str(path), input_names=["input"], output_names=["output"],
            dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, opset_version=OPSET, dynamo=False)
    import onnx

    onnx.checker.check_model(str(path), full_check=True)
    return path


def attach_metadata(onnx_path, entries: dict) -> None:
    """Key/value pairs (values as JSON) into the ONNX file's own metadata, for a consumer that has only the file."""
    import onnx

    proto = onnx.load(str(onnx_path))
    props = {p.key: p.value for p in proto.metadata_props}
    onnx.helper.set_model_props(proto, {**props, **{key: json.dumps(value) for key, value in entries.items()}})
    onnx.save(proto, str(onnx_path))


def onnx_session(path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_onnx(session, X) -> np.ndarray:
    """onnxruntime's outputs [windows, targets] (float64) for windows X, a batch at a time."""
    return np.concatenate([session.run(None, {"input": np.asarray(X[i:i + PREDICT_BATCH], np.float32)})[0]
                           for i in range(0, len(X), PREDICT_BATCH)]).astype(np.float64)


def parity(model, onnx_path, X: np.ndarray, *, tolerance: float) -> dict:
    """Compare onnxruntime and PyTorch on X; raise ExportError beyond `tolerance` (training-std units)."""
    ours = run_onnx(onnx_session(onnx_path), X)
    theirs = predict(model, X)
    scale = model.y_std.numpy().astype(np.float64)
    worst = np.abs(ours - theirs) / scale
    result = {"windows": int(len(X)), "tolerance_in_std_units": tolerance,
              "max_abs_difference": float(np.abs(ours - theirs).max()),
              "max_difference_in_std_units": float(worst.max()), "passed": bool(worst.max() <= tolerance)}
    if not result["passed"]:
        raise ExportError(f"ONNX output differs from PyTorch by {worst.max():.3g} training-std units "
                          f"(tolerance {tolerance:g}) on {len(X)} test windows")
    return result


def latency_ms(onnx_path, window: int, n_features: int, *, repeats: int = LATENCY_REPEATS) -> dict:
    """Single-window onnxruntime latency on one CPU thread: p50 and p99 in ms."""
    session = onnx_session(onnx_path)
    x = np.random.default_rng(0).standard_normal((1, window, n_features)).astype(np.float32)
    for _ in range(50):
        session.run(None, {"input": x})
    times = np.empty(repeats)
    for i in range(repeats):
        start = time.perf_counter()
        session.run(None, {"input": x})
        times[i] = time.perf_counter() - start
    return {"p50_ms": float(np.percentile(times, 50) * 1e3), "p99_ms": float(np.percentile(times, 99) * 1e3)}


def export_torchscript(model, window: int, n_features: int, *, path) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(model.eval(), torch.zeros(1, window, n_features))
    traced.save(str(path))
    return Path(path)


def write_metadata(path, saved: dict, window: int, *, metrics: dict, parity_result: dict, onnx_name: str,
                   intervals: dict | None = None, recipe: dict | None = None) -> Path:
    """Everything a consumer of the ONNX file needs to feed it and to trust it."""
    model_state = saved["state_dict"]
    meta = {
        "onnx_file": onnx_name,
        "input": {"name": "input", "shape": ["batch", window, len(saved["features"])], "dtype": "float32",
                  "units": "original units; rows oldest first; scaling happens inside the graph"},
        "output": {"name": "output", "shape": ["batch", len(saved["targets"])], "dtype": "float32",
                   "meaning": "the targets of the row after the window, original units"},
        "features": saved["features"], "targets": saved["targets"], "window_size": window,
        "recipe": recipe, "opset": OPSET,
        "scalers": {"features": {"mean": model_state["x_mean"].tolist(), "std": model_state["x_std"].tolist()},
                    "targets": {"mean": model_state["y_mean"].tolist(), "std": model_state["y_std"].tolist()}},
        "config": saved["config"], "model": saved["model"], "best_epoch": saved["best_epoch"],
        "metrics": metrics, "intervals": intervals, "parity": parity_result, "data": saved["data"],
        "versions": versions(), "trained_with": saved["versions"], "hardware": saved["hardware"],
    }
    return write_json(path, meta)


@dataclass
class Exported:
    """What 04_export wrote and measured."""
    onnx: Path
    torchscript: Path
    metadata: Path
    intervals: dict   # the calibrated bands as a consumer gets them (also inside the ONNX file)
    parity: dict
    latency: dict


def report_of(files: RunFolder, saved: dict) -> dict:
    """The run's report where 03_evaluate wrote it for this checkpoint (the same configuration and validation curve);
    else {}: a report left by an earlier training in the folder must not lend this model its bands and metrics."""
    report = json.loads(files.report.read_text()) if files.report.exists() else {}
    if report and (report.get("config") != saved["config"]
                   or report.get("validation_loss") != saved["history"]["val_loss"]):
        warnings.warn(f"{files.report} is from an earlier training than {files.checkpoint.name}: its metrics are "
                      "left out and the bands calibrated afresh on validation; run 03_evaluate for this model's",
                      stacklevel=2)
        return {}
    return report


def export_run(files: RunFolder, *, model_version: str, parity_tolerance: float) -> Exported:
    """04_export without its displays: ONNX (bands and input recipe in its own metadata), parity with PyTorch on
    every test window, latency, TorchScript and the metadata JSON; the run is trained first if it has no model."""
    run = load(files)
    model, saved = run.model, run.saved
    window, n_features = saved["config"]["window_size"], len(saved["features"])
    onnx_path = export_onnx(model, window, n_features, path=files.onnx(model_version))
    report = report_of(files, saved)
    calibrated = (Calibration.from_dict(report["intervals"]) if report.get("intervals")
                  else calibration(model, run.prepared, run.telemetry))
    intervals = shipped_bands(calibrated)
    recipe = training_recipe(run.telemetry, saved["features"], window).to_dict()
    attach_metadata(onnx_path, {"bwkit.intervals": intervals, "bwkit.recipe": recipe,
                                "bwkit.targets": saved["targets"], "bwkit.features": saved["features"]})
    checked = parity(model, onnx_path, run.prepared.splits["test"].X, tolerance=parity_tolerance)
    latency = latency_ms(onnx_path, window, n_features)
    script = export_torchscript(model, window, n_features, path=files.torchscript(model_version))
    meta = write_metadata(files.metadata(model_version), saved, window,
                          metrics={**report.get("achieved_metrics", {}), "onnx_latency": latency},
                          parity_result=checked, onnx_name=onnx_path.name, intervals=intervals, recipe=recipe)
    return Exported(onnx_path, script, meta, intervals, checked, latency)
