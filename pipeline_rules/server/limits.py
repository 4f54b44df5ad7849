"""The request body limit: a declared ``Content-Length`` over it is refused before reading, and
a chunked body is counted as it streams in and refused at the first byte past the limit."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline_rules.server.errors import ApiError, error_response


class BodyTooLargeError(Exception):
    """Raised from ``receive`` when a streamed body passes the limit."""


def too_large(limit: int) -> ApiError:
    """The 413 error for a body over ``limit`` bytes."""
    return ApiError(413, "body-too-large",
                    f"the request body is over the limit of {limit:,} bytes", limit=limit)


def declared_length(scope: Scope) -> int | None:
    """The ``Content-Length`` of a request, or None when it has none (chunked)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            # The HTTP parser has already refused a length that is not a number.
            return int(value)
    return None


class BodyLimit:
    """ASGI middleware enforcing a maximum request body size with 413."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The connection is closed after a 413: the rest of the body is never read.
        headers = {"Connection": "close"}
        length = declared_length(scope)
        if length is not None and length > self.limit:
            await error_response(too_large(self.limit), headers)(scope, receive, send)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
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
        except BodyTooLargeError:
            if started:  # pragma: no cover - handlers read the body before answering
                raise
            await error_response(too_large(self.limit), headers)(scope, receive, send)
