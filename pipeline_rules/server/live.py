"""The runtime inside the HTTP service (``serve --store``): deals sent in, findings and alerts
read out, and a scheduler that advances the store and delivers in the same process.

* ``PUT /v1/deals/{ruleset}/{id}`` stores one deal (the JSON record) and judges it at once;
* ``POST /v1/deals`` stores a JSON Lines body, one deal a line (a bad line, or one over the
  history limit, is stored as rejected and reported by line number; the others are stored);
* ``GET /v1/deals/{ruleset}/{id}`` returns the deal, its findings, its active alerts and its
  timeline (stage entries and the alert transitions, a page at a time: ``limit``, ``after``);
* ``GET /v1/alerts?status=...`` lists alerts by key, a page at a time (``limit``, ``after``).
* ``GET /v1/rejected`` lists the records refused, with their reason and the JSON pointer of the
  fault, oldest first, a page at a time.

The routes are bounded as the rest of the server: their work runs on its compute pool within
its time budget, ``--max-deals`` and ``--max-history`` apply, and query parameters are checked
(400 naming the one at fault).

The scheduler is one thread: every ``interval`` seconds it ticks the store to the clock and
hands what is due to the sink. The store serialises writers, so requests and the scheduler
never see each other's half-done work.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import FastAPI, Request
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.responses import Response

from pipeline_rules.deals.model import Record
from pipeline_rules.evaluate.judge import Judged
from pipeline_rules.runtime.service import Observer, Runtime
from pipeline_rules.runtime.sinks import Sink
from pipeline_rules.runtime.store import (
    ACTIVE,
    STATUSES,
    Alert,
    Rejected,
    Store,
    from_us,
    to_us,
)
from pipeline_rules.server.compute import Token
from pipeline_rules.server.errors import ApiError, malformed_json
from pipeline_rules.server.limits import check_work, oversized, too_many_deals
from pipeline_rules.server.logs import log
from pipeline_rules.server.openapi import error_responses

if TYPE_CHECKING:  # the app imports this module; the type only is needed here
    from pipeline_rules.server.app import Context

Clock = Callable[[], datetime]

#: Entries in a page of alerts or of a deal's timeline, unless the request asks fewer.
PAGE = 100
#: The most a request may ask for in one page.
MAX_PAGE = 1000
#: The longest alert key a cursor may be (keys are much shorter).
MAX_CURSOR = 512
BOM = b"\xef\xbb\xbf"
#: Deals of a POST stored per transaction: the request is stopped between two (past its
#: budget, or its client gone; the batches stored before stay stored), and the scheduler and
#: other requests wait for one batch at most.
INGEST_BATCH = 50


#: Deals a scheduler round judges per transaction: a transaction holds the store while its deals
#: are judged (each at every wake it passed), and an API request waits for the one under way —
#: a store catching up on days would otherwise keep a request waiting for seconds.
TICK_BATCH = 50
#: Batches a scheduler round judges before it delivers what has fallen due: a store catching up
#: on days delivers as it goes rather than once every deal is judged.
ROUND_BATCHES = 20


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Live:
    """A runtime served over HTTP, with its scheduler."""

    def __init__(self, runtime: Runtime, sink: Sink | None = None, interval: float = 1.0,
                 clock: Clock = _utc_now) -> None:
        self.runtime = runtime
        self.sink = sink
        self.interval = interval
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Told each delivery's delay (set when the routes are installed with their metrics).
        self.observe: Observer | None = None

    # ---------------------------------------------------------------- scheduler

    def step(self) -> None:
        """One round of the scheduler: tick to the clock, delivering what has fallen due after
        every ``ROUND_BATCHES`` batches of woken deals."""
        now = self.clock()
        while True:
            counts = self.runtime.tick(now, batch=TICK_BATCH, batches=ROUND_BATCHES)
            if self.sink is not None:
                self.runtime.deliver(self.sink, self.clock, observe=self.observe)
            if counts.woken < TICK_BATCH * ROUND_BATCHES or self._stop.is_set():
                return

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except Exception as err:  # a failing round must not end the scheduler
                log.error("scheduler round failed", exc_info=err,
                          extra={"fields": {"event": "scheduler-error"}})
            self._stop.wait(self.interval)

    def start(self) -> None:
        """Start the scheduler thread."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="pipeline-rules-scheduler",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the scheduler after its current round, and close the store."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.runtime.store.close()

    # ---------------------------------------------------------------- routes

    def install(self, app: FastAPI, ctx: Context) -> None:
        """Add the runtime's routes to ``app``, its work to the compute pool of ``ctx`` and
        its figures to ``ctx.metrics``."""
        runtime = self.runtime
        settings = ctx.settings
        ctx.metrics.registry.register(StoreCollector(runtime.store))
        self.observe = ctx.metrics.delivered

        async def run(request: Request, fn: Callable[[Token], bytes]) -> Response:
            # The body read first (empty for a GET): the next message tells when the client
            # goes, and the work is dropped then, as over the budget or with the pool full.
            await request.body()
            return Response(await ctx.run(request, fn), media_type="application/json")

        @app.put("/v1/deals/{ruleset}/{deal}", tags=["runtime"],
                 summary="Store one deal and judge it at once",
                 responses=error_responses(400, 404, 408, 413, 422, 431, 503, 504))
        async def put_deal(ruleset: str, deal: str, request: Request) -> Response:
            _params(request, ())
            data = await _json(request)
            if not isinstance(data, dict):
                raise ApiError(422, "bad-deal", "the body must be a deal: a JSON object",
                               path="")
            if "id" in data and str(data["id"]) != deal:
                raise ApiError(422, "bad-deal", f"/id: the body names deal '{data['id']}', "
                               f"the path '{deal}'", path="/id")
            named = runtime.judge.name_of(data)
            if named is not None and named != ruleset:
                raise ApiError(422, "bad-deal", f"/{runtime.judge.key}: the body names ruleset "
                               f"'{named}', the path '{ruleset}'", path=f"/{runtime.judge.key}")
            check_work([("", data)], 1, settings.deal_limits())
            record = Record(f"PUT /v1/deals/{ruleset}/{deal}",
                            {**data, "id": data.get("id", deal),
                             runtime.judge.key: data.get(runtime.judge.key, ruleset)})
            now = self.clock()

            def put(token: Token) -> bytes:
                judged = runtime.upsert(record, now)
                if judged.deal is None:
                    raise _refusal(judged)
                if judged.ruleset != ruleset:
                    raise ApiError(422, "bad-deal", f"the deal was judged by ruleset "
                                   f"'{judged.ruleset}', not '{ruleset}'", path="/ruleset")
                return orjson.dumps(self.describe(ruleset, deal))

            return await run(request, put)

        @app.post("/v1/deals", tags=["runtime"],
                  summary="Store deals sent as JSON Lines, one deal a line",
                  responses=error_responses(400, 408, 413, 431, 503, 504))
        async def post_deals(request: Request) -> Response:
            _params(request, ())
            body = await request.body()
            now = self.clock()
            return await run(request, lambda token: orjson.dumps(
                self.post(body, now, settings.max_deals, settings.deal_limits(), token)))

        @app.get("/v1/deals/{ruleset}/{deal}", tags=["runtime"],
                 summary="A stored deal: its findings, active alerts and timeline",
                 responses=error_responses(400, 404, 431, 503, 504),
                 openapi_extra={"parameters": _PAGE_PARAMETERS["deal"]})
        async def get_deal(ruleset: str, deal: str, request: Request) -> Response:
            params = _params(request, ("limit", "after"))
            limit = _whole(params, "limit", PAGE, 1, MAX_PAGE)
            after = _whole(params, "after", 0, 0, 2**62)
            return await run(request, lambda token: orjson.dumps(
                self.describe(ruleset, deal, limit, after)))

        self._install_lists(app, run)

    def _install_lists(self, app: FastAPI,
                       run: Callable[[Request, Callable[[Token], bytes]], Awaitable[Response]]
                       ) -> None:
        """The routes that list the store's alerts and refused records, a page at a time."""
        runtime = self.runtime

        @app.get("/v1/alerts", tags=["runtime"], summary="Alerts, by status",
                 responses=error_responses(400, 431, 503, 504),
                 openapi_extra={"parameters": _PAGE_PARAMETERS["alerts"]})
        async def alerts(request: Request) -> Response:
            params = _params(request, ("status", "limit", "after"))
            status = params.get("status")
            if status is not None and status not in STATUSES:
                raise _bad_parameter("status", f"'{status[:40]}' is not one of "
                                     f"{', '.join(STATUSES)}")
            limit = _whole(params, "limit", PAGE, 1, MAX_PAGE)
            after = params.get("after", "")
            if len(after) > MAX_CURSOR:
                raise _bad_parameter("after", f"an alert key, at most {MAX_CURSOR} characters")

            def listed(token: Token) -> bytes:
                found = runtime.store.alerts(status, limit + 1, after)
                page = found[:limit]
                return orjson.dumps({"alerts": [_alert(a) for a in page],
                                     "next": page[-1].key if len(found) > limit else None})

            return await run(request, listed)

        @app.get("/v1/rejected", tags=["runtime"], summary="Records refused, with why",
                 responses=error_responses(400, 431, 503, 504),
                 openapi_extra={"parameters": _PAGE_PARAMETERS["rejected"]})
        async def rejected(request: Request) -> Response:
            params = _params(request, ("limit", "after"))
            limit = _whole(params, "limit", PAGE, 1, MAX_PAGE)
            after = _whole(params, "after", 0, 0, 2**62)

            def listed(token: Token) -> bytes:
                found = runtime.store.rejected(limit + 1, after)
                page = found[:limit]
                return orjson.dumps({"rejected": [_refused(r) for r in page],
                                     "next": page[-1].seq if len(found) > limit else None})

            return await run(request, listed)

    def post(self, body: bytes, now: datetime, max_deals: int, per_deal: Mapping[str, int],
             token: Token) -> dict[str, Any]:
        """Store the deals of a JSON Lines body at ``now``: at most ``max_deals`` lines (413
        past it, nothing stored); a line that is not JSON, not a deal, or with a list longer
        than ``per_deal`` allows (history, tasks, events, pauses) is rejected by its line
        number, and the others are stored."""
        lines = [(n, line) for n, line in enumerate(body.removeprefix(BOM).splitlines(), 1)
                 if line.strip()]
        if len(lines) > max_deals:
            raise too_many_deals(len(lines), max_deals, line=lines[max_deals][0])
        records: list[Record] = []
        over: list[tuple[int, Record, ApiError]] = []
        for number, line in lines:
            record = _line(number, line)
            problem = oversized(record.data, "", per_deal) if record.error is None else None
            if problem is None:
                records.append(record)
            else:
                over.append((number, record, problem))
        store = self.runtime.store
        if over:
            at = to_us(now)
            with store.transaction():
                for _, record, problem in over:
                    store.add_rejected(record.origin, self.runtime.judge.name_of(record.data),
                                       record.deal, problem.message, problem.extra["path"],
                                       orjson.dumps(record.data).decode("utf-8"), at)
        refused: list[Judged] = []
        stored = unchanged = rejected = 0
        for start in range(0, len(records), INGEST_BATCH):
            token.check()
            counts = self.runtime.ingest(records[start:start + INGEST_BATCH], now,
                                         INGEST_BATCH, refused)
            stored, rejected = stored + counts.stored, rejected + counts.rejected
            unchanged += counts.unchanged
        rejections = [(_number(j.origin), _rejection(j)) for j in refused]
        rejections += [(number, {"record": record.origin, "deal": record.deal,
                                 "message": problem.message, "path": problem.extra["path"],
                                 "error": problem.code, "limit": problem.extra["limit"]})
                       for number, record, problem in over]
        return {"stored": stored, "unchanged": unchanged, "rejected": rejected + len(over),
                "rejections": [r for _, r in sorted(rejections, key=lambda r: r[0])]}

    def describe(self, ruleset: str, deal: str, limit: int = PAGE,
                 after: int = 0) -> dict[str, Any]:
        """A stored deal as the API shows it, or a 404: its timeline's stage entries (on the
        first page) and ``limit`` alert transitions after the one numbered ``after``."""
        store = self.runtime.store
        stored = store.get_deal(ruleset, deal)
        if stored is None:
            raise ApiError(404, "unknown-deal", f"no deal '{deal}' under ruleset '{ruleset}'")
        record = orjson.loads(stored.record)
        timeline: list[dict[str, Any]] = [] if after else [
            {"at": entry.get("at"), "event": "stage", "stage": entry.get("stage")}
            for entry in record.get("history", []) if isinstance(entry, dict)]
        found = store.transitions(ruleset, deal, limit + 1, after)
        page = found[:limit]
        timeline += [{"at": from_us(t.at).isoformat(), "event": t.after, "key": t.key,
                      "from": t.before, "note": t.note, "seq": t.seq}
                     for t in page]
        return {"ruleset": ruleset, "id": deal, "deal": record,
                "evaluated": from_us(stored.evaluated).isoformat(),
                "wake": from_us(stored.wake).isoformat() if stored.wake is not None else None,
                "findings": orjson.loads(stored.findings),
                "alerts": [_alert(a) for a in store.alerts_of(ruleset, deal)
                           if a.status in ACTIVE],
                "timeline": timeline,
                "next": page[-1].seq if len(found) > limit else None}


class StoreCollector(Collector):
    """The store's figures, read when ``/metrics`` is scraped: deals stored, alerts by status
    (``dead``: the dead letters) and deliveries by status (``pending``: the queue)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        """The current figures."""
        deals = GaugeMetricFamily("pipeline_rules_runtime_deals", "Deals in the store.")
        deals.add_metric([], self.store.count_deals())
        yield deals
        tallies = self.store.tallies()
        for table, help_text in (("alerts", "Alerts in the store, by status."),
                                 ("deliveries", "Deliveries in the store, by status.")):
            family = GaugeMetricFamily(f"pipeline_rules_runtime_{table}", help_text,
                                       labels=["status"])
            for status, count in sorted(tallies[table].items()):
                family.add_metric([status], count)
            yield family


def _page_parameters(cursor: str) -> list[dict[str, Any]]:
    return [{"name": "limit", "in": "query", "required": False,
             "description": f"Entries in one page (1 to {MAX_PAGE}).",
             "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE,
                        "default": PAGE}},
            {"name": "after", "in": "query", "required": False, "description": cursor,
             "schema": {"type": "string" if "key" in cursor else "integer"}}]


_PAGE_PARAMETERS = {
    "deal": _page_parameters("The timeline's page after this transition number (the "
                             "previous page's `next`)."),
    "rejected": _page_parameters("The page after this refused record's number (the "
                                 "previous page's `next`)."),
    "alerts": [{"name": "status", "in": "query", "required": False,
                "schema": {"type": "string", "enum": list(STATUSES)}},
               *_page_parameters("The page after this alert key (the previous page's "
                                 "`next`).")]}


def _params(request: Request, allowed: tuple[str, ...]) -> dict[str, str]:
    """The query parameters of a request, each known and given once, or a 400 naming one."""
    found: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name not in allowed:
            takes = ", ".join(allowed) if allowed else "no parameters"
            raise _bad_parameter(name[:40], f"unknown parameter; this route takes {takes}")
        if name in found:
            raise _bad_parameter(name, "given more than once")
        found[name] = value
    return found


def _whole(params: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    """A whole-number query parameter within ``low``..``high``, or a 400 naming it."""
    text = params.get(name)
    if text is None:
        return default
    # Length checked before int(): a huge digit string costs CPU to convert.
    if not (text.isascii() and text.isdigit() and len(text) <= 20
            and low <= int(text) <= high):
        raise _bad_parameter(name, f"'{text[:40]}' is not a whole number from {low:,} to "
                             f"{high:,}")
    return int(text)


def _bad_parameter(name: str, message: str) -> ApiError:
    return ApiError(400, "invalid-parameter", f"{name}: {message}", parameter=name)


def _number(origin: str) -> int:
    return int(origin.removeprefix("line "))


async def _json(request: Request) -> Any:
    try:
        return orjson.loads((await request.body()).removeprefix(BOM))
    except orjson.JSONDecodeError as err:
        raise malformed_json(err) from None


def _line(number: int, line: bytes) -> Record:
    try:
        return Record(f"line {number}", orjson.loads(line))
    except orjson.JSONDecodeError as err:
        return Record(f"line {number}", error=f"malformed JSON at column {err.colno}: "
                                              f"{err.msg}")


def _refused(refused: Rejected) -> dict[str, Any]:
    """A refused record as the API shows it: where it came from, its deal if it named one, why
    (with the JSON pointer of the fault) and when."""
    return {"seq": refused.seq, "origin": refused.origin, "ruleset": refused.ruleset,
            "deal": refused.deal, "reason": refused.reason, "path": refused.path,
            "record": refused.record,
            "at": from_us(refused.at).isoformat()}


def _rejection(judged: Judged) -> dict[str, Any]:
    finding = judged.findings[0]
    return {"record": judged.origin, "deal": finding.deal, "message": finding.message,
            "path": finding.details.get("path", "")}


def _refusal(judged: Judged) -> ApiError:
    rejection = _rejection(judged)
    return ApiError(422, "bad-deal", rejection["message"], path=rejection["path"])


def _alert(alert: Alert) -> dict[str, Any]:
    return {"key": alert.key, "ruleset": alert.ruleset, "deal": alert.deal,
            "kind": alert.kind, "code": alert.code, "rule": alert.rule, "status": alert.status,
            "due": from_us(alert.due).isoformat() if alert.due is not None else None,
            "opened": from_us(alert.opened).isoformat(),
            "updated": from_us(alert.updated).isoformat(),
            "finding": orjson.loads(alert.payload)}


__all__ = ["Live"]
