"""Deterministic synthetic network telemetry: one row per minute, with an oracle.

``generate(samples, seed, profile, start)`` returns a DataFrame and
``write_csv(df, path)`` writes it byte-for-byte reproducibly.  Randomness comes
only from ``numpy.random.default_rng(seed)`` (the legacy oracle from
``default_rng([seed, 1])``); the wall clock is never read.

Profile ``dwcp`` (default): one shared 1 Gbit/s WAN link (``CAPACITY_MBPS``),
1500-byte packets, a ``BUFFER_PKTS``-packet router buffer, ``PROP_RTT_MS`` of
propagation round trip.  Hidden state per minute and how it moves:

* offered load ``rho`` (fraction of capacity) = diurnal and weekday demand
  (peak 14:00 UTC, weekends x0.8) + a congestion regime (Markov chain
  normal / busy / congested, mean dwell 60 / 25 / 10 min, adding
  ``REGIME_OFFSET``) + AR(1) load noise (phi 0.98) + a scheduled bulk
  replication: every ``BULK_PERIOD_MIN`` minutes (clock aligned) a transfer of
  random size starts, paced to finish in ``BULK_DURATION_MIN`` minutes;
* queue (packets) relaxes with time constant ``QUEUE_TAU_MIN`` minutes (TCP
  senders adapting) toward an M/M/1-like equilibrium ``K rho / (1 - rho)``,
  softly capped by the buffer, with multiplicative burst noise.

Observed columns (``DWCP_COLUMNS``), from that state:

* ``throughput_mbps`` (Mbit/s): offered load x (1 - loss), never above
  ``RHO_MAX`` of capacity;
* ``rtt_ms`` (ms): propagation + queueing delay (12 us per queued packet);
* ``packet_loss`` (ratio 0..1): residual loss + a term linear in buffer fill +
  a smooth RED-like ramp as the queue nears the buffer + overflow when the
  offered load exceeds capacity; measured as Poisson lost / sent packets;
* ``jitter_ms`` (ms): 0.2 + 0.5 x queueing delay (M/M/1 delay spread ~ mean);
* ``time_of_day`` (fractional hour 0..24), ``day_of_week`` (0 = Monday);
* ``congestion_window`` (packets, per flow): throughput x RTT / packet size /
  ``N_FLOWS``; ``queue_depth`` (packets); ``retransmits`` (count): lost
  packets + spurious timeouts;
* small i.i.d., mean-preserving measurement noise on each of them.

``oracle_next_<target>`` on row i is E[row i+1's observed target | hidden
state of row i, timestamp of row i+1]: an exact sum over the next regime and
Gauss-Hermite quadrature over the Gaussian innovations (AR noise, queue burst,
size of a starting transfer); measurement noise is mean-zero and drops out.
The last row's oracle values are NaN (empty in the CSV).

Profile ``legacy``: a statistical reproduction of the original guide's
generator (i.i.d. noise around an hour / weekday profile, unix-second
timestamps).  Its first 22 columns are the legacy layout (``LEGACY_COLUMNS``);
the four ``oracle_next_*`` columns are appended: the conditional mean of the
next row's targets given its hour and weekday, by Monte-Carlo over the noise
(clipping included).  Being i.i.d., it cannot be predicted well by any model.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

PROFILES = ("dwcp", "legacy")
TARGETS = ("throughput_mbps", "rtt_ms", "packet_loss", "jitter_ms")
ORACLE_COLUMNS = tuple(f"oracle_next_{t}" for t in TARGETS)
DWCP_COLUMNS = ("timestamp", *TARGETS, "time_of_day", "day_of_week", "congestion_window",
                "queue_depth", "retransmits", *ORACLE_COLUMNS)
LEGACY_COLUMNS = (
    "timestamp", "region", "az", "link_type", "node_id", "peer_id", "rtt_ms", "jitter_ms",
    "throughput_mbps", "bytes_tx", "bytes_rx", "packet_loss", "retransmits",
    "congestion_window", "queue_depth", "dwcp_mode", "network_tier", "transport_type",
    "time_of_day", "day_of_week", "bandwidth_mbps", "latency_ms",
)

# --- dwcp link physics -------------------------------------------------------
CAPACITY_MBPS = 1000.0
PACKET_BITS = 1500 * 8
BUFFER_PKTS = 2500.0
PROP_RTT_MS = 20.0
MS_PER_PKT = PACKET_BITS / (CAPACITY_MBPS * 1e3)   # 0.012 ms of delay per queued packet
PKTS_PER_MIN_PER_MBPS = 60e6 / PACKET_BITS        # 5000 packets per minute per Mbit/s
RHO_MAX = 0.985                                   # most the link carries (fraction)
QUEUE_K = 300.0                                   # burstiness scale of the M/M/1-like queue
QUEUE_TAU_MIN = 3.0
QUEUE_BURST_SD = 0.04
N_FLOWS = 8
REGIME_OFFSET = np.array([0.0, 0.05, 0.10])       # normal, busy, congested
REGIME_DWELL_MIN = np.array([60.0, 25.0, 10.0])
REGIME_NEXT = np.array([[0.0, 0.8, 0.2],          # where a regime goes when it ends
                        [0.7, 0.0, 0.3],
                        [0.3, 0.7, 0.0]])
AR_PHI, AR_SD = 0.98, 0.03                        # AR(1) load noise, stationary sd
BULK_PERIOD_MIN, BULK_DURATION_MIN = 10, 4
BULK_MEAN, BULK_CV = 0.20, 0.15                   # paced transfer rate, fraction of capacity
NOISE_SD = {"throughput": 0.005, "qdelay": 0.03, "jitter": 0.02, "queue": 0.03, "cwnd": 0.02}


def _parse_start(start) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(start)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"start={start!r} is not a parseable timestamp "
                         "(expected ISO 8601, e.g. '2025-11-03T00:00:00Z')") from exc
    if ts is pd.NaT:
        raise ValueError(f"start={start!r} is not a timestamp")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    if ts.microsecond or ts.nanosecond:
        raise ValueError(f"start={start!r} must be a whole second")
    return ts


def _lognormal(rng, sd, size):
    """Mean-one multiplicative noise."""
    return np.exp(sd * rng.standard_normal(size) - 0.5 * sd * sd)


def _gauss(n):
    """Gauss-Hermite nodes and weights for a standard normal."""
    z, w = np.polynomial.hermite_e.hermegauss(n)
    return z, w / w.sum()


def _demand(hour, dow):
    """Background load (fraction of capacity) from the clock."""
    diurnal = 0.38 + 0.15 * np.cos(2 * np.pi * (hour - 14.0) / 24.0)
    return diurnal * np.where(dow >= 5, 0.8, 1.0)


def _bulk_size(z):
    """Paced rate of a replication transfer (log-normal, mean BULK_MEAN) from N(0,1) z."""
    sig = np.sqrt(np.log1p(BULK_CV ** 2))
    return BULK_MEAN * np.exp(sig * z - 0.5 * sig * sig)


def _queue_eq(rho):
    """M/M/1-like equilibrium queue (packets), softly capped by the buffer."""
    x = QUEUE_K * rho / (1.0 - np.minimum(rho, 0.999))
    return BUFFER_PKTS * (1.0 - np.exp(-x / BUFFER_PKTS))


def _step_queue(q_prev, rho, burst):
    a = np.exp(-1.0 / QUEUE_TAU_MIN)
    return np.minimum(a * q_prev + (1.0 - a) * _queue_eq(rho) * burst, BUFFER_PKTS)


def _link(rho, q):
    """Noise-free minute means of the four targets, from offered load and queue."""
    fill = q / BUFFER_PKTS
    red = 0.0016 * np.logaddexp(0.0, (fill - 0.35) / 0.08)      # smooth RED ramp
    overflow = np.maximum(0.0, 1.0 - RHO_MAX / rho)
    loss = np.minimum(1e-4 + 0.004 * fill + red + overflow, 1.0)
    qdelay = q * MS_PER_PKT
    return CAPACITY_MBPS * rho * (1.0 - loss), PROP_RTT_MS + qdelay, loss, 0.2 + 0.5 * qdelay


def _dwcp(n: int, seed: int, start: pd.Timestamp) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ts = pd.date_range(start, periods=n, freq="min")
    hour = (ts.hour + ts.minute / 60.0 + ts.second / 3600.0).to_numpy(float)
    dow = ts.dayofweek.to_numpy(np.int64)
    phase = ((ts.hour * 60 + ts.minute) % BULK_PERIOD_MIN).to_numpy(np.int64)
    demand = _demand(hour, dow)
    u_regime, eps = rng.random(n), rng.standard_normal(n)
    burst, size = _lognormal(rng, QUEUE_BURST_SD, n), _bulk_size(rng.standard_normal(n))

    # regime: Markov chain with per-minute stay probability exp(-1/dwell)
    stay = np.exp(-1.0 / REGIME_DWELL_MIN)
    trans = REGIME_NEXT * (1.0 - stay)[:, None] + np.diag(stay)
    stationary = np.linalg.matrix_power(trans, 4096)[0]
    cum = np.cumsum(trans, axis=1).tolist()
    regime = [int(np.searchsorted(np.cumsum(stationary), u_regime[0]))]
    for u in u_regime[1:].tolist():
        row = cum[regime[-1]]
        regime.append(0 if u < row[0] else 1 if u < row[1] else 2)
    regime = np.array(regime)
    # AR(1) load noise, started from its stationary distribution
    ar = [AR_SD * eps[0]]
    for x in (AR_SD * np.sqrt(1.0 - AR_PHI ** 2) * eps[1:]).tolist():
        ar.append(AR_PHI * ar[-1] + x)
    ar = np.array(ar)
    # bulk replication: one size per transfer, held while it runs
    bulk = np.zeros(n)
    for k in np.flatnonzero((phase < BULK_DURATION_MIN) & ((phase == 0) | (np.arange(n) == 0))):
        bulk[k:k + BULK_DURATION_MIN - phase[k]] = size[k]
    rho = np.maximum(demand + REGIME_OFFSET[regime] + ar + bulk, 0.02)
    # queue relaxing toward equilibrium
    a = np.exp(-1.0 / QUEUE_TAU_MIN)
    q_in = ((1.0 - a) * _queue_eq(rho) * burst).tolist()
    q = [float(_queue_eq(rho[0]))]
    for x in q_in[1:]:
        q.append(min(a * q[-1] + x, BUFFER_PKTS))
    q = np.array(q)

    thr, rtt, loss, jitter = _link(rho, q)
    sent = thr * PKTS_PER_MIN_PER_MBPS
    lost = np.minimum(rng.poisson(loss * sent), sent)
    df = pd.DataFrame({
        "timestamp": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "throughput_mbps": np.minimum(thr * _lognormal(rng, NOISE_SD["throughput"], n),
                                      CAPACITY_MBPS),
        "rtt_ms": PROP_RTT_MS + (rtt - PROP_RTT_MS) * _lognormal(rng, NOISE_SD["qdelay"], n),
        "packet_loss": lost / sent,
        "jitter_ms": jitter * _lognormal(rng, NOISE_SD["jitter"], n),
        "time_of_day": hour,
        "day_of_week": dow,
        "congestion_window": np.rint(thr * 1e3 * rtt / PACKET_BITS / N_FLOWS
                                     * _lognormal(rng, NOISE_SD["cwnd"], n)).astype(np.int64),
        "queue_depth": np.round(q * _lognormal(rng, NOISE_SD["queue"], n), 1),
        "retransmits": (lost + rng.poisson(1e-5 * sent)).astype(np.int64),
    })
    oracle = _dwcp_oracle(trans, regime, ar, bulk, q, demand, phase)
    for col, values in zip(ORACLE_COLUMNS, oracle):
        df[col] = values
    return df


def _dwcp_oracle(trans, regime, ar, bulk, q, demand, phase):
    """E[next observed targets | hidden state of row i, clock of row i+1]."""
    (za, wa), (zb, wb), (zs, ws) = _gauss(3), _gauss(3), _gauss(5)
    za, zb, zs = (g.ravel() for g in np.meshgrid(za, zb, zs, indexing="ij"))
    w = np.einsum("i,j,k->ijk", wa, wb, ws).ravel()
    burst = np.exp(QUEUE_BURST_SD * zb - 0.5 * QUEUE_BURST_SD ** 2)
    nph = phase[1:, None]
    bulk_next = np.where(nph == 0, _bulk_size(zs),
                         np.where(nph < BULK_DURATION_MIN, bulk[:-1, None], 0.0))
    ar_next = AR_PHI * ar[:-1, None] + AR_SD * np.sqrt(1.0 - AR_PHI ** 2) * za
    base = demand[1:, None] + ar_next + bulk_next
    out = [np.zeros(len(regime) - 1) for _ in TARGETS]
    for r_next, offset in enumerate(REGIME_OFFSET):
        rho = np.maximum(base + offset, 0.02)
        p = trans[regime[:-1], r_next]
        for acc, value in zip(out, _link(rho, _step_queue(q[:-1, None], rho, burst))):
            acc += p * (value @ w)
    return [np.append(acc, np.nan) for acc in out]


def _legacy_targets(rng, hour, weekend, size):
    """One draw of the original generator's targets (and its congestion term)."""
    thr = (500 + 200 * np.sin(2 * np.pi * hour / 24)) \
        * np.where((hour >= 9) & (hour <= 17), 1.5, 1.0) * np.where(weekend, 0.7, 1.0)
    thr = np.clip(thr + rng.normal(0, 50, size), 10, 1000)
    rtt = np.clip(50 - (thr - 500) / 20 + rng.normal(0, 5, size), 5, 150)
    jitter = np.clip(0.1 * rtt + rng.exponential(2, size), 0.1, 20)
    congestion = (1000 - thr) / 1000
    loss = np.clip(0.05 * congestion + rng.exponential(0.001, size), 0, 0.1)
    return thr, rtt, loss, jitter, congestion


def _legacy(n: int, seed: int, start: pd.Timestamp) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ts = pd.date_range(start, periods=n, freq="min")
    hour, dow = ts.hour.to_numpy(np.int64), ts.dayofweek.to_numpy(np.int64)
    weekend = dow >= 5
    thr, rtt, loss, jitter, congestion = _legacy_targets(rng, hour, weekend, n)
    regions = np.array(["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-1"])
    region = regions[rng.integers(0, 4, n)]
    bytes_tx = (thr * 1024 * 1024 / 8 * 60 * rng.uniform(0.8, 1.2, n)).astype(np.int64)
    unix = (ts - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    cols = {
        "timestamp": unix.to_numpy(np.int64),
        "region": region,
        "az": np.char.add(region, np.array(["a", "b", "c"])[rng.integers(0, 3, n)]),
        "link_type": rng.choice(["dc", "metro", "wan"], n, p=[0.4, 0.4, 0.2]),
        "node_id": rng.integers(1000, 2000, n),
        "peer_id": rng.integers(2000, 3000, n),
        "rtt_ms": rtt, "jitter_ms": jitter, "throughput_mbps": thr,
        "bytes_tx": bytes_tx,
        "bytes_rx": (bytes_tx * rng.uniform(0.9, 1.1, n)).astype(np.int64),
        "packet_loss": loss,
        "retransmits": (1000 * loss + rng.poisson(5, n)).astype(np.int64),
        "congestion_window": np.clip(2 * thr + rng.normal(0, 100, n), 100, 2000).astype(np.int64),
        "queue_depth": np.clip(100 * congestion + rng.exponential(10, n), 0, 200).astype(np.int64),
        "dwcp_mode": rng.choice(["standard", "turbo", "reliable"], n, p=[0.5, 0.3, 0.2]),
        "network_tier": rng.choice(["Premium", "Standard", "Economy"], n, p=[0.3, 0.5, 0.2]),
        "transport_type": rng.choice(["tcp", "quic", "udp"], n, p=[0.6, 0.3, 0.1]),
        "time_of_day": hour, "day_of_week": dow,
        "bandwidth_mbps": thr, "latency_ms": rtt,
    }
    df = pd.DataFrame({c: cols[c] for c in LEGACY_COLUMNS})
    # oracle: the next row's targets depend only on its (hour, weekend): Monte-Carlo per pair
    orng, draws = np.random.default_rng([seed, 1]), 20000
    means = np.array([[v.mean() for v in _legacy_targets(orng, h, wk, draws)[:4]]
                      for h in range(24) for wk in (False, True)])
    nxt = (hour * 2 + weekend)[1:]
    for j, col in enumerate(ORACLE_COLUMNS):
        df[col] = np.append(means[nxt, j], np.nan)
    return df


def generate(samples: int = 15000, seed: int = 42, profile: str = "dwcp",
             start: str = "2025-11-03T00:00:00Z") -> pd.DataFrame:
    """Synthetic telemetry, one row per minute from ``start`` (UTC; naive = UTC).

    Columns: ``DWCP_COLUMNS`` for ``profile="dwcp"``; ``LEGACY_COLUMNS`` then
    ``ORACLE_COLUMNS`` for ``profile="legacy"``.  See the module docstring.
    """
    if profile not in PROFILES:
        raise ValueError(f"profile={profile!r} is unknown; choose one of {PROFILES}")
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 1:
        raise ValueError(f"samples={samples!r} must be an integer >= 1")
    ts = _parse_start(start)
    return (_dwcp if profile == "dwcp" else _legacy)(int(samples), int(seed), ts)


def write_csv(df: pd.DataFrame, path) -> None:
    """Write ``df`` with '%.6g' floats, empty NaN and '\\n' line endings (byte-deterministic)."""
    df.to_csv(path, index=False, float_format="%.6g", lineterminator="\n", na_rep="")
