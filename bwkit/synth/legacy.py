"""Profile ``legacy``: a statistical reproduction of the original guide's generator.

I.i.d. noise around an hour / weekday profile, unix-second timestamps.  Its
first 22 columns are the legacy layout (``LEGACY_COLUMNS``); the four oracle
columns are appended: the conditional mean of the next row's metrics given its
hour and weekday, by Monte-Carlo over the noise (clipping included), drawn from
``default_rng([seed, 1])``.  Being i.i.d., it cannot be predicted well by any
model.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from bwkit.schema import METRICS, oracle_column
from bwkit.synth.text import labels

LEGACY_COLUMNS = (
    "timestamp", "region", "az", "link_type", "node_id", "peer_id", "rtt_ms", "jitter_ms",
    "throughput_mbps", "bytes_tx", "bytes_rx", "packet_loss", "retransmits",
    "congestion_window", "queue_depth", "dwcp_mode", "network_tier", "transport_type",
    "time_of_day", "day_of_week", "bandwidth_mbps", "latency_ms",
)
ORACLE_DRAWS = 20000                              # Monte-Carlo draws per (hour, weekend) pair


def _targets(rng, hour, weekend, *, size):
    """One draw of the original generator's metrics (and its congestion term)."""
    thr = (500 + 200 * np.sin(2 * np.pi * hour / 24)) \
        * np.where((hour >= 9) & (hour <= 17), 1.5, 1.0) * np.where(weekend, 0.7, 1.0)
    thr = np.clip(thr + rng.normal(0, 50, size), 10, 1000)
    rtt = np.clip(50 - (thr - 500) / 20 + rng.normal(0, 5, size), 5, 150)
    jitter = np.clip(0.1 * rtt + rng.exponential(2, size), 0.1, 20)
    congestion = (1000 - thr) / 1000
    loss = np.clip(0.05 * congestion + rng.exponential(0.001, size), 0, 0.1)
    return thr, rtt, loss, jitter, congestion


def generate(n: int, seed: int, start: pd.Timestamp) -> pd.DataFrame:
    """``n`` rows of ``LEGACY_COLUMNS`` then the oracle columns, from ``start`` (UTC)."""
    rng = np.random.default_rng(seed)
    ts = pd.date_range(start, periods=n, freq="min")
    hour, dow = ts.hour.to_numpy(np.int64), ts.day_of_week.to_numpy(np.int64)
    weekend = dow >= 5
    thr, rtt, loss, jitter, congestion = _targets(rng, hour, weekend, size=n)
    regions = ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-1"]
    region = rng.integers(0, 4, n)
    bytes_tx = (thr * 1024 * 1024 / 8 * 60 * rng.uniform(0.8, 1.2, n)).astype(np.int64)
    unix = (ts - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    cols = {
        "timestamp": unix.to_numpy(np.int64),
        "region": labels(regions, region),
        "az": labels([r + z for r in regions for z in "abc"], 3 * region + rng.integers(0, 3, n)),
        "link_type": _choice(rng, ["dc", "metro", "wan"], n, p=[0.4, 0.4, 0.2]),
        "node_id": rng.integers(1000, 2000, n),
        "peer_id": rng.integers(2000, 3000, n),
        "rtt_ms": rtt, "jitter_ms": jitter, "throughput_mbps": thr,
        "bytes_tx": bytes_tx,
        "bytes_rx": (bytes_tx * rng.uniform(0.9, 1.1, n)).astype(np.int64),
        "packet_loss": loss,
        "retransmits": (1000 * loss + rng.poisson(5, n)).astype(np.int64),
        "congestion_window": np.clip(2 * thr + rng.normal(0, 100, n), 100, 2000).astype(np.int64),
        "queue_depth": np.clip(100 * congestion + rng.exponential(10, n), 0, 200).astype(np.int64),
        "dwcp_mode": _choice(rng, ["standard", "turbo", "reliable"], n, p=[0.5, 0.3, 0.2]),
        "network_tier": _choice(rng, ["Premium", "Standard", "Economy"], n, p=[0.3, 0.5, 0.2]),
        "transport_type": _choice(rng, ["tcp", "quic", "udp"], n, p=[0.6, 0.3, 0.1]),
        "time_of_day": hour, "day_of_week": dow,
        "bandwidth_mbps": thr.copy(), "latency_ms": rtt.copy(),  # the frame keeps arrays uncopied
    }
    cols.update(zip(map(oracle_column, METRICS), _oracle(seed, hour, weekend)))
    names = (*LEGACY_COLUMNS, *map(oracle_column, METRICS))
    return pd.DataFrame({c: cols[c] for c in names}, copy=False)     # fresh arrays: no copy into blocks


def _choice(rng, names, n, *, p):
    """``rng.choice(names, n, p=p)`` (the same draws: choice picks indices either way) as text."""
    return labels(names, rng.choice(len(names), n, p=p))


def _oracle(seed, hour, weekend):
    """The next row's metrics depend only on its (hour, weekend): Monte-Carlo per pair; NaN last."""
    orng = np.random.default_rng([seed, 1])
    means = np.array([[v.mean() for v in _targets(orng, h, wk, size=ORACLE_DRAWS)[:4]]
                      for h in range(24) for wk in (False, True)])
    nxt = (hour * 2 + weekend)[1:]
    return [np.append(means[nxt, j], np.nan) for j in range(len(METRICS))]
