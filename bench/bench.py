"""bwkit benchmarks (not tests): `make bench`, or `.venv/bin/python bench/bench.py`.

Prints one table: windowing 15,000 rows, seconds per training epoch at the default
parameters, the full default `bwkit run` (wall time and stages) and single-window
ONNX latency on one CPU thread. The run it makes lands in a temporary folder.
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
    from bwkit.data import DEFAULT_FEATURES, DEFAULT_TARGETS
    from bwkit.windows import make_windows

    frame = synth.generate(samples=15000)
    X, Y = frame[list(DEFAULT_FEATURES)].to_numpy(float), frame[list(DEFAULT_TARGETS)].to_numpy(float)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        make_windows(X, Y, 20)
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1e3)


def main() -> None:
    from bwkit import pipeline
    from bwkit.export import latency_ms

    rows = [("machine", machine())]
    rows.append(("windowing 15,000 rows x 9 features, window 20 (median of 20)", f"{bench_windowing():.2f} ms"))
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        pipeline.run({}, run_id="bench", runs_root=Path(tmp), log=lambda *_: None)
        wall = time.perf_counter() - start
        run = Path(tmp) / "bench"
        record = json.loads((run / "run.json").read_text())
        report = json.loads((run / "bandwidth_predictor_report.json").read_text())
        import torch

        saved = torch.load(run / "best_model.pth", weights_only=True)
        epochs = saved["history"]["seconds"]
        rows.append(("training epoch at defaults (mean, epochs 2..)", f"{np.mean(epochs[1:]):.2f} s"
                     f" ({len(epochs)} epochs, best {saved['best_epoch']})"))
        rows.append(("training stage: train_model()", f"{saved['training_time_seconds']:.1f} s"))
        rows.append(("full default bwkit run, wall", f"{wall:.1f} s"))
        for stage, info in record["stages"].items():
            rows.append((f"  stage {stage} (papermill + HTML)", f"{info['seconds']:.1f} s"))
        lat = latency_ms(next(run.glob("bandwidth_lstm_*.onnx")), 20, len(saved["features"]))
        rows.append(("ONNX single-window latency, 1 thread", f"p50 {lat['p50_ms']:.3f} ms, p99 {lat['p99_ms']:.3f} ms"))
        avg = report["comparison"]["LSTM"]["average"]
        rows.append(("default run: LSTM avg correlation / MAPE", f"{avg['correlation']:.4f} / {avg['mape']:.2f} %"))
    width = max(len(k) for k, _ in rows)
    print(f"| {'benchmark':{width}} | result |\n|{'-' * (width + 2)}|--------|")
    for key, value in rows:
        print(f"| {key:{width}} | {value} |")


if __name__ == "__main__":
    main()
