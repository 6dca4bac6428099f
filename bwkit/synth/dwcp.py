"""Profile ``dwcp``: one shared WAN link's physics, minute by minute, with an exact oracle.

One shared 1 Gbit/s WAN link (``CAPACITY_MBPS``), 1500-byte packets, a
``BUFFER_PKTS``-packet router buffer, ``PROP_RTT_MS`` of propagation round
trip.  Randomness comes only from ``numpy.random.default_rng(seed)``.  Hidden
state per minute and how it moves:

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

The oracle on row i is E[row i+1's observed metric | hidden state of row i,
timestamp of row i+1]: an exact sum over the next regime and Gauss-Hermite
quadrature over the Gaussian innovations (AR noise, queue burst, size of a
starting transfer); measurement noise is mean-zero and drops out.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..schema import METRICS, oracle_column

DWCP_COLUMNS = ("timestamp", *METRICS, "time_of_day", "day_of_week", "congestion_window",
                "queue_depth", "retransmits", *(oracle_column(m) for m in METRICS))

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
    """Noise-free minute means of the four metrics, from offered load and queue."""
    fill = q / BUFFER_PKTS
    red = 0.0016 * np.logaddexp(0.0, (fill - 0.35) / 0.08)      # smooth RED ramp
    overflow = np.maximum(0.0, 1.0 - RHO_MAX / rho)
    loss = np.minimum(1e-4 + 0.004 * fill + red + overflow, 1.0)
    qdelay = q * MS_PER_PKT
    return CAPACITY_MBPS * rho * (1.0 - loss), PROP_RTT_MS + qdelay, loss, 0.2 + 0.5 * qdelay


def _transitions():
    """Per-minute regime transition matrix: stay with probability exp(-1/dwell)."""
    stay = np.exp(-1.0 / REGIME_DWELL_MIN)
    return REGIME_NEXT * (1.0 - stay)[:, None] + np.diag(stay)


def _regimes(trans, u_regime):
    """Markov chain of regimes, started from its stationary distribution."""
    stationary = np.linalg.matrix_power(trans, 4096)[0]
    cum = np.cumsum(trans, axis=1).tolist()
    regime = [int(np.searchsorted(np.cumsum(stationary), u_regime[0]))]
    for u in u_regime[1:].tolist():
        row = cum[regime[-1]]
        regime.append(0 if u < row[0] else 1 if u < row[1] else 2)
    return np.array(regime)


def _ar_noise(eps):
    """AR(1) load noise, started from its stationary distribution."""
    ar = [AR_SD * eps[0]]
    for x in (AR_SD * np.sqrt(1.0 - AR_PHI ** 2) * eps[1:]).tolist():
        ar.append(AR_PHI * ar[-1] + x)
    return np.array(ar)


def _bulk(size, phase):
    """Bulk replication: one size per transfer, held while it runs."""
    n = len(phase)
    bulk = np.zeros(n)
    for k in np.flatnonzero((phase < BULK_DURATION_MIN) & ((phase == 0) | (np.arange(n) == 0))):
        bulk[k:k + BULK_DURATION_MIN - phase[k]] = size[k]
    return bulk


def _queue(rho, burst):
    """Queue (packets) relaxing toward its equilibrium, started at equilibrium."""
    a = np.exp(-1.0 / QUEUE_TAU_MIN)
    q_in = ((1.0 - a) * _queue_eq(rho) * burst).tolist()
    q = [float(_queue_eq(rho[0]))]
    for x in q_in[1:]:
        q.append(min(a * q[-1] + x, BUFFER_PKTS))
    return np.array(q)


def _observe(rng, ts, hour, dow, rho, q):
    """The observed columns (without the oracle): link means plus measurement noise."""
    n = len(ts)
    thr, rtt, loss, jitter = _link(rho, q)
    sent = thr * PKTS_PER_MIN_PER_MBPS
    lost = np.minimum(rng.poisson(loss * sent), sent)
    return pd.DataFrame({
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


def generate(n: int, seed: int, start: pd.Timestamp) -> pd.DataFrame:
    """``n`` rows of ``DWCP_COLUMNS`` from ``start`` (a UTC timestamp)."""
    rng = np.random.default_rng(seed)
    ts = pd.date_range(start, periods=n, freq="min")
    hour = (ts.hour + ts.minute / 60.0 + ts.second / 3600.0).to_numpy(float)
    dow = ts.dayofweek.to_numpy(np.int64)
    phase = ((ts.hour * 60 + ts.minute) % BULK_PERIOD_MIN).to_numpy(np.int64)
    demand = _demand(hour, dow)
    u_regime, eps = rng.random(n), rng.standard_normal(n)
    burst, size = _lognormal(rng, QUEUE_BURST_SD, n), _bulk_size(rng.standard_normal(n))

    trans = _transitions()
    regime, ar, bulk = _regimes(trans, u_regime), _ar_noise(eps), _bulk(size, phase)
    rho = np.maximum(demand + REGIME_OFFSET[regime] + ar + bulk, 0.02)
    q = _queue(rho, burst)
    df = _observe(rng, ts, hour, dow, rho, q)
    oracle = _oracle(trans, regime, ar, bulk, q, demand, phase)
    for metric, values in zip(METRICS, oracle):
        df[oracle_column(metric)] = values
    return df


def _oracle(trans, regime, ar, bulk, q, demand, phase):
    """E[next observed metrics | hidden state of row i, clock of row i+1]; NaN on the last row."""
    (za, wa), (zb, wb), (zs, ws) = _gauss(3), _gauss(3), _gauss(5)
    za, zb, zs = (g.ravel() for g in np.meshgrid(za, zb, zs, indexing="ij"))
    w = np.einsum("i,j,k->ijk", wa, wb, ws).ravel()
    burst = np.exp(QUEUE_BURST_SD * zb - 0.5 * QUEUE_BURST_SD ** 2)
    nph = phase[1:, None]
    bulk_next = np.where(nph == 0, _bulk_size(zs),
                         np.where(nph < BULK_DURATION_MIN, bulk[:-1, None], 0.0))
    ar_next = AR_PHI * ar[:-1, None] + AR_SD * np.sqrt(1.0 - AR_PHI ** 2) * za
    base = demand[1:, None] + ar_next + bulk_next
    out = [np.zeros(len(regime) - 1) for _ in METRICS]
    for r_next, offset in enumerate(REGIME_OFFSET):
        rho = np.maximum(base + offset, 0.02)
        p = trans[regime[:-1], r_next]
        for acc, value in zip(out, _link(rho, _step_queue(q[:-1, None], rho, burst))):
            acc += p * (value @ w)
    return [np.append(acc, np.nan) for acc in out]
