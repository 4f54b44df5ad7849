"""The HTTP connection, bounded: uvicorn's httptools protocol with the limits a client must not
get around.

uvicorn leaves a connection that sends nothing open for ever, reads a request head of any size
and, with ``limit_concurrency``, answers an overflow in plain text. Here a connection idle
before its first request is closed like an idle keep-alive one; a head must arrive whole within
a deadline from its first byte (408) and within a size (431); a connection past the cap is
answered 503, in the JSON every other error uses.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, ClassVar

import orjson
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from pipeline_rules.server.errors import ApiError, error_response
from pipeline_rules.server.limits import headers_too_large
from pipeline_rules.server.logs import event


@dataclass(frozen=True)
class ConnectionLimits:
    """What one connection may take: the size and time of a request head, idle time, and how
    many connections there may be."""

    max_header_bytes: int = 16 * 1024
    header_timeout: float = 10.0
    idle_timeout: float = 5.0
    max_connections: int = 256


def raw_error(error: ApiError) -> bytes:
    """A whole HTTP response for ``error``, closing the connection (for answers given before
    a request reaches the application)."""
    body = orjson.dumps(error.body())
    head = (f"HTTP/1.1 {error.status} {HTTPStatus(error.status).phrase}\r\n"
            "content-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n")
    return head.encode("ascii") + body


async def over_capacity(scope: Scope, receive: Receive, send: Send) -> None:
    """The application a connection past the cap gets: 503, then the connection closes."""
    error = ApiError(503, "too-many-connections",
                     "the server has as many connections as it takes; retry shortly")
    client = scope.get("client")
    event("connection-refused", logging.WARNING, status=503, error=error.code,
          client=client[0] if client else None)
    await error_response(error, {"Connection": "close", "Retry-After": "1"})(scope, receive,
                                                                           send)


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with bounded heads, idle time and connections."""

    #: Set once per process before serving (:func:`.runner.serve`, a worker's app factory).
    limits: ClassVar[ConnectionLimits] = ConnectionLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limit_concurrency = None  # the cap is applied per connection, below
        self.timeout_keep_alive = self.limits.idle_timeout  # type: ignore[assignment]
        self.awaiting_head = True
        self.head_bytes = 0
        self.heads = 0  # request heads parsed on this connection
        self.head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            # Its request is answered 503 as soon as its head is in; the timeouts bound how
            # long it can hold the socket without sending one.
            self.app = over_capacity
        self.timeout_keep_alive_task = self.loop.call_later(
            self.limits.idle_timeout, self.timeout_keep_alive_handler)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        was_awaiting, heads = self.awaiting_head, self.heads
        if was_awaiting and self.head_deadline is None:
            self.head_deadline = self.loop.call_later(self.limits.header_timeout,
                                                      self._head_too_slow)
        super().data_received(data)
        if self.awaiting_head and was_awaiting and self.heads == heads \
                and not self.transport.is_closing():
            # Only a read that ends inside an unfinished head counts: the size of a head that
            # arrived whole is checked with the request (HeaderLimit). So a head is refused
            # within one read of the limit, before it is all in memory.
            self.head_bytes += len(data)
            if self.head_bytes > self.limits.max_header_bytes:
                self._refuse(headers_too_large(self.limits.max_header_bytes))

    def on_headers_complete(self) -> None:
        self.awaiting_head = False
        self.heads += 1
        self.head_bytes = 0
        self._cancel_head_deadline()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.awaiting_head = True

    def _head_too_slow(self) -> None:
        self.head_deadline = None
        if self.awaiting_head and not self.transport.is_closing():
            timeout = self.limits.header_timeout
            self._refuse(ApiError(408, "request-timeout",
                                  f"the request headers did not arrive within {timeout:g} s",
                                  limit=timeout))

    def _refuse(self, error: ApiError) -> None:
        self._cancel_head_deadline()
        event("connection-refused", logging.WARNING, status=error.status, error=error.code,
              client=self.client[0] if self.client else None)
        self.transport.write(raw_error(error))
        self.transport.close()

    def _cancel_head_deadline(self) -> None:
        if self.head_deadline is not None:
            self.head_deadline.cancel()
            self.head_deadline = None


__all__ = ["ConnectionLimits", "GuardedProtocol", "over_capacity", "raw_error"]
