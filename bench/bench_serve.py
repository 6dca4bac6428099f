"""Load benchmark of `bwkit serve` (not a test): `make bench`, or `.venv/bin/python bench/bench_serve.py [RUN_DIR]`.

With no RUN_DIR, makes a run with the default model (3,000 rows, 3 epochs: the model's size and
window are the defaults, its accuracy does not matter here) in a temporary folder first. The
run's model files are copied to a temporary run folder, so the bench's links never reach
RUN_DIR's serving folder. The server is `bwkit serve` in a subprocess on a free loopback port;
the client is one bounded aiohttp session (a fixed number of requests, then it stops):

* one row per request: 100 links, 8 concurrent clients, each link's rows in time order
  (after each link's first window, untimed);
* batches of 100 rows per request: 100 links, 8 concurrent clients;
* 10,000 links held (one window of rows each, in batches): the server's resident memory.

It prints rows per second, p50 / p99 latency seen by the client, the server's CPU time per row
(what the server itself spent, whatever else the machine runs) and the client's per request (on
two cores the two share the machine: rows per second is bound by their sum), the server's
resident memory, every non-2xx answer (refusals; any 5xx is a failure and exits 1), and the
machine's load average before and after (another job on the machine slows both sides).
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import aiohttp
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import machine  # noqa: E402

LINKS, CONCURRENCY, ROWS_PER_LINK, BATCH, BATCHES_PER_LINK, HELD = 100, 8, 50, 100, 10, 10_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def copy_model(run: Path, into: Path) -> Path:
    """The files `bwkit serve` reads, in a run folder of their own."""
    target = into / run.name
    target.mkdir(parents=True)
    for name in ["run.json", "bandwidth_predictor_report.json", *[p.name for p in run.glob("model_metadata_*.json")],
                 *[p.name for p in run.glob("*.onnx")]]:
        if (run / name).exists():
            shutil.copy(run / name, target / name)
    return target


def rows_of(run: Path, count: int) -> list[dict]:
    """`count` consecutive one-minute rows of the run's own data (unix-second timestamps), repeated in time."""
    from bwkit.serving.predictor import Predictor

    predictor = Predictor.from_run(run)
    frame = pd.read_csv(predictor.metadata["data"]["path"])
    frame = frame[["timestamp", *predictor.recipe.columns]]
    frame = pd.concat([frame] * (count // len(frame) + 1), ignore_index=True).iloc[:count]
    start = pd.Timestamp(pd.read_csv(predictor.metadata["data"]["path"], nrows=1)["timestamp"][0]).timestamp()
    frame["timestamp"] = start + 60.0 * np.arange(count)
    return frame.to_dict("records")


async def drive(port: int, jobs: list[tuple[str, object]]) -> tuple[float, np.ndarray, dict, float]:
    """Post every (link, body) job, CONCURRENCY at a time, each link's jobs in order: wall, latencies, statuses and
    the client's CPU seconds."""
    by_link: dict[str, list] = {}
    for link, body in jobs:
        by_link.setdefault(link, []).append(json.dumps(body).encode())
    lanes = [list(by_link)[i::CONCURRENCY] for i in range(CONCURRENCY)]
    latencies, statuses = [], {}
    headers = {"Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(f"http://127.0.0.1:{port}", connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=60)) as client:
        async def lane(links):
            for step in range(max(len(by_link[k]) for k in links)):
                for link in links:
                    if step < len(by_link[link]):
                        start = time.perf_counter()
                        async with client.post(f"/v1/links/{link}/observations", data=by_link[link][step],
                                               headers=headers) as response:
                            await response.read()
                        latencies.append(time.perf_counter() - start)
                        statuses[response.status] = statuses.get(response.status, 0) + 1
        start, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(lane(links) for links in lanes if links))
        return time.perf_counter() - start, np.array(latencies), statuses, time.process_time() - cpu


def wait_for(port: int, server, seconds: float = 60) -> dict:
    """The server's /healthz answer, once it answers."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                return json.loads(response.read())
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"bwkit serve did not answer on port {port}")


def resident_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of the server, MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def cpu_seconds(pid: int) -> float:
    """The server's user + system CPU time so far (/proc/<pid>/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def phase(name: str, port: int, jobs, rows: int, server) -> list[tuple[str, str]]:
    cpu = cpu_seconds(server.pid)
    wall, latencies, statuses, client = asyncio.run(drive(port, jobs))
    cpu = cpu_seconds(server.pid) - cpu
    refused = {s: n for s, n in statuses.items() if not 200 <= s < 300}
    if any(s >= 500 for s in refused):
        raise SystemExit(f"{name}: server errors {refused}")
    rss, _ = resident_mb(server.pid)
    return [(f"{name}: rows per second", f"{rows / wall:,.0f} ({len(latencies):,} requests in {wall:.1f} s)"),
            (f"{name}: latency p50 / p99", f"{np.percentile(latencies, 50) * 1e3:.2f} / "
                                           f"{np.percentile(latencies, 99) * 1e3:.2f} ms"),
            (f"{name}: server CPU per row (rows per server CPU second)",
             f"{cpu / rows * 1e3:.3f} ms ({rows / cpu:,.0f})"),
            (f"{name}: client CPU per request", f"{client / len(latencies) * 1e3:.3f} ms"),
            (f"{name}: refusals (non-2xx)", str(sum(refused.values())) + (f" {refused}" if refused else "")),
            (f"{name}: server resident memory after", f"{rss:,.0f} MB")]


def measure(run: Path) -> list[tuple[str, str]]:
    from bwkit.serving.predictor import Predictor

    window = Predictor.from_run(run).recipe.window_size
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "bwkit.cli", "serve", str(run), "--port", str(port),
                               "--max-links", str(HELD), "--snapshot-seconds", "3600"], stdout=subprocess.DEVNULL)
    try:
        health = wait_for(port, server)
        rows = rows_of(run, window + ROWS_PER_LINK + BATCH * BATCHES_PER_LINK)
        links = [f"link-{i}" for i in range(LINKS)]
        out = [("load average (1 min) at start", f"{os.getloadavg()[0]:.2f}"),
               ("server resident memory at start", f"{resident_mb(server.pid)[0]:,.0f} MB")]
        asyncio.run(drive(port, [(k, rows[:window]) for k in links]))   # each link's first window, untimed
        one = [(k, rows[window + i]) for i in range(ROWS_PER_LINK) for k in links]
        out += phase(f"one row per request, {LINKS} links, {CONCURRENCY} clients", port, one, len(one), server)
        start = window + ROWS_PER_LINK
        batches = [(k, rows[start + b * BATCH:start + (b + 1) * BATCH]) for b in range(BATCHES_PER_LINK) for k in links]
        out += phase(f"batches of {BATCH} rows, {LINKS} links, {CONCURRENCY} clients", port, batches,
                     BATCH * len(batches), server)
        held = [(f"held-{i}", rows[:window + 1]) for i in range(HELD - LINKS)]
        out += phase(f"{HELD:,} links held ({window + 1} rows each, one batch per link)", port, held,
                     len(held) * (window + 1), server)[-2:]
        health = wait_for(port, server)
        out.append(("links held at the end / evicted", f"{health['links']:,} / {health['evicted']}"))
        out.append(("server peak resident memory (VmHWM)", f"{resident_mb(server.pid)[1]:,.0f} MB"))
        out.append(("load average (1 min) at the end", f"{os.getloadavg()[0]:.2f}"))
    finally:
        server.terminate()
        server.wait(timeout=60)
    return out


def main() -> None:
    from bwkit.pipeline import runner as pipeline
    from bwkit.runs.params import configure

    with tempfile.TemporaryDirectory() as tmp:
        run = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else None
        if run is None:
            run = Path(tmp) / "made" / "bench"
            pipeline.run(configure({"samples": 3000, "epochs": 3}), run_id="bench", runs_root=run.parent,
                         log=lambda *_: None)
        rows = [("machine", machine())] + measure(copy_model(run, Path(tmp) / "served"))
    width = max(len(name) for name, _ in rows)
    print(f"| {'bwkit serve benchmark':{width}} | result |\n|{'-' * (width + 2)}|--------|")
    for name, value in rows:
        print(f"| {name:{width}} | {value} |")


if __name__ == "__main__":
    main()
