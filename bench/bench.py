"""bwkit benchmarks (not tests): `make bench`, or `.venv/bin/python bench/bench.py`.

Prints one table: windowing 15,000 rows, seconds per training epoch at the default
parameters, the full default `bwkit run` (wall time and stages) and single-window
ONNX latency on one CPU thread (as 04_export measured it). The run it makes
lands in a temporary folder.
"""
from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np


def machine() -> str:
    model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}"


def bench_windowing(repeats: int = 20) -> float:
    from bwkit import synth
    from bwkit.data.loader import split_names
    from bwkit.runs.params import configure
    from bwkit.features.windows import make_windows

    config = configure()
    frame = synth.generate(config["samples"], config["seed"], config["profile"], start=config["start"])
    X = frame[split_names(config["features"])].to_numpy(float)
    Y = frame[split_names(config["targets"])].to_numpy(float)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        make_windows(X, Y, 20)
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1e3)


def main() -> None:
    from bwkit.pipeline import runner as pipeline
    from bwkit.runs.artifacts import RunFolder
    from bwkit.runs.params import configure

    rows = [("machine", machine())]
    rows.append(("windowing 15,000 rows x 9 features, window 20 (median of 20)", f"{bench_windowing():.2f} ms"))
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        config = configure()
        pipeline.run(config, run_id="bench", runs_root=Path(tmp), log=lambda *_: None)
        wall = time.perf_counter() - start
        files = RunFolder(Path(tmp) / "bench")
        record = json.loads(files.run_json.read_text())
        report = json.loads(files.report.read_text())
        metadata = json.loads(files.metadata(config["model_version"]).read_text())
        import torch

        saved = torch.load(files.checkpoint, weights_only=True)
        epochs = saved["history"]["seconds"]
        rows.append(("training epoch at defaults (mean, epochs 2..)", f"{np.mean(epochs[1:]):.2f} s"
                     f" ({len(epochs)} epochs, best {saved['best_epoch']})"))
        rows.append(("training, selection on validation included", f"{saved['training_time_seconds']:.1f} s"))
        rows.append(("full default bwkit run, wall", f"{wall:.1f} s"))
        for stage, info in record["stages"].items():
            rows.append((f"  stage {stage} (papermill + HTML)", f"{info['seconds']:.1f} s"))
        lat = metadata["metrics"]["onnx_latency"]   # measured by 04_export (bwkit/serving/export.py, latency_ms)
        rows.append(("ONNX single-window latency, 1 thread", f"p50 {lat['p50_ms']:.3f} ms, p99 {lat['p99_ms']:.3f} ms"))
        avg = report["comparison"]["LSTM"]["average"]
        rows.append(("default run: LSTM avg correlation / MAPE", f"{avg['correlation']:.4f} / {avg['mape']:.2f} %"))
    width = max(len(k) for k, _ in rows)
    print(f"| {'benchmark':{width}} | result |\n|{'-' * (width + 2)}|--------|")
    for key, value in rows:
        print(f"| {key:{width}} | {value} |")


if __name__ == "__main__":
    main()
