"""A run folder's data and trained model: what 02_train makes, and what 03 and 04 read back.

`train_run` is the training stage without its displays; `load` reads a run back
exactly as training saw it, training it first (in this process) when the folder
has no model yet, so 03_evaluate and 04_export also run alone on an empty folder.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bwkit import synth
from bwkit.data import Telemetry
from bwkit.errors import DataError
from bwkit.features import Prepared, prepare, split_of, split_summary
from bwkit.runs import Config, RunFolder, configure, default_data_path
from bwkit.training.inputs import load_data
from bwkit.training.model import LSTMForecaster, load_checkpoint
from bwkit.training.selection import Choice, choose
from bwkit.training.train import TrainResult, train_model


def ensure_data(data_path: str, log=print) -> str:
    """data_path, or 01_generate_data's default CSV, generated first if missing (and said so)."""
    if data_path:
        return str(Path(data_path).expanduser().resolve())
    g = configure(stage="01_generate_data")
    path = default_data_path(g.profile, g.samples, g.seed)
    if not path.exists():
        log(f"data_path is empty and {path} does not exist yet: generating the default {g.profile} data "
            f"({g.samples:,} rows, seed {g.seed}) first.")
        synth.write(path, g.samples, g.seed, profile=g.profile, start=g.start)
    return str(path.resolve())


def data_info(telemetry: Telemetry, config: Config) -> dict:
    """The data's record in the checkpoint: where it came from, what loading did, and what each split holds."""
    return {**telemetry.info(), "split": split_summary(telemetry, config.window_size, split_of(config))}


def train_window_only(telemetry: Telemetry, config: Config, files: RunFolder, *, progress: bool = True) -> TrainResult:
    """The twin of a known_future model, trained with the same settings on the window alone."""
    twin_config = config.replace(known_future=False)
    return train_model(prepare(telemetry, config.window_size, False, split=split_of(config)), twin_config,
                       files.window_only_checkpoint, log_path=files.window_only_log, data_info=telemetry.info(),
                       progress=progress, stop_file=files.stop)


@dataclass
class Training:
    """What 02_train did: the "auto" settings chosen on validation, the fit, and the window-only twin if any."""
    choice: Choice
    result: TrainResult
    twin: TrainResult | None


def train_run(config: Config, files: RunFolder, progress: bool = True, *, telemetry: Telemetry | None = None) -> Training:
    """02_train without its displays: choose the "auto" settings on validation, train (stopping early at a
    pruner's request), and train the window-only twin of a model that sees the calendar. `telemetry`: the data
    already loaded with `load_data(config)`."""
    telemetry = telemetry if telemetry is not None else load_data(config)
    choice = choose(telemetry, config, progress=progress, stop_file=files.stop, log_path=files.log)
    result = train_model(choice.prepared, choice.config, files.checkpoint, log_path=files.log,
                         data_info=data_info(telemetry, config), progress=progress, fit=choice.fit,
                         selection=choice.record, stop_file=files.stop)
    twin = None
    if choice.config.known_future and config.compare_window_only:
        twin = train_window_only(telemetry, choice.config, files, progress=progress)
    else:   # a twin an earlier training left would be compared with this model as if it were its own
        for path in (files.window_only_checkpoint, files.window_only_log):
            path.unlink(missing_ok=True)
    return Training(choice, result, twin)


@dataclass
class TrainedRun:
    model: LSTMForecaster
    saved: dict                      # the checkpoint: config (a plain dict), features, scalers, history, versions
    telemetry: Telemetry
    prepared: Prepared
    window_only: tuple | None        # (model, prepared) of the window-only twin, when trained


def _ensure_trained(files: RunFolder, log) -> None:
    if files.checkpoint.exists():
        return
    log(f"No {files.checkpoint.name} in {files.root}: training with 02_train's defaults there first.")
    config = configure({"run_dir": str(files.root)}, stage="02_train")
    train_run(config.replace(data_path=ensure_data(config.data_path, log)), files)


def load(files: RunFolder, log=print) -> TrainedRun:
    """The run's model, checkpoint, telemetry and windows exactly as training saw them."""
    _ensure_trained(files, log)
    model, saved = load_checkpoint(files.checkpoint)
    config = Config(saved["config"])
    config = config.replace(data_path=files.data_file(config.data_path, saved["data"]["sha256"]))
    telemetry = load_data(config, oracle=True)
    if telemetry.sha256 != saved["data"]["sha256"]:
        raise DataError(f"{telemetry.path} changed since training (sha256 {telemetry.sha256[:12]} != "
                        f"{saved['data']['sha256'][:12]}); retrain or restore the file")
    window_only = None
    if files.window_only_checkpoint.exists():
        twin, twin_saved = load_checkpoint(files.window_only_checkpoint)
        window_only = twin, prepare(telemetry, Config(twin_saved["config"]).window_size, False, split=split_of(config))
    prepared = prepare(telemetry, config.window_size, config.known_future, split=split_of(config))
    log(describe(files, saved))
    return TrainedRun(model, saved, telemetry, prepared, window_only)


def describe(files: RunFolder, saved: dict) -> str:
    """Which model this notebook works on: checkpoint, when and how it was trained, on what data."""
    import datetime as dt

    config, data = Config(saved["config"]), saved["data"]
    when = dt.datetime.fromtimestamp(files.checkpoint.stat().st_mtime, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = (f"Model: {files.checkpoint} (trained {when}: best epoch {saved['best_epoch']} of "
            f"{saved['stopped_epoch']} run, epochs={config.epochs}, hidden_size={config.hidden_size}, "
            f"window_size={config.window_size}, seed={config.seed}) on {Path(data['path']).name} "
            f"({data['rows']:,} rows, sha256 {data['sha256'][:12]}).")
    default_epochs = configure(stage="02_train").epochs
    if config.epochs < default_epochs:
        text += (f" Warning: trained for at most {config.epochs} epochs (the default is {default_epochs}): "
                 "this looks like a quick test, not a model to judge.")
    return text
