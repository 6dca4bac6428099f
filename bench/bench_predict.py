"""Serving benchmarks (not tests): `make bench`, or `.venv/bin/python bench/bench_predict.py [RUN_DIR]`.

With no RUN_DIR, makes a default `bwkit run` in a temporary folder first. Prints one table:

* single-window latency, p50 / p99 over 5,000 calls after 500 warm-up calls, one thread:
  `Predictor.next` on 20 raw rows (numeric timestamps: the fast path; ISO strings: the full
  checks), `Predictor.predict_windows` on a prepared array, a bare onnxruntime session, and
  PyTorch eager on the CPU;
* batch throughput (windows per second) of `Predictor.predict_windows` at batch 1, 64 and 1024,
  on one thread and on two;
* `bwkit predict` on a 1,000,000-row CSV (two onnxruntime threads): wall time, rows per
  second and the command's peak resident memory (getrusage of the child).
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import machine  # noqa: E402

CALLS, WARMUP, CSV_ROWS = 5000, 500, 1_000_000


def percentiles(call) -> str:
    for _ in range(WARMUP):
        call()
    times = np.empty(CALLS)
    for i in range(CALLS):
        start = time.perf_counter()
        call()
        times[i] = time.perf_counter() - start
    return f"{np.percentile(times, 50) * 1e3:.3f} / {np.percentile(times, 99) * 1e3:.3f} ms"


def throughput(predictor, window: np.ndarray, batch: int) -> str:
    x = np.repeat(window, batch, axis=0)
    predictor.predict_windows(x)
    calls = max(20, 20_000 // batch)
    start = time.perf_counter()
    for _ in range(calls):
        predictor.predict_windows(x)
    return f"{calls * batch / (time.perf_counter() - start):,.0f} windows/s"


def latency_rows(run: Path) -> list[tuple[str, str]]:
    import onnxruntime as ort
    import torch

    from bwkit.training.model import load_checkpoint
    from bwkit.serving.predictor import Predictor

    predictor = Predictor.from_run(run, threads=1)
    w = predictor.recipe.window_size
    frame = pd.read_csv(predictor.metadata["data"]["path"], nrows=w)
    iso = frame.to_dict("records")
    seconds = (pd.to_datetime(frame["timestamp"], utc=True) - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
    numeric = frame.assign(timestamp=seconds.astype(float)).to_dict("records")
    window = predictor.recipe.matrix({c: frame[c].to_numpy(float) for c in predictor.recipe.columns},
                                     seconds.to_numpy(float) + 60, np.zeros(w, int))[None]
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
    bare = ort.InferenceSession(str(predictor.onnx_path), options, providers=["CPUExecutionProvider"])
    torch.set_num_threads(1)
    model, _ = load_checkpoint(run / "best_model.pth")
    tensor = torch.from_numpy(window)

    def eager():
        with torch.no_grad():
            model(tensor)
    rows = [("Predictor.next, 20 raw rows, unix-second timestamps (1 thread)", percentiles(lambda: predictor.next(numeric))),
            ("Predictor.next, 20 raw rows, ISO 8601 timestamps (1 thread)", percentiles(lambda: predictor.next(iso))),
            ("Predictor.predict_windows, one prepared window (1 thread)", percentiles(lambda: predictor.predict_windows(window))),
            ("bare onnxruntime session, one window (1 thread)", percentiles(lambda: bare.run(None, {"input": window}))),
            ("PyTorch eager on the CPU, one window (1 thread)", percentiles(eager))]
    for threads in (1, 2):
        served = Predictor.from_run(run, threads=threads)
        for batch in (1, 64, 1024):
            rows.append((f"batch throughput, batch {batch} ({threads} thread{'s' * (threads > 1)})",
                         throughput(served, window, batch)))
    return rows


def peak_memory_mb(command: list[str]) -> float:
    """Run `command`; its peak resident memory (VmHWM, polled from /proc until it exits).

    getrusage(RUSAGE_CHILDREN) would count the parent's pages at fork, before the exec.
    """
    child, peak = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE), 0
    status = Path(f"/proc/{child.pid}/status")
    while child.poll() is None:
        try:
            line = next(x for x in status.read_text().splitlines() if x.startswith("VmHWM"))
            peak = max(peak, int(line.split()[1]))
        except (OSError, StopIteration):
            pass
        time.sleep(0.02)
    if child.returncode:
        raise RuntimeError(child.stderr.read().decode())
    return peak / 1024


def scoring_rows(run: Path, folder: Path) -> list[tuple[str, str]]:
    from bwkit import synth

    csv = folder / "million.csv"
    synth.write(csv, CSV_ROWS, 7, profile="dwcp", start="2025-11-03T00:00:00Z")
    start = time.perf_counter()
    peak = peak_memory_mb([sys.executable, "-m", "bwkit.cli", "predict", str(run), str(csv),
                           "-o", str(folder / "p.csv"), "--threads", "2"])
    seconds = time.perf_counter() - start
    return [(f"bwkit predict, {CSV_ROWS:,}-row CSV (2 threads): wall", f"{seconds:.1f} s"),
            ("bwkit predict: rows per second", f"{CSV_ROWS / seconds:,.0f}"),
            ("bwkit predict: peak resident memory", f"{peak:,.0f} MB")]


def main() -> None:
    from bwkit.pipeline import runner as pipeline
    from bwkit.runs.params import configure

    with tempfile.TemporaryDirectory() as tmp:
        run = Path(sys.argv[1]) if len(sys.argv) > 1 else None
        if run is None:
            run = Path(tmp) / "bench"
            pipeline.run(configure(), run_id="bench", runs_root=Path(tmp), log=lambda *_: None)
        rows = [("machine", machine())] + latency_rows(run) + scoring_rows(run, Path(tmp))
    width = max(len(name) for name, _ in rows)
    print(f"| {'serving benchmark':{width}} | result |\n|{'-' * (width + 2)}|--------|")
    for name, value in rows:
        print(f"| {name:{width}} | {value} |")


if __name__ == "__main__":
    main()
