"""What the split rule and the gap rule do to a data set (not a test): `.venv/bin/python bench/bench_splits.py [preset]`.

Loads the data the way 02_train does (the preset's parameters, default presets/irish5g.yml)
and prints, for split=time and split=file, each split's span and windows, the traces' or
groups' shares, the warnings, and the windows the gap rule drops. No training.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from bwkit.features import split_summary
from bwkit.runs import configure
from bwkit.training import load_data

ROOT = Path(__file__).resolve().parent.parent

if __name__ == "__main__":
    preset = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "presets" / "irish5g.yml")
    config = configure(parameters_file=preset)
    telemetry = load_data(config)
    for note in telemetry.notes:
        print("note:", note)
    for split in ("time", "file"):
        record = split_summary(telemetry, config["window_size"], split)
        print(f"\nsplit={split}: {record['dropped_for_gaps']:,} windows dropped for gaps "
              f"(max_gap_cadences {record['max_gap_cadences']:g} x {record['cadence_seconds']:g} s)")
        print(pd.DataFrame(record["table"]).to_string(index=False))
        shares = pd.DataFrame(record["shares"])
        print("largest share of each split (%):", {s: float(shares[s].max()) for s in ("train", "val", "test")})
        for line in record["warnings"]:
            print(line)
