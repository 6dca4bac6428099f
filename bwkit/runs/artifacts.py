"""Every file name of a run folder, in one place.

The names are the original guide's (`best_model.pth`, `bandwidth_lstm_v1.onnx`,
...), so its instructions still apply to a bwkit run. Nothing else in the kit
spells them: notebooks, the pipeline, the HTML pages and the benchmark ask a
`RunFolder`.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from bwkit.data import holds, sha256_file
from bwkit.files import whole_file
from bwkit.runs.paths import SCRATCH, scratch_run

RUNS_INDEX = "index.html"   # runs/index.html: every run, one row each
SWEEPS = "sweeps"           # runs/sweeps/<id>/: one sweep's run folders, sweep.json and comparison page
COMPARISONS = "comparisons"  # runs/comparisons/<id>/: a `bwkit compare` of any run folders
STUDIES = "studies"        # runs/studies/<id>/: one search's trial run folders, study.json and its page
TRACKING_DB = "mlflow.db"   # runs/mlflow.db: the default MLflow store (sqlite adds its journal beside it)
TRACKING_ARTIFACTS = "mlartifacts"   # runs/mlartifacts/: that store's artifacts
# What the kit keeps beside the run folders in a runs root: no run may take one of these names
ROOT_NAMES = (RUNS_INDEX, SWEEPS, COMPARISONS, STUDIES, TRACKING_DB, TRACKING_ARTIFACTS, SCRATCH)
COMPARE_PAGE = "05_compare.html"
PLOTS = {                   # key -> file, in the order the run's page shows them
    "history": "training_history.png",
    "scatter": "predictions_scatter.png",
    "skill": "skill_per_target.png",
    "overlay": "overlay.png",
    "residuals": "residuals.png",
}


class RunFolder:
    """The files of one run folder (`runs/<run_id>/`); nothing is created by naming it."""

    RUN_JSON = "run.json"
    INDEX = "index.html"
    DATA = "data/telemetry.csv"
    CHECKPOINT = "best_model.pth"
    LOG = "training_output.log"
    WINDOW_ONLY_CHECKPOINT = "window_only_model.pth"   # with known_future: the twin trained without it
    WINDOW_ONLY_LOG = "training_output_window_only.log"
    REPORT = "bandwidth_predictor_report.json"
    RECORD_RESERVE = ".run.json.reserve"   # room kept for run.json while the run goes on (a dotfile: never hashed)
    ERROR_LOG = ".bwkit-errors.log"         # tracebacks of commands that failed on this folder (bwkit --debug shows them)
    SERVING = "serving"                       # what `bwkit serve` keeps: each link's window, snapshotted
    SERVING_SNAPSHOT = "serving/links.npz"
    MODEL_CARD = "MODEL_CARD.md"        # what the model is for and how good it is, generated from the record
    STOP = "STOP"                       # a request to end training at the next epoch (a search's pruner writes it)

    def __init__(self, root):
        self.root = Path(root)

    @classmethod
    def open(cls, run_dir: str) -> "RunFolder":
        """A notebook's run_dir: "" means runs/scratch, anything else is relative to the cwd; created if missing."""
        path = Path(run_dir).expanduser().resolve() if run_dir else scratch_run()
        path.mkdir(parents=True, exist_ok=True)
        return cls(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.root)!r})"

    def _at(self, name: str) -> Path:
        return self.root / name

    run_json = property(lambda self: self._at(self.RUN_JSON))
    index = property(lambda self: self._at(self.INDEX))
    data = property(lambda self: self._at(self.DATA))
    checkpoint = property(lambda self: self._at(self.CHECKPOINT))
    log = property(lambda self: self._at(self.LOG))
    window_only_checkpoint = property(lambda self: self._at(self.WINDOW_ONLY_CHECKPOINT))
    window_only_log = property(lambda self: self._at(self.WINDOW_ONLY_LOG))
    report = property(lambda self: self._at(self.REPORT))
    record_reserve = property(lambda self: self._at(self.RECORD_RESERVE))
    error_log = property(lambda self: self._at(self.ERROR_LOG))
    serving = property(lambda self: self._at(self.SERVING))
    serving_snapshot = property(lambda self: self._at(self.SERVING_SNAPSHOT))
    model_card = property(lambda self: self._at(self.MODEL_CARD))
    stop = property(lambda self: self._at(self.STOP))

    def plot(self, key: str) -> Path:
        """One of `PLOTS` ("history", "scatter", "skill", "overlay", "residuals")."""
        return self._at(PLOTS[key])

    def plots(self) -> list[Path]:
        """Every plot's path, in display order (whether written yet or not)."""
        return [self.plot(key) for key in PLOTS]

    def notebook(self, stage: str) -> Path:
        return self._at(f"{stage}.ipynb")

    def html(self, stage: str) -> Path:
        """The reviewer's page of a stage: outputs only."""
        return self._at(f"{stage}.html")

    def html_with_code(self, stage: str) -> Path:
        """The same execution with every cell shown."""
        return self._at(f"{stage}.code.html")

    def onnx(self, version: str) -> Path:
        return self._at(f"bandwidth_lstm_{version}.onnx")

    def torchscript(self, version: str) -> Path:
        return self._at(f"bandwidth_lstm_{version}.pt")

    def metadata(self, version: str) -> Path:
        return self._at(f"model_metadata_{version}.json")

    def files(self) -> list[str]:
        """Every file of the folder (relative names, sorted) but dotfiles, run.json and the run page, which are
        rewritten after the rest by design, and `bwkit serve`'s snapshots (the run's own files stay as they were)."""
        names = (p.relative_to(self.root) for p in self.root.rglob("*") if p.is_file() and not p.name.startswith("."))
        return sorted(str(n) for n in names if str(n) not in UNHASHED and n.parts[0] != self.SERVING)

    def data_file(self, recorded: str, sha256: str | None) -> str:
        """The data the run was trained on: the folder's own copy (data/telemetry.csv) when it holds the file trained
        on (the same sha256) and the run recorded another path (the folder was copied or moved elsewhere, where that
        path may be gone or hold another file); else the path it recorded."""
        own = self.data
        if Path(recorded).resolve() == own.resolve() or not holds(own, sha256):
            return recorded
        return str(own)

    def hashes(self, names=None) -> dict[str, str]:
        """sha256 of the named files (default: every file of `files()`): the manifest `bwkit check` verifies."""
        return {name: sha256_file(self.root / name) for name in (self.files() if names is None else sorted(names))}


UNHASHED = {RunFolder.RUN_JSON, RunFolder.INDEX}


FOLDER_LOCK = ".lock"   # in a sweep's or a search's folder: held by the client running it (`bwkit.runs.lock.held`)


class SweepFolder:
    """runs/sweeps/<id>/: the sweep's record, its shared data, its run folders and its comparison page."""

    JSON = "sweep.json"

    def __init__(self, runs_root, sweep_id: str):
        self.root = Path(runs_root) / SWEEPS / sweep_id

    @classmethod
    def all(cls, runs_root) -> list["SweepFolder"]:
        return [cls(runs_root, p.parent.name) for p in sorted((Path(runs_root) / SWEEPS).glob(f"*/{cls.JSON}"))]

    record = property(lambda self: self.root / self.JSON)
    lock = property(lambda self: self.root / FOLDER_LOCK)   # held by the client running the sweep
    data = property(lambda self: self.root / "data")
    page = property(lambda self: self.root / COMPARE_PAGE)

    def run(self, run_id: str) -> RunFolder:
        return RunFolder(self.root / run_id)


def comparison_folder(runs_root, name: str) -> Path:
    """runs/comparisons/<name>/: where `bwkit compare` of any run folders writes its page."""
    return Path(runs_root) / COMPARISONS / name


def write_atomic(path, text: str) -> Path:
    """Write a whole file or nothing (`bwkit.files.whole_file`): a reader sees the old text or the new, never half
    of it. A full disk raises `DiskFull`, another failure its OSError; neither leaves a partial file behind."""
    with whole_file(path) as partial:
        partial.write_text(text, encoding="utf-8")
    return Path(path)


def strict(value):
    """`value` with every NaN and infinity replaced by None, so the JSON is strict (RFC 8259)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    return value


def write_json(path, value) -> Path:
    """Strict JSON (a missing number is null, with its reason beside it where the kit knows one), atomically."""
    return write_atomic(path, json.dumps(strict(value), indent=2, allow_nan=False))
