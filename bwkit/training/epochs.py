"""The training log's epoch lines read back, without torch: for tracking, a search's pruner and the benchmarks.

`train.Fit.step` writes `epoch    7  train_loss 0.1  val_loss 0.2  lr 1.00e-03`; the epochs a fit
trained during selection are written first as `epoch    1  val_loss 0.2  (selection)`.
"""
from __future__ import annotations

import json
import re

from bwkit.runs import RunFolder

EPOCH_LINE = re.compile(r"^epoch\s+(\d+)\s+(?:train_loss (\S+)\s+)?val_loss (\S+)(?:\s+lr (\S+))?")


def read_epochs(log_path) -> list[dict]:
    """{"epoch", "val_loss", "train_loss", "learning_rate"} per epoch line so far (the last two None for
    selection lines); [] when the log does not exist yet. A line still being written is skipped."""
    try:
        with open(log_path) as log:
            lines = log.read().split("\n")[:-1]   # only complete lines
    except OSError:
        return []
    found = []
    for line in lines:
        match = EPOCH_LINE.match(line)
        if match:
            epoch, train, val, lr = match.groups()
            found.append({"epoch": int(epoch), "val_loss": float(val), "train_loss": train and float(train),
                          "learning_rate": lr and float(lr)})
    return found


def epochs_trained(run_dir) -> int:
    """Every epoch the run trained: the kept model's, the other selection candidates' and the window-only twin's."""
    files = RunFolder(run_dir)
    total = len(read_epochs(files.log)) + len(read_epochs(files.window_only_log))
    try:
        selection = json.loads(files.report.read_text()).get("selection") or {}
    except (OSError, ValueError):
        selection = {}
    candidates = selection.get("candidates", [])
    total += selection.get("epochs", 0) * max(len(candidates) - 1, 0)
    if selection.get("linear_path"):   # the twin across the linear path, not kept, trained on past the race
        kept = next(c for c in candidates if c["chosen"]).get("linear_path")
        total += selection["linear_path"][str(not kept).lower()]["epochs"] - selection["epochs"]
    return total
