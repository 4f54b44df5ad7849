"""The limits on what a request may bring: the body (size, and time to arrive), the header
count, and the deals and the history entries, tasks, events and pauses of each that the work
will go through.

A declared ``Content-Length`` over the body limit is refused before reading, and a chunked body
is counted as it streams in and refused at the first byte past the limit; a body that has not
arrived whole within its time is refused with 408. Header size, idle and slow heads are bounded
per connection (:mod:`.protocol`), before a request exists.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline_rules.server.errors import ApiError, error_response


class BodyTooLargeError(Exception):
    """Raised from ``receive`` when a streamed body passes the limit."""


class BodyTooSlowError(Exception):
    """Raised from ``receive`` when the body has not arrived whole in time."""


def too_large(limit: int) -> ApiError:
    """The 413 error for a body over ``limit`` bytes."""
    return ApiError(413, "body-too-large",
                    f"the request body is over the limit of {limit:,} bytes", limit=limit)


def too_slow(timeout: float) -> ApiError:
    """The 408 error for a body that took longer than ``timeout`` seconds to arrive."""
    return ApiError(408, "request-timeout",
                    f"the request body did not arrive within {timeout:g} s", limit=timeout)


def declared_length(scope: Scope) -> int | None:
    """The ``Content-Length`` of a request, or None when it has none (chunked)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            # The HTTP parser has already refused a length that is not a number.
            return int(value)
    return None


class BodyLimit:
    """ASGI middleware enforcing a maximum request body size with 413, and the time the body
    may take to arrive with 408."""

    def __init__(self, app: ASGIApp, limit: int, timeout: float | None = None) -> None:
        self.app = app
        self.limit = limit
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The connection is closed after a 413 or 408: the rest of the body is never read.
        headers = {"Connection": "close"}
        length = declared_length(scope)
        if length is not None and length > self.limit:
            await error_response(too_large(self.limit), headers)(scope, receive, send)
            return
        received = 0
        started = False
        complete = False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout if self.timeout is not None else None

        async def counted() -> Message:
            nonlocal received, complete
            if complete or deadline is None:
                message = await receive()  # after the body: waiting for a disconnect
            else:
                try:
                    message = await asyncio.wait_for(receive(), max(deadline - loop.time(), 0))
                except TimeoutError:
                    raise BodyTooSlowError from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                complete = not message.get("more_body", False)
                if received > self.limit:
                    raise BodyTooLargeError
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except (BodyTooLargeError, BodyTooSlowError) as err:
            if started:  # pragma: no cover - handlers read the body before answering
                raise
            error = too_large(self.limit) if isinstance(err, BodyTooLargeError) \
                else too_slow(self.timeout or 0)
            await error_response(error, headers)(scope, receive, send)


def headers_too_large(limit: int) -> ApiError:
    """The 431 error for a request line and headers over ``limit`` bytes."""
    return ApiError(431, "headers-too-large",
                    f"the request line and headers are over the limit of {limit:,} bytes",
                    limit=limit)


def head_size(scope: Scope) -> int:
    """The size of a request's line and headers as sent (give or take the spacing)."""
    line = len(scope.get("method", "")) + len(scope.get("raw_path", b"")) \
        + len(scope.get("query_string", b"")) + 12
    return line + sum(len(name) + len(value) + 4 for name, value in scope["headers"]) + 2


class HeaderLimit:
    """ASGI middleware refusing a request with more header fields than ``count`` or a head
    over ``size`` bytes (431). A head still arriving is bounded by the connection
    (:class:`.protocol.GuardedProtocol`); this sees one that arrived whole in one read."""

    def __init__(self, app: ASGIApp, count: int, size: int) -> None:
        self.app = app
        self.count = count
        self.size = size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        error = None
        if len(scope["headers"]) > self.count:
            error = ApiError(431, "too-many-headers",
                             f"the request has {len(scope['headers'])} header fields; the "
                             f"limit is {self.count}", limit=self.count)
        elif head_size(scope) > self.size:
            error = headers_too_large(self.size)
        if error is not None:
            await error_response(error, {"Connection": "close"})(scope, receive, send)
            return
        await self.app(scope, receive, send)


#: The lists of one deal a request may bring, each with the error code past its limit.
DEAL_LISTS = {"history": "history-too-long", "tasks": "too-many-tasks",
              "events": "too-many-events", "pauses": "too-many-pauses"}
#: What a list holds, for the message.
_ENTRIES = {"history": "history entries", "tasks": "tasks", "events": "events",
            "pauses": "pauses"}


def check_work(items: Sequence[tuple[str, object]], max_deals: int,
               per_deal: Mapping[str, int]) -> None:
    """Refuse (413) more deals than ``max_deals``, or a deal whose history, tasks, events or
    pauses are longer than ``per_deal`` allows for that list, naming it by its JSON pointer."""
    if len(items) > max_deals:
        raise too_many_deals(len(items), max_deals)
    for origin, deal in items:
        problem = oversized(deal, origin, per_deal)
        if problem is not None:
            raise problem


def too_many_deals(count: int, max_deals: int, **where: object) -> ApiError:
    """The 413 for a request of ``count`` deals, over ``max_deals``."""
    return ApiError(413, "too-many-deals",
                    f"the request has {count:,} deals; the limit is {max_deals:,} per "
                    "request: send them in several requests", limit=max_deals, **where)


def oversized(deal: object, origin: str, per_deal: Mapping[str, int]) -> ApiError | None:
    """The 413 for a deal (at JSON pointer ``origin``) whose history, tasks, events or pauses
    are longer than ``per_deal`` allows for that list, or None when it is within them."""
    if not isinstance(deal, dict):
        return None
    for name, limit in per_deal.items():
        entries = deal.get(name)
        if isinstance(entries, list) and len(entries) > limit:
            path = f"{origin}/{name}"
            return ApiError(413, DEAL_LISTS[name],
                            f"{path} has {len(entries):,} {_ENTRIES[name]}; the limit is "
                            f"{limit:,} per deal", path=path, limit=limit)
    return None


def work_size(items: Sequence[tuple[str, object]]) -> int:
    """How much an evaluation has to go through: its deals and the entries of their lists
    (history, tasks, events, pauses)."""
    size = len(items)
    for _, deal in items:
        if not isinstance(deal, dict):
            continue
        for name in DEAL_LISTS:
            entries = deal.get(name)
            if isinstance(entries, list):
                size += len(entries)
    return size
