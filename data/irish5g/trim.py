"""Re-create irish5g_download.csv.gz from the full shared CSV (byte-identical: gzip mtime 0).

    .venv/bin/python data/irish5g/trim.py ../shared/data/irish5g/irish5g_download.csv
"""
import gzip
import sys
from pathlib import Path

import pandas as pd

COLUMNS = ["timestamp", "trace_id", "mobility", "throughput_mbps", "rtt_ms", "packet_loss", "jitter_ms", "ping_age_s",
           "uplink_throughput_mbps", "rsrp_dbm", "rsrq_db", "snr_db", "cqi", "rssi_dbm", "speed_kmh", "cell_change",
           "is_5g", "filled"]

if __name__ == "__main__":
    text = pd.read_csv(sys.argv[1])[COLUMNS].to_csv(index=False, lineterminator="\n")
    with gzip.GzipFile(Path(__file__).with_name("irish5g_download.csv.gz"), "wb", mtime=0) as out:
        out.write(text.encode())
