"""`bwkit serve` with the real server: uvicorn in a subprocess on a free loopback port, driven over HTTP.

What is served is `Predictor.stream()`'s answer to the same rows; refused rows change nothing
and never get a 5xx; links survive SIGTERM and SIGKILL (losing only the rows since the last
snapshot); --reload swaps runs without dropping a request; off loopback, the token is required.
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from bwkit.runs import RunFolder
from bwkit.serving import Service, build_app
from bwkit.serving.guard import Guard
from bwkit.serving.predictor import Predictor
from conftest import WITHOUT_TORCH

ROOT = Path(__file__).resolve().parents[1]
MODEL_FILES = ("run.json", "bandwidth_predictor_report.json", "model_metadata_v1.json", "bandwidth_lstm_v1.onnx")


def copy_run(run: RunFolder, root: Path, name: str) -> Path:
    """The model files of `run` as a run folder of its own (the shared tiny run is only read)."""
    target = root / name
    target.mkdir(parents=True)
    for file in MODEL_FILES:
        shutil.copy(run.root / file, target / file)
    return target


class Server:
    """`bwkit serve RUN_DIR ARGS` in a subprocess; stopped (SIGTERM) at the end of the test."""

    def __init__(self, run_dir, *args, host: str = "127.0.0.1"):
        with socket.socket() as s:
            s.bind((host, 0))
            self.port = s.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        self.process = subprocess.Popen([sys.executable, "-m", "bwkit.cli", "serve", str(run_dir), "--host", host,
                                         "--port", str(self.port), *args], cwd=ROOT, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        self.client = httpx.Client(base_url=self.url, timeout=30)

    def wait(self, headers=None) -> "Server":
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.process.stdout.read()
            try:
                self.client.get("/healthz", headers=headers)
                return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError("the server did not answer")

    def post(self, link, rows, **params):
        return self.client.post(f"/v1/links/{link}/observations", json=rows, params=params)

    def get(self, link, **params):
        return self.client.get(f"/v1/links/{link}/prediction", params=params)

    def server_errors(self) -> list[str]:
        return re.findall(r'bwkit_requests_total\{[^}]*status="5\d\d"[^}]*\} [1-9]', self.client.get("/metrics").text)

    def stop(self, sig=signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(timeout=60)
        self.client.close()
        return code


@pytest.fixture
def serve():
    started = []

    def start(run_dir, *args, host="127.0.0.1", headers=None):
        started.append(Server(run_dir, *args, host=host))
        return started[-1].wait(headers)
    yield start
    for server in started:
        server.stop(signal.SIGKILL)


@pytest.fixture
def served_run(tiny_run, tmp_path):
    return copy_run(tiny_run, tmp_path, "tiny")


@pytest.fixture(scope="module")
def rows(tiny_run) -> list[dict]:
    """The tiny run's rows from a window before its test split to the end, as JSON would carry them."""
    predictor = Predictor.from_run(tiny_run.root)
    report = json.loads(tiny_run.report.read_text())
    frame = pd.read_csv(predictor.metadata["data"]["path"])
    frame = frame[["timestamp", *predictor.recipe.columns]].iloc[-(report["test_rows"] + predictor.recipe.window_size):]
    return json.loads(frame.to_json(orient="records"))


def flat(prediction: dict) -> dict:
    """A served prediction in `Predictor`'s names: <target>_pred, <target>_lower_80, ..."""
    out = {}
    for target, numbers in prediction["targets"].items():
        for key, value in numbers.items():
            out[f"{target}_pred" if key == "prediction" else f"{target}_{key}"] = value
    return out


def expected(predictor: Predictor, answer: dict | None) -> dict | None:
    return None if answer is None else {k: v for k, v in answer.items() if k != "timestamp"}


def test_every_endpoint_answers(serve, served_run, rows, tiny_run):
    server = serve(served_run)
    meta = json.loads((served_run / "model_metadata_v1.json").read_text())
    model = server.client.get("/v1/model").json()
    assert model["run_id"] == "tiny" and model["data_sha256"] == meta["data"]["sha256"]
    assert model["features"] == meta["features"] and model["targets"] == meta["targets"]
    assert model["window_size"] == 8 and model["cadence_seconds"] == 60.0 and "verdict" in model
    assert set(model["metrics"]) >= {"correlation", "mape"} and model["adaptive_bands"] is True
    assert server.client.get("/healthz").json()["status"] == "ok"
    paths = server.client.get("/openapi.json").json()["paths"]
    assert {"/v1/links/{link}/observations", "/v1/links/{link}/prediction", "/v1/model", "/metrics"} <= set(paths)
    assert server.get("nowhere").status_code == 404
    assert server.post("a", rows[:3]).json()["detail"] == "not enough rows yet: 3 of 8"
    waiting = server.get("a")
    assert waiting.status_code == 409 and waiting.json()["detail"] == "not enough rows yet: 3 of 8"
    ready = server.post("a", rows[3:8]).json()
    assert ready["prediction"]["timestamp_unix"] == pd.Timestamp(rows[7]["timestamp"]).timestamp() + 60
    assert server.get("a").json()["prediction"] == ready["prediction"]
    metrics = server.client.get("/metrics").text
    for name in ("bwkit_requests_total", "bwkit_request_seconds_bucket", "bwkit_links 1.0", "bwkit_model_age_seconds",
                 "bwkit_rows_accepted_total 8.0"):
        assert name in metrics
    assert server.server_errors() == []


def test_the_test_split_row_by_row_gets_exactly_the_streams_numbers(serve, served_run, rows):
    server, predictor = serve(served_run), Predictor.from_run(served_run)
    calibrated, adaptive = predictor.stream(), predictor.stream(adaptive=True)
    for i, row in enumerate(rows):
        posted = server.post("one", row, adaptive="true").json()
        want, want_adaptive = calibrated.update(row), adaptive.update(row)
        assert (posted["prediction"] and flat(posted["prediction"])) == expected(predictor, want_adaptive), i
        got = server.get("one").json()["prediction"]
        assert (got and flat(got)) == expected(predictor, want), i
    for start in range(0, len(rows), 10):   # batches: the same state as row by row, adaptive bands too
        batch = server.post("batched", rows[start:start + 10], adaptive="true").json()
        replay = predictor.stream(adaptive=True)
        answer = [replay.update(row) for row in rows[:start + 10]][-1]
        assert (batch["prediction"] and flat(batch["prediction"])) == expected(predictor, answer)
    assert server.server_errors() == []


def _refusals(row: dict, previous: dict, after: dict) -> list[tuple[str, object, str]]:
    def changed(**columns):
        return {**row, **columns}
    missing = {k: v for k, v in row.items() if k != "rtt_ms"}
    return [("missing column", missing, "column 'rtt_ms': not found"),
            ("not a number", changed(rtt_ms="fast"), "'fast' is not a number"),
            ("outside float32", changed(throughput_mbps=1e39), "outside float32's range"),
            ("time backwards", previous, "is not after the previous row's"),
            ("missing value", changed(jitter_ms=None), "column 'jitter_ms'"),
            ("bad timestamp", changed(timestamp="yesterday"), "is not an ISO 8601 time"),
            ("a bad row in a batch", [row, {**after, "rtt_ms": "x"}], "'x' is not a number"),
            ("a nested value", changed(rtt_ms=[1, 2]), "give a number or a string"),
            ("a huge integer", changed(rtt_ms=10 ** 400), "give a number or a string"),
            ("not rows", [1, 2], "expected a JSON object")]


def test_bad_input_is_refused_and_changes_nothing(serve, served_run, rows):
    server = serve(served_run, "--max-body-bytes", "4000", "--max-links", "3")
    server.post("a", rows[:10])
    before = server.get("a").json()
    for what, body, message in _refusals(rows[10], rows[9], rows[11]):
        refused = server.post("a", body)
        assert refused.status_code == 422 and message in refused.json()["detail"], what
        assert server.get("a").json() == before, what
    assert server.client.post("/v1/links/a/observations", content=b"{not json").status_code == 400
    assert server.post("a", rows[10:40] * 3).status_code == 413
    assert server.post("fresh", {**rows[0], "rtt_ms": "x"}).status_code == 422
    assert server.get("fresh").status_code == 404   # a link whose first rows are refused is not held
    assert server.get("a").json() == before
    maybe = server.post("a", rows[10], adaptive="maybe")   # was read as "not adaptive", and the row taken
    assert maybe.status_code == 422 and maybe.json()["detail"] == "adaptive='maybe': use true or false"
    assert server.get("a", adaptive="maybe").status_code == 422 and server.get("a", adaptive="no").json() == before
    assert server.get("a").json() == before
    later = pd.Timestamp(rows[9]["timestamp"]) + pd.Timedelta(minutes=10)   # ten cadences on: a new window
    gap = {**rows[10], "timestamp": later.strftime("%Y-%m-%dT%H:%M:%SZ")}
    assert server.post("a", gap).json()["detail"] == "not enough rows yet: 1 of 8"
    for link in ("b", "c", "d"):   # past --max-links 3: the least recently used ("a") goes
        server.post(link, rows[0])
    assert server.get("a").status_code == 404 and server.client.get("/healthz").json()["evicted"] == 1
    metrics = server.client.get("/metrics").text
    for reason in ("missing_column", "not_a_number", "outside_float32", "time_order", "missing_value", "bad_timestamp",
                   "body_too_large", "malformed_body"):
        assert f'bwkit_rows_refused_total{{reason="{reason}"}}' in metrics, reason
    assert "bwkit_links_evicted_total 1.0" in metrics and server.server_errors() == []


def _snapshotted_after(server: Server, moment: float) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = re.search(r"^bwkit_snapshot_unixtime (\S+)", server.client.get("/metrics").text, re.M)
        if float(found.group(1)) > moment:
            return
        time.sleep(0.05)
    raise AssertionError("no snapshot was written")


def test_links_survive_sigkill_and_sigterm_losing_only_the_rows_since_the_last_snapshot(serve, served_run, rows):
    """SIGKILL 3 rows after a snapshot: the restart holds the rows before them (those 3 are lost, exactly);
    SIGTERM: a snapshot at shutdown, nothing lost. The restored streams go on as if never stopped."""
    predictor = Predictor.from_run(served_run)
    server = serve(served_run, "--snapshot-seconds", "3")
    server.post("a", rows[:13])
    _snapshotted_after(server, time.time())
    for row in rows[13:16]:
        server.post("a", row)
    assert server.stop(signal.SIGKILL) == -signal.SIGKILL
    server = serve(served_run, "--snapshot-seconds", "3")
    restored = server.get("a", adaptive="true").json()
    stream = predictor.stream(adaptive=True)
    answers = [stream.update(row) for row in rows[:13]]
    assert restored["rows_seen"] == 13 and flat(restored["prediction"]) == expected(predictor, answers[-1])
    for row in rows[13:20]:   # the lost rows again, and more: as one uninterrupted stream
        last = stream.update(row)
        assert flat(server.post("a", row, adaptive="true").json()["prediction"]) == expected(predictor, last)
    assert server.stop(signal.SIGTERM) == -signal.SIGTERM   # uvicorn shuts down, then ends by the signal it got
    assert "1 links snapshotted to" in server.process.stdout.read()
    server = serve(served_run)
    after = server.get("a", adaptive="true").json()
    assert after["rows_seen"] == 20 and flat(after["prediction"]) == expected(predictor, last)
    assert flat(server.post("a", rows[20], adaptive="true").json()["prediction"]) == \
        expected(predictor, stream.update(rows[20]))


def _newer_copy(run: Path, name: str, recipe_change: dict | None = None) -> Path:
    """A copy of `run` recorded as finished later; with `recipe_change`, its model reads another recipe."""
    target = copy_run(RunFolder(run), run.parent, name)
    record = json.loads((target / "run.json").read_text())
    record["finished"] = "2999-01-01T00:00:00Z" if recipe_change else "2998-01-01T00:00:00Z"
    (target / "run.json").write_text(json.dumps(record))
    if recipe_change:
        meta = json.loads((target / "model_metadata_v1.json").read_text())
        meta["recipe"].update(recipe_change)
        (target / "model_metadata_v1.json").write_text(json.dumps(meta))
    return target


def test_reload_swaps_to_a_newer_run_of_the_same_recipe_without_dropping_a_request(serve, served_run, rows):
    server = serve(served_run, "--reload", "--reload-seconds", "0.2")
    statuses, served_by = [], set()

    def post_all():
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for row in rows:
                answer = client.post("/v1/links/a/observations", json=row)
                statuses.append(answer.status_code)
                served_by.add(answer.json().get("run_id"))
    _newer_copy(served_run, "other-recipe", {"max_gap_cadences": 9.0})   # newest, but not the same inputs
    poster = threading.Thread(target=post_all)
    poster.start()
    time.sleep(1.0)
    assert server.client.get("/v1/model").json()["run_id"] == "tiny"
    _newer_copy(served_run, "retrained")
    deadline = time.monotonic() + 30
    while server.client.get("/v1/model").json()["run_id"] != "retrained" and time.monotonic() < deadline:
        time.sleep(0.1)
    poster.join(timeout=120)
    assert server.client.get("/v1/model").json()["run_id"] == "retrained"
    assert statuses == [200] * len(rows) and served_by <= {"tiny", "retrained"}
    assert server.get("a").json()["rows_seen"] == len(rows)   # the link kept its window across the swap
    assert server.server_errors() == []


def test_binding_off_loopback_needs_the_token_and_requests_without_it_get_401(serve, served_run):
    refused = subprocess.run([sys.executable, "-m", "bwkit.cli", "serve", str(served_run), "--host", "127.0.0.2"],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "needs --token" in refused.stderr
    token = {"Authorization": "Bearer s3cret"}
    server = serve(served_run, "--token", "s3cret", host="127.0.0.2", headers=token)
    assert server.url.startswith("http://127.0.0.2:")
    for path in ("/healthz", "/v1/model", "/metrics", "/v1/links/a/prediction"):
        assert server.client.get(path).status_code == 401, path
        assert server.client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401, path
    assert server.client.post("/v1/links/a/observations", json={}).status_code == 401
    assert server.client.get("/healthz", headers=token).status_code == 200
    assert server.client.get("/v1/links/a/prediction", headers=token).status_code == 404


async def _asgi(app, method: str, path: str, chunks=(b"",), headers=()) -> tuple:
    """One request through an ASGI app, in-process, its body in `chunks`: (status, headers, body) answered."""
    path, _, query = path.partition("?")
    messages = [{"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
                for i, chunk in enumerate(chunks)]
    sent = []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
             "headers": [(b"host", b"test"), *headers], "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], start["headers"], b"".join(m.get("body", b"") for m in sent if m["type"] != start["type"])


def _requests(rows: list[dict]) -> list[tuple]:
    """(method, path, body chunks, headers): rows, batches, a body in chunks, and every refusal."""
    def body(value):
        return json.dumps(value).encode()
    post, large = "/v1/links/a/observations", body(rows[16:40])
    return [("POST", post, [body(rows[:3])], ()),
            *[("POST", post + "?adaptive=true", [body(row)], ()) for row in rows[3:12]],
            ("POST", post + "?adaptive=1&adaptive=no", [body(rows[12])], ()),
            ("POST", post, [body(rows[13:15])[:30], body(rows[13:15])[30:]], ()), ("POST", post, [b"{not json"], ()),
            ("POST", post, [b"[1, 2]"], ()), ("POST", post, [body({**rows[15], "rtt_ms": [1]})], ()),
            ("POST", post, [body({**rows[15], "rtt_ms": 10 ** 400})], ()),
            ("POST", post, [body({**rows[15], "rtt_ms": "fast"})], ()), ("POST", post, [body(rows[14])], ()),
            ("POST", post, [large[i:i + 1000] for i in range(0, len(large), 1000)], ()),   # over the limit, undeclared
            ("POST", post, [body(rows[15])], [(b"content-length", b"999999")]), ("POST", post, [b""], ()),
            ("POST", "/v1/links/bad name!/observations", [body(rows[15])], ()),
            ("POST", "/v1/links/" + "x" * 200 + "/observations", [body(rows[15])], ()),
            ("GET", post, [b""], ()), ("PUT", post, [body(rows[15])], ()), ("POST", post + "/", [body(rows[15])], ()),
            ("POST", post, [body(rows[15])], ()), ("GET", "/v1/links/a/prediction?adaptive=true", [b""], ())]


def test_the_hot_route_answers_every_request_as_the_starlette_route_does(served_run, rows):
    """POST observations goes by a plain ASGI route in front of Starlette (`HotRoute`): the same status, headers and
    body as by Starlette's own router, for rows, batches, bodies in chunks and every refusal; the same meters."""
    services = [Service(served_run, snapshot_seconds=3600, max_body_bytes=3000, log=lambda line: None) for _ in "ab"]
    hot = build_app(services[0])
    plain = Guard(build_app(services[1]).app.app, None, services[1].meters)   # Guard(HotRoute(Starlette)) without it

    async def both():
        return [(await _asgi(hot, *request), await _asgi(plain, *request)) for request in _requests(rows)]
    answers = asyncio.run(both())
    for request, (ours, theirs) in zip(_requests(rows), answers):
        assert ours == theirs, request[:2]
    statuses = [ours[0] for ours, _ in answers]
    assert statuses == [200] * 12 + [400] + [422] * 5 + [413, 413, 400, 422, 422, 405, 405, 307, 200, 200]
    assert json.loads(answers[9][0][2])["prediction"]["bands"] == "adaptive"

    def counted(service):
        return [line for line in service.meters.text().decode().splitlines()
                if line.startswith(("bwkit_requests_total", "bwkit_rows_accepted_total", "bwkit_rows_refused_total"))]
    assert counted(services[0]) == counted(services[1]) and 'endpoint="observations"' in "".join(counted(services[0]))


def test_the_service_runs_without_torch(served_run):
    code = WITHOUT_TORCH + f"""
from starlette.testclient import TestClient
from bwkit.serving import Service, build_app
with TestClient(build_app(Service({str(served_run)!r}, log=lambda line: None))) as client:
    print(client.get("/v1/model").json()["run_id"], "torch" in sys.modules)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["tiny", "False"]


def test_an_unreadable_snapshot_is_kept_aside_and_the_service_starts_empty(serve, served_run):
    snapshot = RunFolder(served_run).serving_snapshot
    snapshot.parent.mkdir()
    snapshot.write_bytes(b"not a snapshot")
    server = serve(served_run)
    assert server.client.get("/healthz").json()["links"] == 0
    assert snapshot.with_name("links.npz.unreadable").read_bytes() == b"not a snapshot"


def test_a_port_in_use_is_one_line_and_no_false_start(served_run):
    """The "on http://..." line came before uvicorn failed to bind, then a log line, then exit 3 (reproduce's code)."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "bwkit.cli", "serve", str(served_run), "--port", str(port)],
                                cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and " on http://" not in result.stdout
    assert result.stderr.strip().splitlines()[-1].startswith(f"bwkit: cannot listen on 127.0.0.1:{port}: ")
    assert "another process listens there" in result.stderr and "Traceback" not in result.stderr + result.stdout


def test_a_client_that_leaves_before_its_body_is_counted_and_logs_no_traceback(serve, served_run):
    server = serve(served_run)
    with socket.create_connection(("127.0.0.1", server.port)) as gone:
        gone.sendall(b"POST /v1/links/a/observations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n[{")
    deadline = time.monotonic() + 30
    while 'status="499"' not in server.client.get("/metrics").text and time.monotonic() < deadline:
        time.sleep(0.1)
    assert re.search(r'bwkit_requests_total\{[^}]*status="499"[^}]*\} 1', server.client.get("/metrics").text)
    server.stop()
    log = server.process.stdout.read()
    assert "Traceback" not in log and "ClientDisconnect" not in log, log
