"""Many short real traces with two features: the shipped 5G traces cut into 300-row pieces, throughput and uplink only.

    python bench/short_traces.py runs/short_traces.csv

The kind of data set the defaults once collapsed to persistence on (an LSTM skill near 0 where ridge found
0.27): short traces, so windows are few per trace and no trace's level is seen in training; two inputs, so
the window carries little. `bench_accuracy.py` and `explore_lstm.py --short-traces` derive it with this.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "data" / "irish5g" / "irish5g_download.csv.gz"
PIECE_ROWS = 300
SETTINGS = ["--set", "features=throughput_mbps,uplink_throughput_mbps", "--set", "targets=throughput_mbps"]


def write(path) -> Path:
    """The derived CSV (161 traces of at most 300 one-second rows), written to `path`."""
    rows = pd.read_csv(SOURCE, usecols=["timestamp", "trace_id", "throughput_mbps", "uplink_throughput_mbps"])
    piece = rows.groupby("trace_id").cumcount() // PIECE_ROWS
    rows["trace_id"] = rows["trace_id"].astype(str) + "-" + piece.astype(str)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows.to_csv(path, index=False)
    return path


if __name__ == "__main__":
    print(write(sys.argv[1] if len(sys.argv) > 1 else ROOT / "runs" / "short_traces.csv"))
