"""`bwkit serve runs/<id>`: the run's model as an HTTP service (Starlette on uvicorn), one `Stream` per link.

    POST /v1/links/{link}/observations   rows as the CSV had them (a JSON object, or a list of them)
    GET  /v1/links/{link}/prediction     the latest prediction (?adaptive=true: the learning bands)
    GET  /v1/model   GET /healthz   GET /metrics   GET /openapi.json

What is served is `Predictor.stream()`'s answer, row for row. A refused row (the loader's
rules) gets 422 and changes nothing. Links are snapshotted to the run's serving folder on a
timer and at shutdown (SIGTERM, SIGINT), and restored at start (`bwkit.serving.links`).
"""
from __future__ import annotations

import asyncio
import errno
import json
import math
import re
import time
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.schemas import SchemaGenerator

from bwkit.errors import DataError, ParameterError, RunError
from bwkit.runs import RunFolder
from bwkit.serving.guard import LOOPBACK, BodyTooLarge, Guard, answer, read_body
from bwkit.serving.links import Links, restore, snapshot_arrays, write_snapshot
from bwkit.serving.meters import Meters, reason
from bwkit.serving.models import model_info, newer_run
from bwkit.serving.predictor import Predictor

LINK_NAME = re.compile(r"[A-Za-z0-9_.:~-]{1,128}")
TRUE = {"1", "true", "yes", "on"}
FALSE = {"", "0", "false", "no", "off"}   # "": not asked


class Service:
    """The state behind the endpoints: the model, the links, the meters, the snapshot."""

    def __init__(self, run_dir, *, max_links: int = 10_000, snapshot_seconds: float = 30.0,
                 max_body_bytes: int = 1 << 20, reload_seconds: float | None = None, threads: int = 1,
                 version: str | None = None, log=lambda line: print(line, flush=True)):
        check_settings(max_links=max_links, snapshot_seconds=snapshot_seconds, max_body_bytes=max_body_bytes,
                       reload_seconds=reload_seconds, threads=threads)   # before the run folder is read
        self.folder, self.threads, self.log = RunFolder(Path(run_dir).resolve()), threads, log
        self.predictor = Predictor.from_run(self.folder.root, version, threads=threads)   # version: of several
        self.links = Links(self.predictor, max_links)
        self.model, self.layout = model_info(self.folder, self.predictor), layout(self.predictor)
        self.meters = Meters(lambda: len(self.links), self.predictor.metadata_path.stat().st_mtime)
        self.snapshot_seconds, self.reload_seconds, self.max_body_bytes = snapshot_seconds, reload_seconds, max_body_bytes
        self.accepted, self.saved_at_accepted, self.lock = 0, 0, asyncio.Lock()
        self.log(f"bwkit serve: {restore(self.links, self.folder.serving_snapshot)}")

    async def snapshot(self, force: bool = False) -> None:
        """Every link's window to the serving folder, when rows arrived since the last one."""
        async with self.lock:
            if self.accepted == self.saved_at_accepted and not force:
                return
            accepted, arrays = self.accepted, snapshot_arrays(self.links, self.model["run_id"])
            write = asyncio.ensure_future(asyncio.to_thread(write_snapshot, self.folder.serving_snapshot, arrays))
            try:
                await asyncio.shield(write)
            except asyncio.CancelledError:   # the timer cancelled at shutdown: the lock is held until the file is
                await write                  # whole, so the shutdown's own snapshot never writes beside it
                raise
            self.saved_at_accepted = accepted
            self.meters.snapshot_unix.set(time.time())

    async def reload(self) -> None:
        """Serve the newest succeeded run of the same recipe beside this one, if there is a newer one."""
        found = await asyncio.to_thread(newer_run, self.folder, self.predictor.metadata["recipe"])
        if found is None:
            return
        predictor = await asyncio.to_thread(Predictor.from_run, found.root, None, self.threads)
        await self.snapshot()   # the old run's folder keeps the state it served
        self.links.swap(predictor)   # between two requests: none is dropped, none sees half a swap
        self.predictor, self.folder, self.model = predictor, found, model_info(found, predictor)
        self.layout = layout(predictor)
        self.meters.model_written_unix = predictor.metadata_path.stat().st_mtime
        self.accepted += 1   # the new folder gets its first snapshot on the next tick
        self.log(f"bwkit serve: now serving {found.root}")

    async def _every(self, seconds: float, job) -> None:
        """`job` every `seconds`; a failed tick is said and retried, and a failure that repeats tick after tick (a
        newer run still being copied, a full disk) is said once, until a tick succeeds or the failure changes (an
        OS error by its kind: a snapshot's temporary file has a new name each time)."""
        said = None
        while True:
            await asyncio.sleep(seconds)
            try:
                await job()
                said = None
            except Exception as exc:  # noqa: BLE001 - a failed tick is said and retried, never fatal
                kind = (type(exc), exc.errno) if isinstance(exc, OSError) and exc.errno else (type(exc), str(exc))
                if kind != said:
                    self.log(f"bwkit serve: {job.__name__} failed: {type(exc).__name__}: {exc}")
                said = kind

    @asynccontextmanager
    async def lifespan(self, app):
        jobs = [(self.snapshot_seconds, self.snapshot)] + ([(self.reload_seconds, self.reload)] if self.reload_seconds else [])
        tasks = [asyncio.create_task(self._every(seconds, job)) for seconds, job in jobs]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            try:
                await self.snapshot()
                self.log(f"bwkit serve: {len(self.links)} links snapshotted to {self.folder.serving_snapshot}")
            except Exception as exc:  # noqa: BLE001 - a full or read-only disk: said in one line, the last snapshot kept
                self.log(f"bwkit serve: the links could not be snapshotted at shutdown ({type(exc).__name__}: {exc}); "
                         f"{self.folder.serving_snapshot} keeps the last snapshot that was written, if any")

    def view(self, name: str, link, adaptive: bool) -> dict:
        """A link's state and latest prediction, as the endpoints answer it."""
        window = self.predictor.recipe.window_size
        filled = min(link.filled(), window)
        found = link.adaptive if adaptive else link.latest
        return {"link": name, "run_id": self.model["run_id"], "rows_seen": link.stream.rows_seen,
                "window": {"rows": filled, "of": window},
                "prediction": None if found is None else self.render(found, "adaptive" if adaptive else "calibrated"),
                "detail": None if found is not None else f"not enough rows yet: {filled} of {window}"}

    def render(self, found: dict, bands: str) -> dict:
        targets = {t: {} for t in self.predictor.targets}
        for name, target, key in self.layout:
            targets[target][key] = found[name]
        stamp = found["timestamp"]
        return {"timestamp": stamp.isoformat().replace("+00:00", "Z"), "timestamp_unix": stamp.timestamp(),
                "bands": bands, "targets": targets}


def layout(predictor: Predictor) -> list[tuple[str, str, str]]:
    """(output name, target, key) of each number of a prediction: <target>_pred -> "prediction",
    <target>_lower_80 -> "lower_80", ..."""
    return [(name, name.removesuffix("_pred"), "prediction") if name.endswith("_pred") else
            (name, name.rsplit("_", 2)[0], "_".join(name.rsplit("_", 2)[1:])) for name in predictor.output_names]


def _query(scope, name: str) -> str:
    """A query parameter's value ("" without it), as Starlette's `request.query_params` reads it."""
    query = scope.get("query_string", b"")
    return QueryParams(query).get(name, "") if query else ""


def _adaptive(service: Service, scope) -> bool:
    given = _query(scope, "adaptive").lower()
    if given not in TRUE | FALSE:
        raise HTTPException(422, f"adaptive={given[:40]!r}: use true or false")
    wanted = given in TRUE
    if wanted and not service.links.adaptive:
        raise HTTPException(422, "this model's metadata ships no adaptive band table; ask without ?adaptive")
    return wanted


def _rows(body: bytes) -> list:
    """The posted rows: one JSON object or a non-empty list of them, each column a number, a string or null."""
    try:
        rows = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise HTTPException(400, f"the body is not JSON: {exc}") from None
    rows = [rows] if isinstance(rows, dict) else rows
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        raise HTTPException(422, "expected a JSON object (one row: column -> value) or a non-empty list of them")
    kinds = {type(value) for row in rows for value in row.values()}   # JSON's own types: no subclasses
    if dict in kinds or list in kinds or (int in kinds and any(type(value) is int and abs(value) > 1e300
                                                               for row in rows for value in row.values())):
        for i, row in enumerate(rows):
            for column, value in row.items():
                if isinstance(value, (dict, list)) or (isinstance(value, int) and abs(value) > 1e300):
                    raise HTTPException(422, f"row {i + 1}, column {column!r}: give a number or a string, "
                                             f"not {value!r:.40}")
    return rows


def _link_name(scope) -> str:
    name = scope["path_params"]["link"]
    if not LINK_NAME.fullmatch(name):
        raise HTTPException(422, f"link {name[:40]!r}: 1 to 128 characters among letters, digits and _ . : ~ -")
    return name


async def observations(request):
    """Rows of one link's telemetry, as the CSV had them.
    ---
    summary: Post one row (a JSON object) or a batch (a list of them); answers the prediction for the next row
    parameters: [{name: adaptive, in: query, required: false, schema: {type: boolean}}]
    responses:
      200: {description: "rows taken; prediction (null until a window is full) and the link's window"}
      400: {description: the body is not JSON}
      401: {description: missing or wrong bearer token}
      413: {description: the body is over the size limit}
      422: {description: "a row the loader refuses, with its message; the link's window is unchanged"}
    """
    return await take_rows(request.app.state.service, request.scope, request.receive)


async def take_rows(service: Service, scope, receive) -> Response:
    """POST observations, by whichever route it came (`observations`, `HotRoute`): the answer, or a refusal
    (HTTPException, for the exception handler)."""
    name, adaptive = _link_name(scope), _adaptive(service, scope)
    try:
        rows = _rows(await read_body(scope, receive, service.max_body_bytes))
    except BodyTooLarge:
        service.meters.refused.labels("body_too_large").inc()
        return answer({"detail": f"the body is over {service.max_body_bytes} bytes: post fewer rows at a time"}, 413)
    except HTTPException:
        service.meters.refused.labels("malformed_body").inc()
        raise
    evicted = service.links.evicted
    try:
        link = service.links.post(name, rows)
    except (DataError, TypeError, ValueError, OverflowError) as exc:   # the loader's refusal, said as it says it
        service.meters.refused.labels(reason(str(exc)) if isinstance(exc, DataError) else "invalid_rows").inc(len(rows))
        return answer({"detail": str(exc), "link": name}, 422)
    if service.links.evicted > evicted:
        service.meters.evicted.inc(service.links.evicted - evicted)
    service.accepted += len(rows)
    service.meters.rows.inc(len(rows))
    return answer(service.view(name, link, adaptive))


async def prediction(request):
    """The latest prediction of one link.
    ---
    summary: The prediction for the row one cadence after the link's last row, with its 80 and 95 % bands
    parameters: [{name: adaptive, in: query, required: false, schema: {type: boolean}}]
    responses:
      200: {description: "the predicted row's time, each target's prediction and band edges in original units"}
      404: {description: the link is not held (never posted, or evicted)}
      409: {description: "not enough rows yet: n of window"}
    """
    service: Service = request.app.state.service
    name, adaptive = _link_name(request.scope), _adaptive(service, request.scope)
    link = service.links.get(name)
    if link is None:
        return answer({"detail": f"unknown link {name!r}: post its rows to /v1/links/{name}/observations first "
                                 f"(or it was evicted: the service holds at most {service.links.max_links})"}, 404)
    view = service.view(name, link, adaptive)
    return answer(view, 200 if view["prediction"] is not None else 409)


async def model(request):
    """What is served.
    ---
    summary: The run id, data sha256, inputs, targets, window, cadence, and the run's metrics and verdict
    responses: {200: {description: the served model}}
    """
    service: Service = request.app.state.service
    return answer(service.model)


async def healthz(request):
    """Liveness.
    ---
    summary: ok, the run served and the links held
    responses: {200: {description: the service is up}}
    """
    service: Service = request.app.state.service
    return answer({"status": "ok", "run_id": service.model["run_id"], "links": len(service.links),
                   "max_links": service.links.max_links, "evicted": service.links.evicted})


async def metrics(request):
    """Prometheus metrics.
    ---
    summary: Requests, latency histogram, links held, rows refused by reason, model age (Prometheus text format)
    responses: {200: {description: metrics}}
    """
    service: Service = request.app.state.service
    return Response(service.meters.text(), media_type="text/plain; version=0.0.4; charset=utf-8")


async def openapi(request):
    return answer(SCHEMAS.get_schema(routes=request.app.routes))


ROUTES = [Route("/v1/links/{link}/observations", observations, methods=["POST"]),
          Route("/v1/links/{link}/prediction", prediction, methods=["GET"]),
          Route("/v1/model", model, methods=["GET"]), Route("/healthz", healthz, methods=["GET"]),
          Route("/metrics", metrics, methods=["GET"]), Route("/openapi.json", openapi, include_in_schema=False)]

SCHEMAS = SchemaGenerator({"openapi": "3.0.0", "info": {"title": "bwkit serve", "version": "1"}})


async def _http_error(request, exc: HTTPException):
    return answer({"detail": exc.detail}, exc.status_code, getattr(exc, "headers", None))


class HotRoute:
    """POST /v1/links/{link}/observations, the route a service's traffic takes, as plain ASGI in front of the
    Starlette app: matched by its Route, answered and refused by the same code (`take_rows`, `_http_error`), an error
    answered 500 by Starlette's own middleware, without the app's other layers and objects per request. Every other
    request (another route or method, the lifespan) goes to the Starlette app, whose router keeps the route for the
    schema."""

    def __init__(self, app, service: Service, route: Route):
        self.app, self.service, self.route = app, service, route
        self.hot = ServerErrorMiddleware(self._observations)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            match, child = self.route.matches(scope)
            if match is Match.FULL:
                scope.update(child)   # the endpoint (the meters' label) and the link, as the router sets them
                return await self.hot(scope, receive, send)
        await self.app(scope, receive, send)

    async def _observations(self, scope, receive, send):
        try:
            response = await take_rows(self.service, scope, receive)
        except HTTPException as exc:
            response = await _http_error(None, exc)
        except ClientDisconnect:   # gone before its body arrived: no one to answer, nothing to log
            return
        await response(scope, receive, send)


def build_app(service: Service, token: str | None = None):
    """The ASGI app: the routes behind the token and the meters, the observations on their hot route."""
    app = Starlette(routes=ROUTES, lifespan=service.lifespan, exception_handlers={HTTPException: _http_error})
    app.state.service = service
    return Guard(HotRoute(app, service, ROUTES[0]), token, service.meters)


def serve(run_dir, *, host: str = "127.0.0.1", port: int = 8000, token: str | None = None, **settings) -> None:
    """Run the service until SIGTERM or SIGINT (then snapshot and exit); `settings`: `Service`'s."""
    import uvicorn

    if not token and host not in LOOPBACK:
        raise ParameterError(f"--host {host}: binding anything but loopback ({', '.join(sorted(LOOPBACK))}) "
                             "needs --token (clients then send 'Authorization: Bearer <token>')")
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise ParameterError(f"--port {port}: a port is 0 to 65535 (0: any free one)")
    service = Service(run_dir, **settings)
    listening = _bind(host, port)   # before the line that says so: a port in use is one error, not a false start
    config = uvicorn.Config(build_app(service, token), log_level="warning", access_log=False, lifespan="on",
                            timeout_graceful_shutdown=10, server_header=False, http="httptools")
    bound = listening.getsockname()[1]
    service.log(f"bwkit serve: {service.model['run_id']} on http://{host}:{bound} "
                f"({len(service.links)} links, snapshot every {service.snapshot_seconds:g} s)")
    uvicorn.Server(config).run(sockets=[listening])


def check_settings(*, max_links, snapshot_seconds, max_body_bytes, reload_seconds, threads) -> None:
    """Refuse a setting that cannot work (--max-links 0 held no link and dropped the saved ones; --snapshot-seconds 0
    snapshotted in a loop), naming its option. reload_seconds None: no reload."""
    for option, value in (("--max-links", max_links), ("--max-body-bytes", max_body_bytes), ("--threads", threads)):
        if not (isinstance(value, int) and value >= 1):
            raise ParameterError(f"{option} {value}: must be a whole number, at least 1")
    periods = [("--snapshot-seconds", snapshot_seconds)] + ([("--reload-seconds", reload_seconds)]
                                                           if reload_seconds is not None else [])
    for option, value in periods:
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ParameterError(f"{option} {value}: must be a finite number of seconds, more than 0")


def _bind(host: str, port: int):
    """The listening socket, bound here so that a port in use (or an address not of this machine) is a RunError."""
    import socket

    try:
        return socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET,
                                    reuse_port=False)
    except OSError as exc:
        raise RunError(f"cannot listen on {host}:{port}: {exc.strerror or exc}"
                       + (" (another process listens there: pick another --port)" if exc.errno == errno.EADDRINUSE
                          else "")) from None
