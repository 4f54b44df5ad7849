"""The ASGI application: routes, body parsing, error handlers and middleware, built around one
ruleset registry by :func:`create_app`.

Handlers read and parse the body themselves (orjson, then pydantic for the envelope), so
malformed JSON is answered with its line and column, a deal is judged by the library's own
parser, and responses are serialised once with orjson. The OpenAPI document still describes
every body: see :mod:`.openapi`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import Response

from pipeline_rules import __version__
from pipeline_rules.deals.model import DealError
from pipeline_rules.evaluate.judge import schedule_problem
from pipeline_rules.server.auth import BearerAuth
from pipeline_rules.server.compute import ClientGoneError, ComputePool, Token, in_child
from pipeline_rules.server.errors import (
    ApiError,
    error_response,
    invalid_request,
    json_response,
    malformed_json,
)
from pipeline_rules.server.limits import BodyLimit, HeaderLimit, check_work, work_size
from pipeline_rules.server.linting import lint_bytes, summary
from pipeline_rules.server.live import Live
from pipeline_rules.server.logs import configure, log
from pipeline_rules.server.metrics import CONTENT_TYPE, Metrics
from pipeline_rules.server.models import (
    REQUEST_MODELS,
    CheckRequest,
    CheckResponse,
    EvaluateRequest,
    EvaluateResponse,
    Health,
    Lang,
    LintRequest,
    LintResponse,
    RebaseRequest,
    RebaseResponse,
    RulesetsResponse,
)
from pipeline_rules.server.observe import Observe
from pipeline_rules.server.openapi import YAML_TYPES, document, error_responses, json_body
from pipeline_rules.server.protocol import ConnectionLimits, GuardedProtocol
from pipeline_rules.server.registry import Registry, Version
from pipeline_rules.server.service import (
    check_transition,
    evaluate,
    evaluation_time,
    rebase_deal,
)
from pipeline_rules.server.settings import Settings, read_token
from pipeline_rules.server.watch import report, watch
from pipeline_rules.time.now import NowError

#: Environment variable holding the settings for worker processes (``--workers N``).
SETTINGS_ENV = "PIPELINE_RULES_SERVE_SETTINGS"
#: An evaluation going through more deals and history entries than this runs in a forked
#: child (its garbage collections do not pause the event loop, and it can be killed); smaller
#: ones, and stage checks, run on a thread, which costs less than a fork.
ISOLATE_AT = 2_000

Model = TypeVar("Model", bound=BaseModel)
T = TypeVar("T")

DESCRIPTION = """Enforce and evaluate sales-pipeline regulations over HTTP.

Every `/v1` call needs `Authorization: Bearer <token>` when the server was started with
`--token-file`. Request bodies are JSON (`/v1/lint` also takes the YAML itself as
`application/yaml`). Errors are JSON: `{"error": code, "message": ...}`; see docs/integrations.md.
"""


async def read_json(request: Request) -> Any:
    """The request body parsed as JSON (a byte-order mark before it skipped), or a 400 saying
    where it stopped making sense."""
    try:
        return orjson.loads((await request.body()).removeprefix(b"\xef\xbb\xbf"))
    except orjson.JSONDecodeError as err:
        raise malformed_json(err) from None


def validated(model: type[Model], data: Any) -> Model:
    """The body as ``model``, or a 422 naming each bad value by JSON pointer."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise invalid_request(err) from None


@dataclass(frozen=True)
class Context:
    """What the handlers share: the registry, the metrics, the settings and the threads that
    compute."""

    registry: Registry
    metrics: Metrics
    settings: Settings
    compute: ComputePool

    async def run(self, request: Request, fn: Callable[[Token], T], isolate: bool = False) -> T:
        """``fn`` on a compute thread (or, ``isolate``, in a child process forked by one)
        within the time budget, stopped if the client leaves."""
        work = (lambda token: in_child(lambda: fn(token), token)) if isolate else fn
        return await self.compute.run(work, self.settings.time_budget,
                                      lambda: disconnected(request))

    def version(self, ruleset: str) -> Version:
        """The version serving ``ruleset``, or a 404 listing those served."""
        found = self.registry.get(ruleset)
        if found is None:
            served = ", ".join(sorted(self.registry.snapshot.served)) or "none"
            raise ApiError(404, "unknown-ruleset", f"no ruleset '{ruleset}'; served: {served}")
        return found


def _add_routes(app: FastAPI, ctx: Context) -> None:
    @app.post("/v1/evaluate", response_model=EvaluateResponse, tags=["rulesets"],
              summary="Evaluate one deal or a batch into violations and actions",
              responses=error_responses(400, 404, 408, 409, 413, 422, 431, 503, 504),
              openapi_extra=json_body(EvaluateRequest, "One deal (`deal`) or a batch (`deals`)."))
    async def evaluate_deals(request: Request) -> Response:
        body = validated(EvaluateRequest, await read_json(request))
        version = ctx.version(body.ruleset)
        now = usable_time(body.now, version, body.lang)
        if "deal" in body.model_fields_set:
            items: list[tuple[str, object]] = [("/deal", body.deal)]
        else:
            items = [(f"/deals/{i}", deal) for i, deal in enumerate(body.deals)]
        check_work(items, ctx.settings.max_deals, ctx.settings.deal_limits())
        payload, codes, found = await ctx.run(
            request, lambda token: _evaluated(version, items, now, body.lang, token),
            isolate=work_size(items) > ISOLATE_AT)
        state = request.state
        state.ruleset, state.deals, state.findings = version.id, len(items), found
        ctx.metrics.evaluated(version.id, len(items), codes)
        return Response(payload, media_type="application/json")

    @app.post("/v1/check-transition", response_model=CheckResponse, tags=["rulesets"],
              summary="May this deal move to that stage? Yes, or no with every reason",
              responses=error_responses(400, 404, 408, 413, 422, 431, 503, 504),
              openapi_extra=json_body(CheckRequest, "The deal and the stage it should move to."))
    async def check(request: Request) -> Response:
        body = validated(CheckRequest, await read_json(request))
        version = ctx.version(body.ruleset)
        check_work([("/deal", body.deal)], 1, ctx.settings.deal_limits())
        try:
            decision = await ctx.run(request, lambda token: check_transition(
                version, body.deal, body.to, body.lang))
        except DealError as err:
            path = "/deal" + err.path
            raise ApiError(422, "bad-deal", f"bad deal at {path}: {err.message}",
                           path=path) from None
        request.state.ruleset, request.state.allowed = version.id, decision["allowed"]
        ctx.metrics.decisions.labels(version.id, str(decision["allowed"]).lower()).inc()
        return json_response(decision)

    lint_body = json_body(LintRequest, "The ruleset's YAML, in JSON or as the body itself.")
    for media_type in YAML_TYPES:
        lint_body["requestBody"]["content"][media_type] = {"schema": {
            "type": "string", "examples": ["version: 1\nid: demo\ntitle: Demo\nstages: [\n"]}}

    @app.post("/v1/lint", response_model=LintResponse, tags=["lint"],
              summary="Lint a ruleset; 200 with its diagnostics, problems or not",
              responses=error_responses(400, 408, 413, 415, 422, 431, 503, 504),
              openapi_extra=lint_body)
    async def lint_posted(request: Request, lang: Lang = "en") -> Response:
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type in YAML_TYPES or media_type in ("application/x-yaml", "text/x-yaml"):
            data = await request.body()
        elif media_type == "application/json":
            body = validated(LintRequest, await read_json(request))
            data = body.yaml.encode("utf-8")
            lang = body.lang if "lang" in body.model_fields_set else lang
        else:
            raise ApiError(415, "unsupported-media-type",
                           "post the ruleset as application/yaml, or as JSON "
                           "{\"yaml\": \"...\"} with application/json")
        # Always in a child: a hostile ruleset can keep the linter busy, and the child can be
        # killed when the budget runs out or the client leaves.
        payload, found = await ctx.run(request, lambda token: _linted(data, lang), isolate=True)
        request.state.diagnostics = found
        return Response(payload, media_type="application/json")

    @app.get("/v1/rulesets", response_model=RulesetsResponse, tags=["rulesets"],
             summary="The served rulesets, and the broken edits of any")
    async def rulesets() -> Response:
        return json_response({"rulesets": ctx.registry.listing()})

    @app.get("/healthz", response_model=Health, tags=["operations"], summary="Liveness")
    async def healthz() -> Response:
        return json_response({"status": "ok", "version": __version__,
                              "rulesets": len(ctx.registry.snapshot.served)})

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics",
             responses={200: {"description": "Prometheus text format.",
                              "content": {"text/plain": {"schema": {"type": "string"}}}}})
    async def metrics() -> Response:
        # On a thread: with a store, rendering reads it and may wait for a write under way.
        return Response(await run_in_threadpool(ctx.metrics.render), media_type=CONTENT_TYPE)


def _add_rebase_route(app: FastAPI, ctx: Context) -> None:
    @app.post("/v1/rebase", response_model=RebaseResponse, tags=["rulesets"],
              summary="Re-base a deal onto the version in force now; its findings under it",
              responses=error_responses(400, 404, 408, 409, 413, 422, 431, 503, 504),
              openapi_extra=json_body(RebaseRequest, "The deal and the instant of the "
                                                     "re-basing."))
    async def rebase(request: Request) -> Response:
        body = validated(RebaseRequest, await read_json(request))
        version = ctx.version(body.ruleset)
        now = usable_time(body.now, version, body.lang)
        check_work([("/deal", body.deal)], 1, ctx.settings.deal_limits())
        try:
            answer = await ctx.run(request, lambda token: rebase_deal(
                version, body.deal, now, body.lang))
        except DealError as err:
            path = "/deal" + err.path
            raise ApiError(422, "bad-deal", f"bad deal at {path}: {err.said(body.lang)}",
                           path=path) from None
        request.state.ruleset = version.id
        return json_response(answer)


def usable_time(text: str | None, version: Version, lang: str) -> datetime:
    """A request's ``now`` (the server's clock when it gives none), or a 422 for a bad one and
    a 409 for one the ruleset's schedule cannot be evaluated at."""
    try:
        now = evaluation_time(text, version)
    except NowError as err:
        raise ApiError(422, "invalid-request", f"{err.where}: {err.message}",
                       path=err.where) from None
    unschedulable = schedule_problem(version.compiled, now, lang)
    if unschedulable is not None:
        raise ApiError(409, "ruleset-unusable", unschedulable)
    return now


async def disconnected(request: Request) -> None:
    """Return when the client of a request whose body has been read goes away."""
    # After the body, the next message is the disconnect; a server that has something else to
    # say (an in-process test harness) has no news of the client, so this waits for ever.
    message = await request.receive()
    if message["type"] != "http.disconnect":
        await asyncio.get_running_loop().create_future()


def _evaluated(version: Version, items: list[tuple[str, object]], now: datetime, lang: str,
               token: Token) -> tuple[bytes, dict[str, int], int]:
    """The response body of an evaluation, its findings per code, and how many there are
    (serialised where it was computed, so a big answer is not encoded on the event loop)."""
    result = evaluate(version, items, now, lang, token.check)
    body = orjson.dumps({"findings": result.findings, "summary": result.summary})
    return body, result.summary, len(result.findings)


def _linted(data: bytes, lang: str) -> tuple[bytes, int]:
    """The response body of a lint and its number of diagnostics."""
    found = lint_bytes(data, lang=lang)
    body = orjson.dumps({"diagnostics": [d.to_dict() for d in found], "summary": summary(found)})
    return body, len(found)


def add_error_handlers(app: FastAPI) -> None:
    """Answer every refusal as its JSON error, and a bug as a 500 logged in full."""
    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        request.state.error = exc.code
        return error_response(exc)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code,
                                                                 f"http-{exc.status_code}")
        return error_response(ApiError(exc.status_code, code, str(exc.detail)),
                              dict(exc.headers or {}))

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        problems = [{"path": "/".join(str(p) for p in e.get("loc", ())),
                     "message": str(e.get("msg", ""))} for e in exc.errors()]
        first = problems[0] if problems else {"path": "", "message": "invalid request"}
        return error_response(ApiError(422, "invalid-request",
                                       f"{first['path']}: {first['message']}",
                                       problems=problems))

    async def on_client_gone(request: Request, exc: Exception) -> Response:
        # Nobody reads this answer; the status says in the log why the work was dropped
        # (499 is nginx's "client closed request").
        request.state.error = "client-gone"
        return Response(status_code=499)

    async def on_bug(request: Request, exc: Exception) -> Response:
        # Only bugs get here: every refusal of bad input is an ApiError.
        log.error("unhandled error", exc_info=exc, extra={"fields": {
            "event": "unhandled-error", "method": request.method, "path": request.url.path,
            "error": type(exc).__name__}})
        return json_response({"error": "internal",
                              "message": "internal error; the server log has the details"},
                             500)

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(ClientGoneError, on_client_gone)
    app.add_exception_handler(Exception, on_bug)


def create_app(settings: Settings, registry: Registry | None = None,
               live: Live | None = None) -> FastAPI:
    """The application serving ``settings.ruleset_dir`` (loaded before this returns); with
    ``live``, the runtime's routes and its scheduler too (:mod:`.live`)."""
    metrics = Metrics()
    if registry is None:
        registry = Registry(settings.ruleset_dir)
        report(registry.refresh(), metrics)
    token = read_token(settings.token_file) if settings.token_file else None
    compute = ComputePool(settings.compute_threads, settings.compute_queue)
    metrics.watch_compute(lambda: compute.running, lambda: compute.held)
    ctx = Context(registry, metrics, settings, compute)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(watch(registry, settings.reload_interval, metrics))
        if live is not None:
            live.start()
        try:
            yield
        finally:
            if live is not None:
                live.stop()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            compute.close()

    app = FastAPI(title="pipeline-rules", version=__version__, description=DESCRIPTION,
                  docs_url=None, redoc_url=None, lifespan=lifespan)
    _add_routes(app, ctx)
    _add_rebase_route(app, ctx)
    if live is not None:
        live.install(app, ctx)
    add_error_handlers(app)
    endpoints = {getattr(r, "path", "") for r in app.routes} - {""}
    # Added innermost first: Observe sees every request, BearerAuth runs before the body is read.
    app.add_middleware(BodyLimit, limit=settings.max_body, timeout=settings.body_timeout)
    if token is not None:
        app.add_middleware(BearerAuth, token=token)
    app.add_middleware(HeaderLimit, count=settings.max_headers, size=settings.max_header_bytes)
    app.add_middleware(Observe, metrics=metrics, endpoints=endpoints)
    openapi_doc = document(app, REQUEST_MODELS, secured=token is not None)
    app.openapi = lambda: openapi_doc  # type: ignore[method-assign]
    app.state.registry = registry
    return app


def app_from_environment() -> FastAPI:
    """The app for a worker process (``--workers N``): settings come from the environment."""
    configure()
    settings = Settings.from_json(os.environ[SETTINGS_ENV])
    GuardedProtocol.limits = connection_limits(settings)
    return create_app(settings)


def connection_limits(settings: Settings) -> ConnectionLimits:
    """What one connection may take, from the settings."""
    return ConnectionLimits(settings.max_header_bytes, settings.header_timeout,
                            settings.idle_timeout, settings.max_connections)


__all__ = ["SETTINGS_ENV", "Context", "add_error_handlers", "app_from_environment",
           "connection_limits", "create_app", "disconnected", "read_json", "validated"]
