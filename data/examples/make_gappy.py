"""Write gappy.csv: the own-CSV example of docs/your-data.md (byte-identical on any machine).

    .venv/bin/python data/examples/make_gappy.py

Two links measured side by side over the same 33 hours (one row a minute, from the kit's
`dwcp` generator with two seeds), each a `trace_id` on its own `network`, with what real
telemetry brings:

* 5 % of `rtt_ms` and of `jitter_ms` empty, at random rows;
* `rtt_valid`: 0 on rows where `rtt_ms` is the previous value repeated (another 5 %, link-b only);
* a 20-minute hole in link-a's rows (a logger restart), so windows must not span it.
"""
from pathlib import Path

import numpy as np
import pandas as pd

from bwkit import synth

ROWS = 2000                       # per link: about 33 hours of one-minute rows
COLUMNS = ["timestamp", "throughput_mbps", "rtt_ms", "packet_loss", "jitter_ms", "time_of_day", "day_of_week",
           "congestion_window", "queue_depth", "retransmits"]


def link(seed: int, name: str, network: str) -> pd.DataFrame:
    frame = synth.generate(ROWS, seed, "dwcp", "2025-11-03T00:00:00Z")[COLUMNS]
    rng = np.random.default_rng(seed)
    for column in ("rtt_ms", "jitter_ms"):
        frame[column] = frame[column].where(rng.random(ROWS) >= 0.05)          # empty cells
    repeated = (rng.random(ROWS) < 0.05) & (name == "link-b")
    repeated[0] = False
    frame["rtt_ms"] = frame["rtt_ms"].where(~repeated, frame["rtt_ms"].shift(1))  # a stale value, flagged below
    frame.insert(1, "trace_id", name)
    frame.insert(2, "network", network)
    frame["rtt_valid"] = (~repeated).astype(int)
    if name == "link-a":                                                       # a logger restart: 20 rows lost
        frame = frame.drop(index=range(1200, 1220))
    return frame


if __name__ == "__main__":
    frame = pd.concat([link(11, "link-a", "carrier-x"), link(12, "link-b", "carrier-y")], ignore_index=True)
    frame.to_csv(Path(__file__).with_name("gappy.csv"), index=False, float_format="%.6g", lineterminator="\n")
