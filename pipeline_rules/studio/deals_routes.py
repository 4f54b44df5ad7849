"""The studio's deals endpoints under ``/studio/api/deals``: load deals, judge them at a
``now``, draw one deal's timeline, and compare a draft with the saved ruleset on them.

The work runs off the event loop on the studio's compute threads, within its time budget
(:meth:`StudioContext.run`); a what-if, which backtests, runs in a forked child that is killed
when the budget runs out. While a load runs, ``GET /studio/api/deals`` says how many records
it has read so far. Every refusal is an ``ApiError``: a draft with errors is a 422 carrying the
linter's diagnostics, never a 500.
"""

from __future__ import annotations

import re
import tempfile
import threading
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from pipeline_rules import i18n
from pipeline_rules.deals.model import Record
from pipeline_rules.ruleset.catalog import RulesetError
from pipeline_rules.ruleset.compiled import CompiledRuleset
from pipeline_rules.server.app import read_json, validated
from pipeline_rules.server.compute import Token, in_child
from pipeline_rules.server.errors import ApiError, json_response
from pipeline_rules.studio.context import StudioContext, compile_named
from pipeline_rules.studio.deals import (
    LoadedDeals,
    LoadError,
    Period,
    PeriodError,
    check_period,
    find_record,
    findings_at,
    load_deals,
    number,
    timeline,
    what_if,
)
from pipeline_rules.time.durations import DurationError, parse_duration
from pipeline_rules.time.now import NowError, parse_now

PREFIX = "/studio/api/deals"
#: Deals listed per page of findings, by default and at most (the counts cover them all).
PAGE = 200
MAX_PAGE = 2_000
#: The names an uploaded file may keep (its suffix decides how it is read).
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class LoadBody(BaseModel):
    """Load the deals given on the command line (no ``content``), or an uploaded file's text
    (``content``, named ``filename``: ``.jsonl``, ``.json`` or ``.csv``, read through the
    studio's mapping); times without an offset are read in the zone of ruleset ``file``."""

    file: str = Field(min_length=1, max_length=300)
    content: str | None = None
    filename: str | None = Field(None, min_length=1, max_length=200)


class AtBody(BaseModel):
    """The deals judged by ruleset ``file`` (its ``draft`` text, if sent) at ``now``."""

    file: str = Field(min_length=1, max_length=300)
    now: str | None = Field(None, max_length=60)
    draft: str | None = None


class FindingsBody(AtBody):
    """A page of the deals judged at ``now``: ``limit`` rows from ``offset``, only the deals
    with findings when ``with_findings``."""

    offset: int = Field(0, ge=0)
    limit: int = Field(PAGE, ge=1, le=MAX_PAGE)
    with_findings: bool = False


class TimelineBody(AtBody):
    """One deal's timeline."""

    deal: str = Field(min_length=1, max_length=300)


class WhatIfBody(AtBody):
    """The draft against the saved text of ``file``; a backtest from ``start`` to ``end``
    every ``every`` when both are given."""

    draft: str
    start: str | None = Field(None, max_length=60)
    end: str | None = Field(None, max_length=60)
    every: str = Field("1d", max_length=40)


class DealsState:
    """The deals loaded in this studio run, and the load under way (safe across threads)."""

    def __init__(self, lang: str = i18n.DEFAULT) -> None:
        self.lang = lang
        self._lock = threading.Lock()
        self.loaded: LoadedDeals | None = None
        self.loading = False
        self.count = 0
        self.error: dict[str, Any] | None = None

    def begin(self) -> None:
        """Mark a load as started; a 409 if one is under way."""
        with self._lock:
            if self.loading:
                raise ApiError(409, "already-loading",
                               i18n.render("studio.deals.already-loading", {}, self.lang))
            self.loading, self.count, self.error = True, 0, None

    def progress(self, count: int) -> None:
        """Records read so far."""
        self.count = count

    def end(self, loaded: LoadedDeals | None, error: dict[str, Any] | None = None) -> None:
        """The load is over: its deals (kept only when it succeeded) or its error."""
        with self._lock:
            self.loading = False
            if loaded is not None:
                self.loaded, self.count = loaded, len(loaded.records)
            self.error = error

    def status(self) -> dict[str, Any]:
        """What the page shows: loading with the count so far, loaded, failed or empty."""
        with self._lock:
            state = "loading" if self.loading else "ready" if self.loaded is not None \
                else "failed" if self.error is not None else "empty"
            return {"state": state, "count": self.count, "error": self.error,
                    "loaded": self.loaded.summary() if self.loaded is not None else None}

    def records(self) -> tuple[Record, ...]:
        """The loaded records; a 409 when none are loaded."""
        loaded = self.loaded
        if loaded is None:
            raise ApiError(409, "no-deals", i18n.render("studio.deals.no-deals", {},
                                                        self.lang))
        return loaded.records


def _size_check(text: str, limit: int, what: str, lang: str) -> None:
    size = len(text.encode("utf-8"))
    if size > limit:
        raise ApiError(413, f"{what}-too-large", i18n.render("studio.deals.too-large", {
            "what": i18n.render(f"studio.deals.what.{what}", {}, lang),
            "size": number(size, lang), "limit": number(limit, lang)}, lang), limit=limit)


def _saved(ctx: StudioContext, name: str) -> CompiledRuleset:
    ctx.workspace.path(name)  # a 404 for a name outside the directory
    try:
        return ctx.compiled(name, draft=False)
    except RulesetError as err:
        raise ApiError(409, "saved-unusable", i18n.render("studio.deals.saved-unusable", {
            "name": name, "reason": err}, ctx.lang),
                       diagnostics=[d.to_dict() for d in err.diagnostics]) from None


def _draft(ctx: StudioContext, name: str, text: str) -> CompiledRuleset:
    _size_check(text, ctx.limits.max_text, "text", ctx.lang)
    try:
        return compile_named(name, text, ctx.lang)
    except RulesetError as err:
        raise ApiError(422, "draft-has-errors", i18n.render("studio.deals.draft-errors", {
            "reason": err}, ctx.lang),
                       diagnostics=[d.to_dict() for d in err.diagnostics]) from None


def _time(text: str | None, compiled: CompiledRuleset, where: str) -> datetime:
    try:
        return parse_now(text, compiled.zone, where)
    except NowError as err:
        raise ApiError(422, "invalid-request", f"{err.where}: {err.message}",
                       path=err.where) from None


def _period(body: WhatIfBody, compiled: CompiledRuleset, lang: str, deals: int
            ) -> Period | None:
    if body.start is None and body.end is None:
        return None
    if body.start is None or body.end is None:
        where = "/start" if body.start is None else "/end"
        raise ApiError(422, "invalid-request", i18n.render("studio.deals.needs-both", {
            "where": where}, lang), path=where)
    try:
        step = parse_duration(body.every)
    except DurationError as err:
        raise ApiError(422, "invalid-request", f"/every: {err}", path="/every") from None
    if step.is_business or step.amount <= 0:
        raise ApiError(422, "invalid-request", i18n.render("studio.deals.every", {}, lang),
                       path="/every")
    period = Period(_time(body.start, compiled, "/start"), _time(body.end, compiled, "/end"),
                    timedelta(seconds=step.amount))
    try:
        check_period(period, lang=lang, deals=deals)
    except PeriodError as err:
        raise ApiError(422, "bad-period", str(err), path="/start") from None
    return period


def _upload(body: LoadBody, folder: str) -> str:
    """The uploaded text written into ``folder`` under its (cleaned) name."""
    name = _SAFE_NAME.sub("_", Path(body.filename or "deals.jsonl").name).lstrip(".") \
        or "deals.jsonl"
    path = Path(folder) / name
    path.write_text(body.content or "", "utf-8")
    return str(path)


def _renamed(loaded: LoadedDeals, folder: str) -> LoadedDeals:
    """An uploaded file's deals named by the file's name, not the temporary folder's."""
    prefix = folder.rstrip("/") + "/"

    def name(origin: str) -> str:
        return origin.removeprefix(prefix)

    return replace(loaded, source=name(loaded.source),
                   records=tuple(replace(r, origin=name(r.origin)) for r in loaded.records),
                   bad=tuple(replace(b, origin=name(b.origin),
                                     message=b.message.replace(prefix, ""))
                             for b in loaded.bad),
                   capped=loaded.capped.replace(prefix, "") if loaded.capped else None)


async def _load(ctx: StudioContext, state: DealsState, body: LoadBody) -> dict[str, Any]:
    """Load the deals a request names, keeping the state's count current as it goes."""
    compiled = _saved(ctx, body.file)
    if body.content is None and ctx.deals is None:
        raise ApiError(409, "no-deals-file", i18n.render("studio.deals.no-deals-file", {},
                                                         ctx.lang))
    if body.content is not None:
        _size_check(body.content, ctx.limits.max_deals_bytes, "deals", ctx.lang)
    mapping = str(ctx.mapping) if ctx.mapping is not None else None
    state.begin()

    def work(token: Token) -> LoadedDeals:
        if body.content is None:
            assert ctx.deals is not None
            return load_deals(str(ctx.deals), compiled.zone, mapping,
                              cap=ctx.limits.max_deals, progress=state.progress,
                              lang=ctx.lang, stop=token.check)
        with tempfile.TemporaryDirectory(prefix="studio-deals-") as folder:
            try:
                loaded = load_deals(_upload(body, folder), compiled.zone, mapping,
                                    cap=ctx.limits.max_deals, progress=state.progress,
                                    lang=ctx.lang, stop=token.check)
            except LoadError as err:  # said of the file's name, not the temporary folder's
                prefix = folder.rstrip("/") + "/"
                raise LoadError(err.code, err.message.replace(prefix, ""), [
                    replace(d, message=d.message.replace(prefix, ""))
                    for d in err.diagnostics], **err.extra) from None
            return _renamed(loaded, folder)

    try:
        loaded = await ctx.run(work)
    except LoadError as err:
        error = {"error": err.code, "message": err.message,
                 "diagnostics": [d.to_dict() for d in err.diagnostics], **err.extra}
        state.end(None, error)
        raise ApiError(422, err.code, err.message, diagnostics=error["diagnostics"],
                       **err.extra) from None
    except BaseException as err:
        message = err.message if isinstance(err, ApiError) \
            else i18n.render("studio.deals.unfinished", {}, ctx.lang)
        state.end(None, {"error": "load-failed", "message": message})
        raise
    state.end(loaded)
    return loaded.summary()


def deals_router(ctx: StudioContext) -> APIRouter:
    """The deals and what-if endpoints over ``ctx`` (their state lives as long as the
    router)."""
    router = APIRouter()
    state = DealsState(ctx.lang)

    @router.get(PREFIX)
    async def status() -> Response:
        answer = state.status()
        answer["given"] = {"deals": str(ctx.deals) if ctx.deals else None,
                           "mapping": str(ctx.mapping) if ctx.mapping else None}
        answer["cap"] = ctx.limits.max_deals
        return json_response(answer)

    @router.post(f"{PREFIX}/load")
    async def load(request: Request) -> Response:
        body = validated(LoadBody, await read_json(request))
        return json_response(await _load(ctx, state, body))

    @router.post(f"{PREFIX}/findings")
    async def findings(request: Request) -> Response:
        body = validated(FindingsBody, await read_json(request))
        compiled = _draft(ctx, body.file, body.draft) if body.draft is not None \
            else _saved(ctx, body.file)
        now = _time(body.now, compiled, "/now")
        records = state.records()
        answer = await ctx.run(lambda token: findings_at(compiled, records, now, ctx.lang,
                                                         token.check))
        rows = answer["deals"]
        if body.with_findings:
            rows = [row for row in rows if row["findings"]]
        answer.update(deals=rows[body.offset:body.offset + body.limit], total=len(rows),
                      offset=body.offset, limit=body.limit)
        return json_response(answer)

    @router.post(f"{PREFIX}/timeline")
    async def deal_timeline(request: Request) -> Response:
        body = validated(TimelineBody, await read_json(request))
        compiled = _draft(ctx, body.file, body.draft) if body.draft is not None \
            else _saved(ctx, body.file)
        now = _time(body.now, compiled, "/now")
        record = find_record(state.records(), body.deal)
        if record is None:
            raise ApiError(404, "unknown-deal", i18n.render("studio.deals.unknown-deal", {
                "deal": body.deal}, ctx.lang), path="/deal")
        return json_response(await ctx.run(lambda _: timeline(compiled, record, now,
                                                              ctx.lang)))

    @router.post(f"{PREFIX}/what-if")
    async def compare(request: Request) -> Response:
        body = validated(WhatIfBody, await read_json(request))
        saved = _saved(ctx, body.file)
        draft = _draft(ctx, body.file, body.draft)
        now = _time(body.now, saved, "/now")
        records = state.records()
        period = _period(body, saved, ctx.lang, len(records))
        # In a forked child: a backtest may run long, and the child is killed when the budget
        # runs out or the page gives up.
        try:
            answer = await ctx.run(lambda token: in_child(
                lambda: what_if(saved, draft, records, now, period, ctx.lang), token))
        except ApiError as err:
            if err.status != 504:
                raise
            # The server's own 504 speaks of requests; here the person chose deals and a period.
            raise ApiError(504, err.code, i18n.render("studio.deals.what-if-too-long", {
                "budget": f"{ctx.limits.time_budget:g}", "count": len(records)}, ctx.lang),
                limit=ctx.limits.time_budget) from None
        return json_response(answer)

    return router


__all__ = ["MAX_PAGE", "PAGE", "PREFIX", "AtBody", "DealsState", "FindingsBody", "LoadBody",
           "TimelineBody", "WhatIfBody", "deals_router"]
