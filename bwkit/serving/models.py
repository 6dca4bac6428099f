"""Which model a service serves: what `GET /v1/model` says of it, and the newer run `--reload` swaps to."""
from __future__ import annotations

import datetime as dt
import json

from bwkit.features import Recipe
from bwkit.runs import RunFolder, record_or_empty
from bwkit.serving.predictor import Predictor


def _json(path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def model_info(folder: RunFolder, predictor: Predictor) -> dict:
    """Run id, data, inputs, outputs, window, cadence, and its run's test metrics and verdict."""
    meta, recipe, report = predictor.metadata, predictor.recipe, _json(folder.report)
    written = dt.datetime.fromtimestamp(predictor.metadata_path.stat().st_mtime, dt.timezone.utc)
    return {"run_id": folder.root.name, "onnx_file": predictor.onnx_path.name,
            "exported": written.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "data_sha256": meta.get("data", {}).get("sha256"), "features": recipe.features, "columns": recipe.columns,
            "targets": recipe.targets, "window_size": recipe.window_size, "cadence_seconds": recipe.cadence_seconds,
            "max_gap_cadences": recipe.max_gap_cadences, "band_levels": predictor.levels,
            "adaptive_bands": bool((predictor.bands or {}).get("adaptive")),
            "metrics": report.get("achieved_metrics", meta.get("metrics")), "per_target": report.get("per_target"),
            "target_metrics": report.get("target_metrics"), "meets_target": report.get("success"),
            "verdict": report.get("summary")}


def _finished(folder: RunFolder) -> str:
    record = record_or_empty(folder)
    return record.get("finished") or "" if record.get("status") == "succeeded" else ""


def newer_run(folder: RunFolder, recipe: dict) -> RunFolder | None:
    """The latest-finished succeeded run beside `folder`, finished after it, whose model reads the same `recipe`."""
    mine = (_finished(folder), folder.root.name)
    candidates = []
    for path in folder.root.parent.iterdir():
        other = RunFolder(path)
        finished = _finished(other) if path.is_dir() and path != folder.root else ""
        if finished and (finished, path.name) > mine:
            candidates.append(((finished, path.name), other))
    for _, other in sorted(candidates, key=lambda c: c[0], reverse=True):
        metadata = sorted(other.root.glob("model_metadata_*.json"))
        if len(metadata) == 1 and Recipe.same_inputs(_json(metadata[0]).get("recipe"), recipe):
            return other
    return None
