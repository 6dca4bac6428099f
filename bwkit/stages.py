"""Glue the notebooks share: default data, a run folder's model and data, the report JSON.

Notebooks call these so that each stage also runs alone from its defaults.
"""
from __future__ import annotations

import json
from pathlib import Path

from . import synth
from .data import DataError, load_telemetry, sha256_file
from .metrics import VERDICT_CORRELATION, VERDICT_MAPE
from .params import notebook_parameters
from .paths import default_data_path
from .train import CHECKPOINT, WINDOW_ONLY_CHECKPOINT, load_checkpoint
from .windows import prepare

REPORT = "bandwidth_predictor_report.json"


def generate(output: str, samples: int, seed: int, profile: str, start: str) -> Path:
    """Write the synthetic CSV (to the default location when output is "")."""
    path = Path(output) if output else default_data_path(profile, samples, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    synth.write_csv(synth.generate(samples=samples, seed=seed, profile=profile, start=start), path)
    return path


def ensure_data(data_path: str, log=print) -> Path:
    """data_path, or 01_generate_data's default CSV, generated first if missing (and said so)."""
    if data_path:
        return Path(data_path)
    defaults = {name: p.default for name, p in notebook_parameters("01_generate_data").items()}
    path = default_data_path(defaults["profile"], defaults["samples"], defaults["seed"])
    if not path.exists():
        log(f"data_path is empty and {path} does not exist yet: generating the default {defaults['profile']} data "
            f"({defaults['samples']:,} rows, seed {defaults['seed']}) first.")
        generate(str(path), defaults["samples"], defaults["seed"], defaults["profile"], defaults["start"])
    return path


def load_data(config: dict, fresh_column: str = "", fresh_targets: str = ""):
    """The telemetry a training config names."""
    return load_telemetry(config["data_path"], config["features"], config["targets"], config["nan_policy"],
                          fresh_column=fresh_column, fresh_targets=fresh_targets)


def ensure_checkpoint(run_dir: Path, log=print) -> Path:
    """The run's checkpoint; when missing, execute 02_train with its defaults into run_dir (and say so)."""
    checkpoint = Path(run_dir) / CHECKPOINT
    if not checkpoint.exists():
        from .pipeline import execute

        log(f"No {CHECKPOINT} in {run_dir}: running notebooks/02_train.ipynb with its defaults there first.")
        execute("02_train", Path(run_dir) / "02_train.ipynb", {"run_dir": str(run_dir)})
    return checkpoint


def load_run(run_dir: Path, fresh_column: str = "", fresh_targets: str = "", log=print):
    """(model, checkpoint dict, telemetry, prepared windows) exactly as training saw them."""
    model, saved = load_checkpoint(ensure_checkpoint(run_dir, log))
    config = saved["config"]
    telemetry = load_data(config, fresh_column, fresh_targets)
    if telemetry.sha256 != saved["data"]["sha256"]:
        raise DataError(f"{telemetry.path} changed since training (sha256 {telemetry.sha256[:12]} != "
                        f"{saved['data']['sha256'][:12]}); retrain or restore the file")
    return model, saved, telemetry, prepare(telemetry, config["window_size"], config["known_future"])


def load_window_only(run_dir: Path, telemetry):
    """(model, prepared) of the window-only twin trained beside a known_future model, or None."""
    path = Path(run_dir) / WINDOW_ONLY_CHECKPOINT
    if not path.exists():
        return None
    model, saved = load_checkpoint(path)
    return model, prepare(telemetry, saved["config"]["window_size"], known_future=False)


def write_report(run_dir: Path, evaluation, saved: dict, summary: str, extra: dict | None = None) -> Path:
    """bandwidth_predictor_report.json: the guide's fields, then the full comparison."""
    from .evaluate import MODEL

    avg = evaluation.averages[MODEL]
    checkpoint = Path(run_dir) / CHECKPOINT
    report = {
        "model": f"LSTM (hidden {saved['model']['hidden_size']} x {saved['model']['num_layers']} layer(s), "
                 f"window {saved['config']['window_size']})",
        "success": evaluation.verdicts()[MODEL],
        "achieved_metrics": {"correlation": avg["correlation"], "mape": avg["mape"],
                             "accuracy_percent": 100.0 - avg["mape"]},
        "target_metrics": {"correlation": VERDICT_CORRELATION, "mape": VERDICT_MAPE},
        "training_time_seconds": saved["training_time_seconds"],
        "model_size_mb": checkpoint.stat().st_size / 2**20,
        "accuracy_percent_definition": "100 - average MAPE (floored MAPE, see mape_floor)",
        "per_target": evaluation.metrics[MODEL],
        "comparison": {m: {"per_target": evaluation.metrics[m], "average": evaluation.averages[m]}
                       for m in evaluation.methods},
        "verdicts": evaluation.verdicts(),
        "gap_closed": evaluation.gap_closed(),
        "summary": summary,
        "test_rows": len(evaluation.rows),
        "data": saved["data"], "config": saved["config"], "best_epoch": saved["best_epoch"],
        **(extra or {}),
    }
    path = Path(run_dir) / REPORT
    path.write_text(json.dumps(report, indent=2))
    return path


def data_info(telemetry) -> dict:
    return {"path": str(telemetry.path.resolve()), "sha256": telemetry.sha256, "rows": telemetry.rows,
            "traces": int(telemetry.segment.max()) + 1, "notes": telemetry.notes}

