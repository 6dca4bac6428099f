"""Sweep and reproduce benchmarks (not tests): `.venv/bin/python bench/bench_sweep.py`.

1. Four default-size runs (15,000 rows, epochs=3: learning_rate 1e-3 / 5e-4 x batch_size 64 / 128) one
   after another, then the same four as a 2x2 `bwkit sweep` on a 2-worker LocalCluster.
2. The sweep machinery's own cost: starting and closing the cluster, and a task's round trip.
3. `bwkit reproduce` of a default run: the time it adds beyond the run itself.
Everything lands in a temporary folder.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

GRID = ["learning_rate=1e-3,5e-4", "batch_size=64,128"]


def _noop(x):
    return x


def machinery() -> tuple[float, float]:
    from dask.distributed import Client, LocalCluster

    start = time.perf_counter()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        started = time.perf_counter() - start
        t0 = time.perf_counter()
        client.gather(client.map(_noop, range(4)))
        round_trip = time.perf_counter() - t0
    return started + (time.perf_counter() - start - started - round_trip), round_trip


def main() -> None:
    from bwkit.pipeline import runner as pipeline
    from bwkit.experiments import sweeps as sweep
    from bwkit.pipeline.reproduction import reproduce

    quiet = {"log": lambda *_: None}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["BWKIT_RUNS"] = tmp
        grid = sweep.parse_grid(GRID)
        start = time.perf_counter()
        for lr in grid["learning_rate"]:
            for batch in grid["batch_size"]:
                pipeline.run({"epochs": 3, "learning_rate": lr, "batch_size": batch}, runs_root=Path(tmp) / "seq", **quiet)
        sequential = time.perf_counter() - start
        start = time.perf_counter()
        sweep.run_sweep({"epochs": 3}, grid, sweep_id="bench", workers=2, progress=False, **quiet)
        swept = time.perf_counter() - start
        cluster, round_trip = machinery()
        start = time.perf_counter()
        index = pipeline.run({}, run_id="default", runs_root=tmp, **quiet)
        one_run = time.perf_counter() - start
        start = time.perf_counter()
        _, result = reproduce(index.parent, **quiet)
        reproduced = time.perf_counter() - start
        reproduced_run = json.loads((Path(tmp) / "default-reproduced" / "run.json").read_text())["wall_seconds"]
    print(f"| 4 runs (15,000 rows, epochs=3) one after another | {sequential:.1f} s |")
    print(f"| the same 4 as a 2x2 sweep, 2-worker LocalCluster (with its comparison page) | {swept:.1f} s "
          f"({swept / sequential:.2f}x) |")
    print(f"| sweep machinery: cluster start + close / 4 task round trips | {cluster:.2f} s / {round_trip:.3f} s "
          f"({100 * (cluster + round_trip) / one_run:.1f} % of one default run, {one_run:.1f} s) |")
    print(f"| bwkit reproduce of the default run: total / its run / added | {reproduced:.1f} s / {reproduced_run:.1f} s"
          f" / {reproduced - reproduced_run:.1f} s ({result['verdict']}) |")


if __name__ == "__main__":
    main()
