"""Bearer-token authentication for the ``/v1`` API.

``/healthz``, ``/metrics`` and ``/openapi.json`` stay open: a load balancer's health probe and a
Prometheus scraper rarely carry secrets, and none of the three tells anything about deals (the
metrics are counts by endpoint, status, ruleset and finding code).
"""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from pipeline_rules.server.errors import ApiError, error_response

PROTECTED_PREFIX = "/v1"
REALM = 'Bearer realm="pipeline-rules"'


def protected(path: str, prefix: str = PROTECTED_PREFIX) -> bool:
    """Whether a request path needs the token (it lies under ``prefix``)."""
    return path == prefix or path.startswith(prefix + "/")


def authorized(header: bytes | None, expected: bytes) -> bool:
    """Whether an ``Authorization`` header value carries the expected bearer token."""
    if header is None:
        return False
    scheme, _, credentials = header.strip().partition(b" ")
    # compare_digest takes the same time wherever the first difference is, so response times
    # do not reveal how much of a guessed token was right.
    return scheme.lower() == b"bearer" and hmac.compare_digest(credentials.strip(), expected)


class BearerAuth:
    """ASGI middleware: a ``/v1`` request (or one under ``prefix``) without the token gets 401
    before its body is read."""

    def __init__(self, app: ASGIApp, token: str, prefix: str = PROTECTED_PREFIX) -> None:
        self.app = app
        self.expected = token.encode("utf-8")
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not protected(scope["path"], self.prefix):
            await self.app(scope, receive, send)
            return
        header = next((value for name, value in scope["headers"] if name == b"authorization"),
                      None)
        if authorized(header, self.expected):
            await self.app(scope, receive, send)
            return
        if header is None:
            error = ApiError(401, "unauthorized",
                             "this API needs 'Authorization: Bearer <token>'")
            challenge = REALM
        else:
            error = ApiError(401, "unauthorized", "the bearer token is not valid")
            challenge = f'{REALM}, error="invalid_token"'
        await error_response(error, {"WWW-Authenticate": challenge})(scope, receive, send)
