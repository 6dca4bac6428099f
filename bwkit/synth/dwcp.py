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

from bwkit.schema import METRICS, oracle_column
from bwkit.synth.text import iso_stamps
from bwkit.synth.threads import ordered_map

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
QUEUE_BLOCK = 4096                                # minutes of queue filtered at once
ORACLE_BLOCK = 8192                               # oracle rows per block; a multiple of 4 (see _oracle)


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
    """Markov chain of regimes, started from its stationary distribution.

    Each minute's draw u maps every regime to the next one (0 if u < cum[r][0],
    else 1 if u < cum[r][1], else 2): a map of {0, 1, 2} to itself, coded
    f(0) + 3 f(1) + 9 f(2).  Maps compose through a 27 x 27 table, so the chain is
    a prefix composition, log2(n) vectorised steps, with the loop's comparisons."""
    stationary = np.linalg.matrix_power(trans, 4096)[0]
    cum = np.cumsum(trans, axis=1)
    first = int(np.searchsorted(np.cumsum(stationary), u_regime[0]))
    u = u_regime[1:, None]
    step = ((u >= cum[:, 0]).astype(np.int16) + (u >= cum[:, 1])) @ np.array([1, 3, 9], np.int16)
    maps = np.array([_code(g, f) for g in range(27) for f in range(27)], np.int16)
    shift = 1
    while shift < len(step):
        step[shift:] = maps.take(step[shift:] * 27 + step[:-shift])
        shift *= 2
    return np.concatenate([[first], step // 3 ** first % 3]).astype(np.int64)


def _code(g, f):
    """The code of map g after map f, r -> g(f(r)) (see ``_regimes``)."""
    g_of, f_of = ([code // 3 ** r % 3 for r in range(3)] for code in (g, f))
    return sum(g_of[f_of[r]] * 3 ** r for r in range(3))


def _ar_noise(eps):
    """AR(1) load noise, started from its stationary distribution.

    ``lfilter`` computes each step as phi * previous + innovation, the very
    operations of the minute-by-minute recurrence, so the values are identical."""
    from scipy.signal import lfilter   # here: importing scipy.signal costs every notebook half a second

    x = AR_SD * np.sqrt(1.0 - AR_PHI ** 2) * eps
    x[:1] = AR_SD * eps[:1]
    return lfilter([1.0], [1.0, -AR_PHI], x)


def _bulk(size, phase):
    """Bulk replication: one size per transfer (drawn on its first row), held while it runs.

    A transfer starts at phase 0, or on row 0 when that row is mid-transfer, and
    runs while the phase is below ``BULK_DURATION_MIN``."""
    first = np.maximum(np.arange(len(phase)) - phase, 0)
    return np.where(phase < BULK_DURATION_MIN, size[first], 0.0)


def _queue(rho, burst):
    """Queue (packets) relaxing toward its equilibrium, started at equilibrium.

    q = min(a q_prev + inflow, BUFFER_PKTS) is linear until the cap binds:
    ``lfilter`` evaluates a * q_prev + inflow with the loop's own operations, and
    only a block in which the cap binds is stepped minute by minute."""
    from scipy.signal import lfilter

    a = float(np.exp(-1.0 / QUEUE_TAU_MIN))
    inflow = (1.0 - a) * _queue_eq(rho) * burst
    q = np.empty(len(rho))
    q[0] = float(_queue_eq(rho[0]))
    for lo in range(1, len(rho), QUEUE_BLOCK):
        x = inflow[lo:lo + QUEUE_BLOCK]
        y = lfilter([1.0], [1.0, -a], x, zi=[a * q[lo - 1]])[0]
        q[lo:lo + len(x)] = _capped_queue(a, q[lo - 1], x) if (y > BUFFER_PKTS).any() else y
    return q


def _capped_queue(a, q, inflow):
    """The queue recurrence minute by minute, over plain floats."""
    out = []
    for x in inflow.tolist():
        q = min(a * q + x, BUFFER_PKTS)
        out.append(q)
    return out


def _clock(start, n):
    """Each row's timestamp text, fractional hour, weekday (0 = Monday) and bulk phase.

    Integer arithmetic on epoch seconds gives the values of pandas' field accessors."""
    ts = pd.date_range(start, periods=n, freq="min")
    sec = ts.as_unit("s").asi8
    of_day = sec % 86400
    hh, mm = of_day // 3600, of_day // 60 % 60
    hour = hh + mm / 60.0 + of_day % 60 / 3600.0
    return iso_stamps(ts), hour, (sec // 86400 + 3) % 7, (hh * 60 + mm) % BULK_PERIOD_MIN


def _observe(rng, stamps, hour, *, dow, rho, q):
    """The observed columns (without the oracle): link means plus measurement noise."""
    n = len(stamps)
    thr, rtt, loss, jitter = _link(rho, q)
    sent = thr * PKTS_PER_MIN_PER_MBPS
    lost = np.minimum(rng.poisson(loss * sent), sent)
    return {
        "timestamp": stamps,
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
    }


def generate(n: int, seed: int, start: pd.Timestamp) -> pd.DataFrame:
    """``n`` rows of ``DWCP_COLUMNS`` from ``start`` (a UTC timestamp)."""
    rng = np.random.default_rng(seed)
    stamps, hour, dow, phase = _clock(start, n)
    demand = _demand(hour, dow)
    u_regime, eps = rng.random(n), rng.standard_normal(n)
    burst, size = _lognormal(rng, QUEUE_BURST_SD, n), _bulk_size(rng.standard_normal(n))

    trans = _transitions()
    regime, ar, bulk = _regimes(trans, u_regime), _ar_noise(eps), _bulk(size, phase)
    rho = np.maximum(demand + REGIME_OFFSET[regime] + ar + bulk, 0.02)
    q = _queue(rho, burst)
    columns = _observe(rng, stamps, hour, dow=dow, rho=rho, q=q)
    oracle = _oracle(trans, regime, ar, bulk=bulk, q=q, demand=demand, phase=phase)
    columns.update(zip(map(oracle_column, METRICS), oracle))
    return pd.DataFrame(columns, copy=False)          # fresh arrays: no copy into 2-D blocks


def _oracle(trans, regime, ar, *, bulk, q, demand, phase):
    """E[next observed metrics | hidden state of row i, clock of row i+1]; NaN on the last row.

    Block by block (memory stays in cache), each metric on the 3 x 3 x 5 quadrature
    grid is computed once per distinct point: without a transfer starting the next
    minute, the 5 transfer-size nodes share one value.  The values are then laid out
    on the full grid and weighted by the same BLAS product as on the whole array: it
    sums each row alike in any block of a multiple of 4 rows."""
    nodes, state = _nodes(), (trans[regime[:-1]], ar[:-1], bulk[:-1], q[:-1], demand[1:], phase[1:])
    starts = range(0, len(regime) - 1, ORACLE_BLOCK)
    out = np.full((len(METRICS), len(regime)), np.nan)
    blocks = ordered_map(lambda lo: _oracle_block(nodes, tuple(a[lo:lo + ORACLE_BLOCK] for a in state)), starts)
    for lo, acc in zip(starts, blocks):
        out[:, lo:lo + acc.shape[1]] = acc
    return list(out)


def _nodes():
    """The quadrature grid (index 15 x AR node + 5 x burst node + size node), its weights, and
    its distinct AR steps, bursts and transfer sizes."""
    (za, wa), (zb, wb), (zs, ws) = _gauss(3), _gauss(3), _gauss(5)
    za, zb, zs = (g.ravel() for g in np.meshgrid(za, zb, zs, indexing="ij"))
    w = np.einsum("i,j,k->ijk", wa, wb, ws).ravel()
    burst = np.exp(QUEUE_BURST_SD * zb - 0.5 * QUEUE_BURST_SD ** 2)
    ar_step = AR_SD * np.sqrt(1.0 - AR_PHI ** 2) * za
    return {"w": w, "ar": ar_step[0:45:15], "burst": burst[0:15:5], "size": _bulk_size(zs)[:5]}


def _oracle_block(nodes, block: tuple):
    """The oracle's four metrics on a block of rows: `block` holds their slices of (next-regime probabilities
    ``p``, AR noise, bulk, queue, the next row's demand, the next row's phase)."""
    p, ar, bulk, q, demand_next, phase_next = block
    starting = np.flatnonzero(phase_next == 0)
    held = np.where(phase_next < BULK_DURATION_MIN, bulk, 0.0)
    base = demand_next[:, None] + (AR_PHI * ar[:, None] + nodes["ar"])        # rows x AR node
    base_start = base[starting][:, :, None] + nodes["size"]                     # x size node
    q_prev, burst = q[:, None, None], nodes["burst"][:, None]
    acc = np.zeros((len(METRICS), len(p)))
    grid = np.empty((len(p), 9, 5))
    for r_next, offset in enumerate(REGIME_OFFSET):
        rho = np.maximum(base + held[:, None] + offset, 0.02)[:, :, None]
        rho_start = np.maximum(base_start + offset, 0.02)[:, :, None, :]
        values = _link(rho, _step_queue(q_prev, rho, burst.T))
        values_start = _link(rho_start, _step_queue(q_prev[starting, :, :, None], rho_start, burst))
        for k, (value, value_start) in enumerate(zip(values, values_start)):
            grid[:] = value.reshape(len(p), 9, 1)
            grid[starting] = value_start.reshape(len(starting), 9, 5)
            acc[k] += p[:, r_next] * (grid.reshape(len(p), 45) @ nodes["w"])
    return acc
