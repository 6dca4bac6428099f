"""Gappy targets and side-by-side traces (not a test): `.venv/bin/python bench/bench_masks.py [run ...]`.

Runs `bwkit run` on data/examples/gappy.csv (5 % of rtt_ms and jitter_ms empty, rtt_valid
flagging repeated values, two links recorded at the same time, a hole in one of them):
"defaults" (only data_path set), then "time" and "file" (rtt_valid and the network column
named, split=time and split=file); name runs to do only those. Prints, per run, the rows masked per target, each
split's share of each network, the windows the gap rule dropped, the split warnings, the test
rows each target is scored on and the LSTM's and ridge's skill per target. Runs are kept in
runs/bench-masks/ for their pages.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = ROOT / "runs" / "bench-masks"
DATA = ROOT / "data" / "examples" / "gappy.csv"
SETS = ["valid_column=rtt_valid", "valid_targets=rtt_ms", "group_column=network"]


RUNS_SET = {"defaults": [f"data_path={DATA}"], "time": [f"data_path={DATA}", "split=time", *SETS],
            "file": [f"data_path={DATA}", "split=file", *SETS]}


def run(name: str) -> dict:
    run_id = f"gappy-{name}"
    shutil.rmtree(RUNS / run_id, ignore_errors=True)
    args = [a for s in RUNS_SET[name] for a in ("--set", s)]
    subprocess.run([sys.executable, "-m", "bwkit.cli", "run", "--run-id", run_id, *args], check=True,
                   capture_output=True, env={**os.environ, "BWKIT_RUNS": str(RUNS)})
    return json.loads((RUNS / run_id / "bandwidth_predictor_report.json").read_text())


def show(name: str, report: dict) -> None:
    data, comparison = report["data"], report["comparison"]
    print(f"\n{name} (split={data['split']['split']}): {data['rows']:,} rows, {data['traces']} traces; test rows {report['test_rows']:,}")
    for target, counts in data["masked"].items():
        print(f"  {target:16s} masked {counts['masked']:5,d} (missing {counts['missing']:,}, stale {counts['stale']:,}, "
              f"invalid {counts['invalid']:,}); scored on {comparison['LSTM']['per_target'][target]['n']:,} test rows; "
              f"skill LSTM {comparison['LSTM']['per_target'][target]['skill']:.3f}, "
              f"ridge {comparison['ridge']['per_target'][target]['skill']:.3f}")
    record = data["split"]
    print(f"  windows dropped for gaps: {record['dropped_for_gaps']}")
    for share in record["shares"]:
        print("  share %: " + ", ".join(f"{k} {v}" for k, v in share.items()))
    for line in record["warnings"]:
        print("  " + line)


if __name__ == "__main__":
    for name in sys.argv[1:] or list(RUNS_SET):
        show(name, run(name))
