"""The service's door: the bearer token, each request timed and counted, bodies read up to a limit, JSON out.

A plain ASGI wrapper (no per-request task or copy), so a request costs what its endpoint costs.
"""
from __future__ import annotations

import hmac
import json
from time import perf_counter

from starlette.requests import ClientDisconnect
from starlette.responses import Response

from bwkit.runs import strict

LOOPBACK = {"127.0.0.1", "::1", "localhost"}   # the binds that need no token
CLIENT_GONE = 499   # counted for a request whose client left before its body was read (nothing is answered)


class BodyTooLarge(Exception):
    """The request's body is over the service's limit."""


def dumps(content) -> bytes:
    """Strict JSON (a NaN or infinity becomes null: the answer is never a 500)."""
    try:
        return json.dumps(content, allow_nan=False, separators=(",", ":")).encode()
    except ValueError:
        return json.dumps(strict(content), allow_nan=False, separators=(",", ":")).encode()


def answer(content, status: int = 200, headers: dict | None = None) -> Response:
    return Response(dumps(content), status, headers, media_type="application/json")


async def read_body(scope, receive, limit_bytes: int) -> bytes:
    """The whole body (read as Starlette's `request.stream()` reads it), refused (BodyTooLarge) as soon as it is over
    `limit_bytes`, declared or sent."""
    declared = next((value for name, value in scope["headers"] if name == b"content-length"), b"").decode("latin-1")
    if declared.isdigit() and int(declared) > limit_bytes:
        raise BodyTooLarge
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit_bytes:
                raise BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect()


class Guard:
    """Wraps the app: 401 without the bearer token (when one is set); every answer counted and timed by endpoint."""

    def __init__(self, app, token: str | None, meters):
        self.app, self.meters = app, meters
        self.expected = f"Bearer {token}".encode() if token else None

    def _authorized(self, scope) -> bool:
        for name, value in scope["headers"]:
            if name == b"authorization":
                return hmac.compare_digest(value, self.expected)
        return False

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, status = perf_counter(), [0]

        async def sent(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        if self.expected is not None and not self._authorized(scope):
            refusal = answer({"detail": "missing or wrong bearer token: send 'Authorization: Bearer <token>'"}, 401,
                             {"WWW-Authenticate": "Bearer"})
            await refusal(scope, receive, sent)
        else:
            await self.app(scope, receive, sent)
        endpoint = getattr(scope.get("endpoint"), "__name__", "unmatched")
        self.meters.answered(endpoint, scope["method"], status[0] or CLIENT_GONE, seconds=perf_counter() - start)
