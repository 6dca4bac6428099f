"""Cost against data size (not a test): `make bench-scale`, or `.venv/bin/python bench/bench_scale.py [ROWS ...]`.

For each size (default 15,000 / 150,000 / 1,500,000 / 10,000,000 rows of generated `dwcp`
data) one `bwkit run --set samples=N --set epochs=2` (`epochs=1` at 10,000,000), everything
else default, in a temporary runs folder. Prints each stage's seconds (from run.json), the
mean training epoch (from the checkpoint's history), the wall time, and the largest peak
resident memory of any process of the run: the CLI and every notebook kernel it starts,
read from /proc (VmHWM) every 0.2 s.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES = (15_000, 150_000, 1_500_000, 10_000_000)
STAGES = ("01_generate_data", "02_train", "03_evaluate", "04_export")


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                todo += [int(c) for c in task.read_text().split()]
            except OSError:
                pass
    return found


def peak_kb(pid: int) -> int:
    try:
        line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("VmHWM"))
        return int(line.split()[1])
    except (OSError, StopIteration):
        return 0


def run(rows: int, runs: Path) -> dict:
    epochs = 1 if rows >= 10_000_000 else 2
    command = [sys.executable, "-m", "bwkit.cli", "run", "--run-id", f"scale-{rows}", "--set", f"samples={rows}",
               "--set", f"epochs={epochs}"]
    start, peaks = time.perf_counter(), {}
    child = subprocess.Popen(command, env={**os.environ, "BWKIT_RUNS": str(runs)}, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    while child.poll() is None:
        for pid in descendants(child.pid):
            peaks[pid] = max(peaks.get(pid, 0), peak_kb(pid))
        time.sleep(0.2)
    wall = time.perf_counter() - start
    if child.returncode:
        raise RuntimeError(f"{rows} rows: {child.stderr.read().decode()[-2000:]}")
    folder = runs / f"scale-{rows}"
    record = json.loads((folder / "run.json").read_text())
    import torch

    history = torch.load(folder / "best_model.pth", weights_only=True)["history"]
    return {"rows": rows, "stages": {s: record["stages"][s]["seconds"] for s in STAGES},
            "epoch": sum(history["seconds"]) / len(history["seconds"]), "wall": wall,
            "peak_gb": max(peaks.values()) / 1024 ** 2}


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or SIZES
    print("| rows | 01 generate | 02 train (epoch) | 03 evaluate | 04 export | wall | peak memory (largest process) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for rows in sizes:
            r = run(rows, Path(tmp))
            s = r["stages"]
            print(f"| {rows:,} | {s['01_generate_data']:.1f} s | {s['02_train']:.1f} s ({r['epoch']:.2f} s) | "
                  f"{s['03_evaluate']:.1f} s | {s['04_export']:.1f} s | {r['wall']:.0f} s | {r['peak_gb']:.2f} GB |",
                  flush=True)
            shutil.rmtree(Path(tmp) / f"scale-{rows}", ignore_errors=True)   # the next size needs the disk


if __name__ == "__main__":
    main()
