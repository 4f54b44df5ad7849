"""The runtime inside the HTTP service (``serve --store``): deals sent in, findings and alerts
read out, and a scheduler that advances the store and delivers in the same process.

* ``PUT /v1/deals/{ruleset}/{id}`` stores one deal (the JSON record) and judges it at once;
* ``POST /v1/deals`` stores a JSON Lines body, one deal a line (a bad line is stored as
  rejected and reported by line number; the others are stored);
* ``GET /v1/deals/{ruleset}/{id}`` returns the deal, its findings, its active alerts and its
  timeline (stage entries and every alert transition);
* ``GET /v1/alerts?status=...`` lists alerts by key, a page at a time (``after``).

The scheduler is one thread: every ``interval`` seconds it ticks the store to the clock and
hands what is due to the sink. The store serialises writers, so requests and the scheduler
never see each other's half-done work.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import FastAPI, Request
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from pipeline_rules.deals.model import Record
from pipeline_rules.evaluate.judge import Judged
from pipeline_rules.runtime.service import Runtime
from pipeline_rules.runtime.sinks import Sink
from pipeline_rules.runtime.store import ACTIVE, STATUSES, Alert, Store, from_us
from pipeline_rules.server.errors import ApiError, json_response, malformed_json
from pipeline_rules.server.logs import log
from pipeline_rules.server.metrics import Metrics

Clock = Callable[[], datetime]


#: Deals a scheduler round judges per transaction: a transaction holds the store while its deals
#: are judged (each at every wake it passed), and an API request waits for the one under way —
#: a store catching up on days would otherwise keep a request waiting for seconds.
TICK_BATCH = 50


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

    # ---------------------------------------------------------------- scheduler

    def step(self) -> None:
        """One round of the scheduler: tick to the clock, then deliver."""
        self.runtime.tick(self.clock(), batch=TICK_BATCH)
        if self.sink is not None:
            self.runtime.deliver(self.sink)

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

    def install(self, app: FastAPI, metrics: Metrics | None = None) -> None:
        """Add the runtime's routes to ``app``, and its figures to ``metrics``."""
        runtime = self.runtime
        if metrics is not None:
            metrics.registry.register(StoreCollector(runtime.store))

        @app.put("/v1/deals/{ruleset}/{deal}", tags=["runtime"],
                 summary="Store one deal and judge it at once")
        async def put_deal(ruleset: str, deal: str, request: Request) -> Response:
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
            record = Record(f"PUT /v1/deals/{ruleset}/{deal}",
                            {**data, "id": data.get("id", deal),
                             runtime.judge.key: data.get(runtime.judge.key, ruleset)})
            judged = await run_in_threadpool(runtime.upsert, record, self.clock())
            if judged.deal is None:
                raise _refusal(judged)
            if judged.ruleset != ruleset:
                raise ApiError(422, "bad-deal", f"the deal was judged by ruleset "
                               f"'{judged.ruleset}', not '{ruleset}'", path="/ruleset")
            return json_response(await run_in_threadpool(self.describe, ruleset, deal))

        @app.post("/v1/deals", tags=["runtime"],
                  summary="Store deals sent as JSON Lines, one deal a line")
        async def post_deals(request: Request) -> Response:
            body = await request.body()
            records = [_line(n, line) for n, line in enumerate(body.splitlines(), 1)
                       if line.strip()]
            refused: list[Judged] = []
            counts = await run_in_threadpool(runtime.ingest, records, self.clock(), 500,
                                             refused)
            return json_response({"stored": counts.stored, "rejected": counts.rejected,
                                  "rejections": [_rejection(j) for j in refused]})

        @app.get("/v1/deals/{ruleset}/{deal}", tags=["runtime"],
                 summary="A stored deal: its findings, active alerts and timeline")
        async def get_deal(ruleset: str, deal: str) -> Response:
            return json_response(await run_in_threadpool(self.describe, ruleset, deal))

        @app.get("/v1/alerts", tags=["runtime"], summary="Alerts, by status")
        async def alerts(status: str | None = None, limit: int = 100,
                         after: str = "") -> Response:
            if status is not None and status not in STATUSES:
                raise ApiError(422, "invalid-request", f"status: '{status}' is not one of "
                               f"{', '.join(STATUSES)}", path="status")
            if not 1 <= limit <= 1000:
                raise ApiError(422, "invalid-request", "limit: between 1 and 1000",
                               path="limit")
            found = await run_in_threadpool(runtime.store.alerts, status, limit, after)
            return json_response({"alerts": [_alert(a) for a in found],
                                  "next": found[-1].key if len(found) == limit else None})

    def describe(self, ruleset: str, deal: str) -> dict[str, Any]:
        """A stored deal as the API shows it, or a 404."""
        store = self.runtime.store
        stored = store.get_deal(ruleset, deal)
        if stored is None:
            raise ApiError(404, "unknown-deal", f"no deal '{deal}' under ruleset '{ruleset}'")
        record = orjson.loads(stored.record)
        timeline: list[dict[str, Any]] = [
            {"at": entry.get("at"), "event": "stage", "stage": entry.get("stage")}
            for entry in record.get("history", []) if isinstance(entry, dict)]
        timeline += [{"at": from_us(t.at).isoformat(), "event": t.after, "key": t.key,
                      "from": t.before, "note": t.note}
                     for t in store.transitions(ruleset, deal)]
        return {"ruleset": ruleset, "id": deal, "deal": record,
                "evaluated": from_us(stored.evaluated).isoformat(),
                "wake": from_us(stored.wake).isoformat() if stored.wake is not None else None,
                "findings": orjson.loads(stored.findings),
                "alerts": [_alert(a) for a in store.alerts_of(ruleset, deal)
                           if a.status in ACTIVE],
                "timeline": timeline}


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


async def _json(request: Request) -> Any:
    try:
        return orjson.loads(await request.body())
    except orjson.JSONDecodeError as err:
        raise malformed_json(err) from None


def _line(number: int, line: bytes) -> Record:
    try:
        return Record(f"line {number}", orjson.loads(line))
    except orjson.JSONDecodeError as err:
        return Record(f"line {number}", error=f"malformed JSON at column {err.colno}: "
                                              f"{err.msg}")


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
