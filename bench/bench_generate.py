"""Data generator benchmark (not a test): `.venv/bin/python bench/bench_generate.py`.

Times `bwkit.synth.write` (generation and the CSV write together, as 01_generate_data
runs it) for both profiles at 150,000 and 1,500,000 rows, best of two runs (one at
the largest size), and prints rows, seconds and rows per second. The goal is at
least 200,000 rows per second on the 2-core reference machine. Files land in a
temporary folder.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import machine  # noqa: E402

SIZES = (150_000, 1_500_000)
PROFILES = ("dwcp", "legacy")
START = "2025-11-03T00:00:00Z"


def best_seconds(path: Path, rows: int, profile: str, repeats: int) -> float:
    """Best wall time of `repeats` writes: the least disturbed by other work on the machine."""
    from bwkit import synth

    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        synth.write(path, rows, 42, profile=profile, start=START)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    print(f"machine: {machine()}")
    print("| profile | rows | seconds | rows per second |\n|---------|-----:|--------:|----------------:|")
    with tempfile.TemporaryDirectory() as tmp:
        best_seconds(Path(tmp) / "warmup.csv", 1000, "dwcp", 1)    # imports and tables are not timed
        for profile in PROFILES:
            for rows in SIZES:
                seconds = best_seconds(Path(tmp) / f"{profile}.csv", rows, profile, 2 if rows < 1_000_000 else 1)
                print(f"| {profile} | {rows:,} | {seconds:.2f} | {rows / seconds:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
