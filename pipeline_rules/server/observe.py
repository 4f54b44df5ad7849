"""Watching each request go by: one JSON log line and the request metrics, whatever its end.

The handler reports what it may log (ruleset id, counts) in ``request.state``; this middleware
sits outside authentication and the body limit so 401s and 413s are counted and logged too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline_rules.server.logs import event
from pipeline_rules.server.metrics import Metrics

#: What a handler may put in ``request.state`` for the log line (nothing from a deal).
LOGGED_STATE = ("ruleset", "deals", "findings", "allowed", "diagnostics", "error")
REQUEST_ID = b"x-request-id"


def request_id(scope: Scope) -> str | None:
    """The caller's ``X-Request-Id`` (for matching its log line), if sane."""
    for name, value in scope["headers"]:
        if name == REQUEST_ID:
            text = value.decode("latin-1")[:128]
            return text if text.isprintable() else None
    return None


class Observe:
    """ASGI middleware: log and count every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: Metrics, endpoints: Collection[str]) -> None:
        self.app = app
        self.metrics = metrics
        # Metric labels only take known paths: a scanner's random URLs must not create series.
        self.endpoints = frozenset(endpoints)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            return message

        async def watching_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        finally:
            seconds = time.perf_counter() - start
            path = scope["path"]
            endpoint = path if path in self.endpoints else "other"
            self.metrics.request(endpoint, scope["method"], status, seconds)
            fields: dict[str, Any] = {
                "method": scope["method"], "path": path[:200], "status": status,
                "duration_ms": round(seconds * 1000, 3), "body_bytes": received}
            state = scope.get("state") or {}
            fields.update((k, state[k]) for k in LOGGED_STATE if k in state)
            ident = request_id(scope)
            if ident is not None:
                fields["request_id"] = ident
            client = scope.get("client")
            if client:
                fields["client"] = client[0]
            event("request", logging.ERROR if status >= 500 else logging.INFO, **fields)
