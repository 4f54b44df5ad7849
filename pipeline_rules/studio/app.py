"""The studio's ASGI app: the page and its assets, and the JSON endpoints under
``/studio/api`` that lint, draw and save, built from the HTTP service's pieces (its limits,
token check, compute threads, error handling).

Every response carries a strict Content-Security-Policy: the page loads its script and styles
from this server only, runs no inline script, and may connect nowhere else.
"""

from __future__ import annotations

import contextlib
import gc
import socket
from collections.abc import AsyncIterator, Callable
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from pydantic import BaseModel, Field
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline_rules import __version__
from pipeline_rules.ruleset.catalog import CatalogError
from pipeline_rules.ruleset.schema import schema_text
from pipeline_rules.server.app import add_error_handlers, read_json, validated
from pipeline_rules.server.auth import BearerAuth
from pipeline_rules.server.compute import in_child
from pipeline_rules.server.errors import ApiError, json_response
from pipeline_rules.server.limits import BodyLimit, HeaderLimit
from pipeline_rules.studio.context import StudioContext
from pipeline_rules.studio.deals_routes import deals_router
from pipeline_rules.studio.editor import (
    check_text,
    refuse_size,
    rule_pages,
    said,
    save,
    save_version,
)

#: Where the API lives; with a token, every request under it must carry it.
API = "/studio/api"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = [(b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cache-control", b"no-store")]


class SecurityHeaders:
    """ASGI middleware adding the CSP and its companions to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


class Draft(BaseModel):
    """A file's text as the editor has it."""

    name: str = Field(min_length=1, max_length=300)
    text: str


class SaveBody(Draft):
    """Save: the text, the digest of the file as loaded, and whether to save despite errors."""

    digest: str = Field(min_length=64, max_length=64)
    force: bool = False


class VersionBody(Draft):
    """Save as a new version taking effect at ``effective``."""

    effective: str = Field(min_length=1, max_length=40)
    force: bool = False


def static_dir() -> str:
    """The folder of the built page (shipped as package data)."""
    return str(resources.files("pipeline_rules.studio") / "static")


def _checked_in_child(name: str, text: str, lang: str) -> dict[str, Any]:
    """:func:`check_text` in the forked child that runs it: the child ends with the answer, so
    its collector is switched off (as ``pipeline-rules lint`` pauses it), which halves the time
    of a large ruleset."""
    gc.disable()
    return check_text(name, text, lang).to_dict()


def _file_answer(ctx: StudioContext, name: str) -> dict[str, Any]:
    found = ctx.workspace.get(name)
    return {"name": found.name, "text": found.saved, "digest": found.digest,
            "versioned": "/" in found.name}


def _add_routes(app: FastAPI, ctx: StudioContext) -> None:
    async def compute(fn: Any) -> Any:
        # Lint and drawing run in a forked child, as the server lints: a hostile draft cannot
        # hold the event loop, and the child is killed when the budget runs out.
        return await ctx.run(lambda token: in_child(fn, token))

    @app.get("/", include_in_schema=False)
    async def page() -> Response:
        return FileResponse(f"{static_dir()}/index.html", media_type="text/html")

    @app.get(f"{API}/files")
    async def files() -> Response:
        try:
            names = ctx.workspace.names()
        except CatalogError as err:
            raise ApiError(404, "no-directory", str(err)) from None
        if not names:
            raise ApiError(404, "no-rulesets", said("no-rulesets", ctx.lang,
                                                    directory=ctx.directory))
        return json_response({"directory": str(ctx.directory), "files": names,
                              "deals": str(ctx.deals) if ctx.deals else None,
                              "mapping": str(ctx.mapping) if ctx.mapping else None,
                              "max_text": ctx.limits.max_text, "version": __version__})

    @app.get(f"{API}/file")
    async def file(name: str, reload: bool = False) -> Response:
        if reload:
            ctx.workspace.read(name)
            ctx.workspace.forget_catalog()
        return json_response(_file_answer(ctx, name))

    @app.post(f"{API}/check")
    async def check(request: Request) -> Response:
        body = validated(Draft, await read_json(request))
        refuse_size(body.text, ctx.limits.max_text, ctx.lang)
        ctx.workspace.path(body.name)
        ctx.workspace.draft(body.name, body.text)
        lang = ctx.lang
        answer = await compute(lambda: _checked_in_child(body.name, body.text, lang))
        return json_response(answer)

    @app.post(f"{API}/save")
    async def save_file(request: Request) -> Response:
        body = validated(SaveBody, await read_json(request))
        refuse_size(body.text, ctx.limits.max_text, ctx.lang)
        written = await ctx.run(lambda _: save(ctx.workspace, body.name, body.text,
                                               body.digest, body.force, ctx.lang))
        return json_response({"name": written.name, "digest": written.digest,
                              "message": said("saved", ctx.lang, name=written.name)})

    @app.post(f"{API}/save-version")
    async def save_new_version(request: Request) -> Response:
        body = validated(VersionBody, await read_json(request))
        refuse_size(body.text, ctx.limits.max_text, ctx.lang)
        written = await ctx.run(lambda _: save_version(
            ctx.workspace, body.name, body.text, body.effective, body.force, ctx.lang))
        return json_response({"name": written.name, "digest": written.digest,
                              "message": said("saved-version", ctx.lang, name=written.name)})

    @app.get(f"{API}/schema")
    async def ruleset_schema() -> Response:
        return Response(schema_text("ruleset"), media_type="application/json")

    @app.get(f"{API}/rules")
    async def rules() -> Response:
        return json_response(rule_pages())

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        return json_response({"status": "ok", "version": __version__})


#: A small ruleset linted once at start-up (see :func:`warm_up`).
_WARM_UP = """version: 1
id: warm-up
stages: [{id: a}, {id: won, terminal: won}, {id: lost, terminal: lost}]
start: [{id: s, stage: a}]
transitions: [{from: a, to: won}, {from: "*", to: lost}]
sla: [{id: t, stage: a, limit: 1 business day}]
"""


def warm_up(ctx: StudioContext) -> None:
    """Lint a small ruleset once in this process: each check runs in a forked child, which
    inherits what the first lint loads (the schema's validator, the rules, the calendars) instead
    of loading it again for every keystroke."""
    check_text("warm-up.yaml", _WARM_UP, ctx.lang)
    with contextlib.suppress(Exception):  # the files' own problems are the page's to show
        for name in ctx.workspace.names()[:1]:
            check_text(name, ctx.workspace.get(name).saved, ctx.lang)


def create_studio(ctx: StudioContext, token: str | None = None, max_headers: int = 100,
                  max_header_bytes: int = 16 * 1024) -> FastAPI:
    """The studio app over ``ctx``; with ``token``, every API request must carry it."""

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        warm_up(ctx)
        try:
            yield
        finally:
            ctx.compute.close()

    app = FastAPI(title="pipeline-rules studio", version=__version__, docs_url=None,
                  redoc_url=None, openapi_url=None, lifespan=lifespan)
    _add_routes(app, ctx)
    app.include_router(deals_router(ctx))
    app.mount("/static", StaticFiles(directory=static_dir()), name="static")
    add_error_handlers(app)
    # JSON may spell a character of the text in six bytes (\u00e9); the text's own limit is
    # checked, with a clearer message, once the body is read.
    app.add_middleware(BodyLimit, limit=max(ctx.limits.max_text * 6 + 4096,
                                            ctx.limits.max_deals_bytes), timeout=30.0)
    if token is not None:
        app.add_middleware(BearerAuth, token=token, prefix=API)
    app.add_middleware(HeaderLimit, count=max_headers, size=max_header_bytes)
    app.add_middleware(SecurityHeaders)
    return app


def serve_studio(ctx: StudioContext, host: str, port: int, token: str | None,
                 started: Callable[[str], None]) -> None:
    """Serve the studio until interrupted; ``started`` is told the page's address (the port
    chosen when ``port`` is 0) once the socket listens."""
    import uvicorn

    from pipeline_rules.server.logs import configure
    from pipeline_rules.server.protocol import ConnectionLimits, GuardedProtocol

    configure()
    GuardedProtocol.limits = ConnectionLimits(16 * 1024, 10.0, 30.0, 64)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host.strip("[]"), port))
    except OSError as err:
        listener.close()
        raise StudioStartError(f"cannot listen on {host}:{port}: {err.strerror or err}") \
            from None
    listener.listen(64)
    bound = listener.getsockname()[1]
    shown = f"[{host.strip('[]')}]" if family == socket.AF_INET6 else host
    url = f"http://{shown}:{bound}/" + (f"#token={token}" if token else "")
    server = uvicorn.Server(uvicorn.Config(
        create_studio(ctx, token), log_config=None, access_log=False, server_header=False,
        http=GuardedProtocol, timeout_graceful_shutdown=5))
    started(url)
    server.run(sockets=[listener])


class StudioStartError(RuntimeError):
    """The studio cannot start (the address is taken, say); the message says why."""


__all__ = ["API", "CSP", "StudioStartError", "create_studio", "serve_studio", "static_dir"]
