"""Every file name of a run folder, in one place.

The names are the original guide's (`best_model.pth`, `bandwidth_lstm_v1.onnx`,
...), so its instructions still apply to a bwkit run. Nothing else in the kit
spells them: notebooks, the pipeline, the HTML pages and the benchmark ask a
`RunFolder`.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

from bwkit.runs.paths import scratch_run

RUNS_INDEX = "index.html"   # runs/index.html: every run, one row each
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


def write_atomic(path, text: str) -> Path:
    """Write a whole file or nothing: a reader sees the old text or the new, never half of it."""
    path = Path(path)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
    return path


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
