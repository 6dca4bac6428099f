"""The service's own CPU per request, without the network (not a test): `.venv/bin/python bench/profile_serve.py RUN_DIR`.

Drives the ASGI app of `bwkit serve` in-process (no socket, no uvicorn), so what it prints is
what the app itself spends, whatever else the machine runs: CPU milliseconds per one-row POST
(10 links, adaptive bands on when the model ships them), per batch row (batches of 100), and
per GET of a prediction, each the least of ROUNDS rounds (a busy machine slows some rounds).
`--profile` adds cProfile's top functions of the one-row POSTs.
The model files are copied to a temporary run folder first, so RUN_DIR is only read.
"""
from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_serve import copy_model, rows_of  # noqa: E402

LINKS, SINGLE, BATCH, BATCHES, ROUNDS = 10, 3000, 100, 90, 15


async def call(app, method: str, path: str, body: bytes = b"") -> int:
    """One request through the ASGI app; its status."""
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent = []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    path, _, query = path.partition("?")
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": query.encode(),
             "headers": headers, "http_version": "1.1", "scheme": "http", "server": ("127.0.0.1", 80),
             "client": ("127.0.0.1", 1), "root_path": "", "app": app}
    await app(scope, receive, send)
    return sent[0]["status"]


async def per_request(app, requests, rows: int, profile: bool = False) -> float:
    """CPU milliseconds per row of these (method, path, body) requests, each answered 200."""
    profiler = cProfile.Profile() if profile else None
    start = time.process_time()
    if profiler:
        profiler.enable()
    for method, path, body in requests:
        status = await call(app, method, path, body)
        assert status == 200, (path, status)
    if profiler:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(40)
    return (time.process_time() - start) / rows * 1e3


async def measure(run: Path, profile: bool) -> list[tuple[str, str]]:
    from bwkit.serving.service import Service, build_app

    service = Service(run, snapshot_seconds=3600, log=lambda *_: None)
    app, window = build_app(service), service.predictor.recipe.window_size
    query = "?adaptive=true" if service.links.adaptive else ""
    rows = rows_of(run, window + SINGLE // LINKS + BATCH * BATCHES // LINKS)
    post = [("POST", f"/v1/links/l{k}/observations", json.dumps(rows[:window]).encode()) for k in range(LINKS)]
    await per_request(app, post, LINKS)
    single = [("POST", f"/v1/links/l{i % LINKS}/observations{query}", json.dumps(rows[window + i // LINKS]).encode())
              for i in range(SINGLE)]
    start = window + SINGLE // LINKS
    batches = [("POST", f"/v1/links/l{i % LINKS}/observations{query}",
                json.dumps(rows[start + (i // LINKS) * BATCH:start + (i // LINKS + 1) * BATCH]).encode())
               for i in range(BATCHES)]
    gets = [("GET", f"/v1/links/l{i % LINKS}/prediction{query}", b"") for i in range(SINGLE)]
    return [("one row per POST: CPU ms per request", f"{await least(app, single, 1, profile):.3f}"),
            (f"batches of {BATCH}: CPU ms per row", f"{await least(app, batches, BATCH):.4f}"),
            ("GET prediction: CPU ms per request", f"{await least(app, gets, 1):.3f}")]


async def least(app, requests, rows_each: int, profile: bool = False) -> float:
    """The least CPU milliseconds per row over ROUNDS rounds of these requests, in order (the rows' time order)."""
    size = len(requests) // ROUNDS
    return min([await per_request(app, requests[k * size:(k + 1) * size], size * rows_each, profile and k == 0)
                for k in range(ROUNDS)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions of the one-row POSTs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = asyncio.run(measure(copy_model(args.run_dir.resolve(), Path(tmp)), args.profile))
    for name, value in out:
        print(f"{name}: {value}")


if __name__ == "__main__":
    main()
