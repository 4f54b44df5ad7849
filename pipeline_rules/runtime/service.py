"""The runtime: deals stored, each judged again when its findings can change, alerts followed.

* :meth:`Runtime.upsert` / :meth:`Runtime.ingest` store deal records and judge each at once,
  by the one judge of the evaluator (a bad record is kept as rejected with its reason and never
  blocks the others; a deal sent again replaces the stored one: the later record wins).
* :meth:`Runtime.tick` advances the store to an instant: it takes the deals whose wake has come
  from the wake index, in batches, and judges each again **at its wake**, then at the next one,
  up to the instant — so a tick of a day gives the timeline a tick every second would, and a
  replay with the same inputs gives the same store.
* :meth:`Runtime.deliver` hands queued deliveries to a sink, oldest first, and marks each done
  only after the sink took it (at-least-once; a repeat after a crash has the same key and the
  same payload).

Every batch is one transaction: a process killed at any moment loses nothing committed and
leaves nothing half-written.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import orjson

from pipeline_rules.deals.model import Record
from pipeline_rules.evaluate.context import RunShare
from pipeline_rules.evaluate.findings import Finding
from pipeline_rules.evaluate.judge import Judge, Judged, Runs
from pipeline_rules.evaluate.wake import Wake
from pipeline_rules.runtime.lifecycle import Plan, delivery, payload, reconcile
from pipeline_rules.runtime.sinks import Sink
from pipeline_rules.runtime.store import (
    Changes,
    Delivery,
    Store,
    StoredDeal,
    from_us,
    to_us,
)

#: Told the event (``delivered`` or ``retracted``) and the seconds from queueing to the sink's
#: success of each delivery made.
Observer = Callable[[str, float], None]

#: Deals taken from the wake index per transaction.
BATCH = 500
#: An ingest whose batch finds no deal sent again unchanged reads the store again for that only
#: every PROBE batches.
PROBE = 8
#: Re-judgements of one deal within one tick before it waits for the next tick.
MAX_STEPS = 1000


@dataclass(frozen=True)
class Retry:
    """How failed deliveries are tried again: up to ``attempts`` tries in all, waiting
    ``base * 2**(n-1)`` seconds (at most ``cap``) after the n-th failure, with full jitter."""

    attempts: int = 8
    base: float = 1.0
    cap: float = 300.0
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def delay(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th failure."""
        return self.rng.uniform(0, min(self.cap, self.base * 2 ** (failures - 1)))


@dataclass
class Counts:
    """What a call did: deals stored or judged again, records rejected, alert transitions,
    deliveries queued, made or failed."""

    stored: int = 0
    #: Records sent again as they were stored, judged by the same rulesets, before their wake:
    #: their findings cannot have changed, and nothing is done.
    unchanged: int = 0
    rejected: int = 0
    woken: int = 0
    transitions: int = 0
    queued: int = 0
    delivered: int = 0
    failed: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counts by name."""
        return dict(vars(self))


class Runtime:
    """Deals judged by ``judge`` and kept in ``store``."""

    def __init__(self, judge: Judge, store: Store, lang: str | None = None) -> None:
        self.judge = judge
        self.store = store
        self.lang = lang or judge.catalog.lang
        #: What judges here, kept with each deal: the same record judged by the same rulesets
        #: and settings before its wake has the same findings.
        self.judged_by = judge.fingerprint(self.lang)[:32]

    # ---------------------------------------------------------------- ingest

    def upsert(self, record: Record, now: datetime) -> Judged:
        """Store one deal record and judge it at ``now`` (one transaction)."""
        judged, wake = self.judge.judge_live(record, Runs(now, self.lang))
        self._store([(record, judged, wake)], to_us(now), Counts())
        return judged

    def ingest(self, records: Iterable[Record], now: datetime, batch: int = BATCH,
               refused: list[Judged] | None = None) -> Counts:
        """Store every record, judged at ``now``, ``batch`` records per transaction (the
        rejected ones, judged, are added to ``refused`` when given). A record sent again as
        it is stored, judged by the same rulesets and settings, at or after its judgement and
        before its wake, is left as it is (counted ``unchanged``): its findings are the same,
        so a CRM that sends every deal at every run pays a read for each deal it did not
        change."""
        counts = Counts()
        runs = Runs(now, self.lang)
        at = to_us(now)
        chunk: list[Record] = []
        # Reading what is stored pays only where deals come again unchanged: after a batch in
        # which none did (new deals, or all changed), the next PROBE - 1 batches are judged
        # without the read, then the read is tried again.
        wait = 0
        for record in records:
            chunk.append(record)
            if len(chunk) >= batch:
                wait = self._ingest(chunk, runs, at, counts, refused, wait)
                chunk = []
        if chunk:
            self._ingest(chunk, runs, at, counts, refused, wait)
        return counts

    def _ingest(self, records: list[Record], runs: Runs, at: int, counts: Counts,
                refused: list[Judged] | None, wait: int) -> int:
        """Judge and store one batch, leaving out the records that change nothing (looked for
        unless ``wait`` batches are still to go without); return the batches to go without."""
        if wait:
            named: list[tuple[tuple[str, str] | None, str]] = [(None, "")] * len(records)
        else:
            named = [self._named(record) for record in records]
        hits = counts.unchanged
        stored = self.store.judgements([pair for pair, _ in named if pair is not None])
        seen: set[tuple[str, str]] = set()
        pending: list[tuple[Record, Judged, Wake | None]] = []
        for record, (pair, text) in zip(records, named, strict=True):
            if pair is not None:
                before = stored.get(pair)
                # A deal sent twice in one batch is judged again: the later record wins.
                if before is not None and pair not in seen and before.record == text \
                        and before.judged_by == self.judged_by and before.evaluated <= at \
                        and (before.wake is None or at < before.wake):
                    counts.unchanged += 1
                    continue
                seen.add(pair)
            judged, wake = self.judge.judge_live(record, runs)
            pending.append((record, judged, wake))
            if refused is not None and judged.deal is None:
                refused.append(judged)
        if pending:
            self._store(pending, at, counts)
        if wait:
            return wait - 1
        return 0 if counts.unchanged > hits else PROBE - 1

    def _named(self, record: Record) -> tuple[tuple[str, str] | None, str]:
        """The (ruleset, deal) a record would be stored under, and the text it would be
        stored as; (None, "") when that cannot be told without judging it."""
        data = record.data
        if record.error is not None or not isinstance(data, dict):
            return None, ""
        deal = data.get("id")
        sole = self.judge.sole
        ruleset = sole.compiled.id if sole is not None else self.judge.name_of(data)
        if ruleset is None or not isinstance(deal, str) or not deal:
            return None, ""
        return (ruleset, deal), self._text(data, ruleset)

    def _text(self, data: Any, ruleset: str) -> str:
        """A deal record as stored: JSON, naming the ruleset it was stored under."""
        if isinstance(data, dict) and self.judge.name_of(data) is None:
            # Kept self-describing: judged again later by a directory of rulesets, it still
            # names the ruleset it was stored under.
            data = {**data, self.judge.key: ruleset}
        return orjson.dumps(data).decode("utf-8")

    def _store(self, judged: list[tuple[Record, Judged, Wake | None]], at: int,
               counts: Counts) -> None:
        """Store judged records in one transaction."""
        with self.store.transaction():
            unit = _Unit(self.store, [(j.ruleset, j.deal) for _, j, _ in judged
                                      if j.deal is not None and j.ruleset is not None])
            for record, outcome, wake in judged:
                self._upsert(unit, record, outcome, wake, at, counts)
            self.store.apply(unit.changes)

    def _upsert(self, unit: _Unit, record: Record, judged: Judged, wake: Wake | None, at: int,
                counts: Counts) -> None:
        if judged.deal is None or judged.ruleset is None:
            self._reject(unit, record, judged, at)
            counts.rejected += 1
            return
        text = self._text(record.data, judged.ruleset)
        self._settle(unit, judged.ruleset, judged.deal, text, record.origin, judged.findings,
                     wake, at, counts)
        counts.stored += 1

    def _reject(self, unit: _Unit, record: Record, judged: Judged, at: int) -> None:
        finding = judged.findings[0]
        ruleset = judged.ruleset or self.judge.name_of(record.data)
        try:
            text = orjson.dumps(record.data).decode("utf-8")
        except TypeError:
            text = repr(record.data)
        unit.changes.rejected.append((record.origin, ruleset, finding.deal or record.deal,
                                      finding.message, str(finding.details.get("path", "")),
                                      text, at))

    # ---------------------------------------------------------------- judging again

    def _settle(self, unit: _Unit, ruleset: str, deal: str, record: str, origin: str,
                findings: list[Finding], wake: Wake | None, at: int, counts: Counts,
                by_time: bool = False) -> int | None:
        """Bring a deal's alerts in line with its findings at ``at`` and store it with its
        next wake; return that wake."""
        texts = [payload(finding) for finding in findings]
        pair = (ruleset, deal)
        before = unit.alerts.get(pair, [])
        plan = reconcile(before, findings, ruleset, deal, at, by_time, texts)
        self._apply(unit, plan, at, counts)
        if plan.alerts:
            now = {alert.key: alert for alert in before}
            now.update((alert.key, alert) for alert, _, _ in plan.alerts)
            unit.alerts[pair] = sorted(now.values(), key=lambda alert: alert.key)
        candidates = [c for c in (to_us(wake.at) if wake else None, plan.next_due)
                      if c is not None]
        following = min(candidates) if candidates else None
        unit.changes.deals.append(StoredDeal(ruleset, deal, record, f"[{','.join(texts)}]", at,
                                             following, origin, self.judged_by))
        return following

    def _apply(self, unit: _Unit, plan: Plan, at: int, counts: Counts) -> None:
        changes = unit.changes
        for alert, before, note in plan.alerts:
            changes.alerts.append(alert)
            if before != alert.status:
                changes.transitions.append((alert.key, alert.ruleset, alert.deal, before,
                                            alert.status, at, note))
                counts.transitions += 1
        for key in plan.cancel:
            changes.cancel(key, at)
        for key, event, text in plan.deliveries:
            changes.queue(key, event, text, at)
            counts.queued += 1

    def tick(self, until: datetime, batch: int = BATCH, batches: int | None = None) -> Counts:
        """Advance the store to ``until``: judge again every deal whose wake has come (or, with
        ``batches``, the deals of that many batches at most: fewer woken than ``batch`` times
        ``batches`` means the store has reached ``until``)."""
        counts = Counts()
        limit = to_us(until)
        # Each deal is judged at its own instant, so each needs its own run: what does not
        # depend on the instant is made once for them all.
        share = RunShare()
        done = 0
        while batches is None or done < batches:
            with self.store.transaction():
                rows = self.store.waking(limit, batch)
                unit = _Unit(self.store, [(row.ruleset, row.deal) for row in rows])
                for row in rows:
                    self._wake(unit, row, limit, counts, share)
                self.store.apply(unit.changes)
            done += 1
            if len(rows) < batch:
                break
        return counts

    def _wake(self, unit: _Unit, row: StoredDeal, limit: int, counts: Counts,
              share: RunShare) -> None:
        record = Record(row.origin or f"store:{row.ruleset}/{row.deal}",
                        orjson.loads(row.record))
        at = row.wake
        counts.woken += 1
        for _ in range(MAX_STEPS):
            assert at is not None
            judged, wake = self.judge.judge_live(record, Runs(from_us(at), self.lang, share))
            findings = judged.findings if judged.deal is not None else []
            if judged.deal is None:
                # The rulesets changed under a stored deal and no longer judge it.
                self._reject(unit, record, judged, at)
                wake = None
            following = self._settle(unit, row.ruleset, row.deal, row.record, row.origin,
                                     findings, wake, at, counts, by_time=True)
            if following is None or following > limit:
                return
            at = following

    # ---------------------------------------------------------------- delivery

    def deliver(self, sink: Sink, now: datetime | Callable[[], datetime] | None = None,
                limit: int = 1000, retry: Retry | None = None,
                observe: Observer | None = None) -> Counts:
        """Hand queued deliveries to ``sink``, oldest first, at ``now`` (an instant, a clock,
        or by default the system clock). A failed one waits (exponential backoff with
        jitter, or the sink's ``Retry-After``) without holding up the others, and after
        ``retry.attempts`` failures it is dead: kept, and its alert marked ``dead``.
        ``observe`` is told the event and the seconds from queueing (the due instant) to the
        sink's success of each delivery made."""
        counts = Counts()
        retry = retry or Retry()

        def clock() -> datetime:
            if callable(now):
                return now()
            return now if now is not None else datetime.now(UTC)

        if self.store.leases:
            # Each delivery leased, sent and marked in one transaction: another process
            # skips it meanwhile, and takes it over if this one dies.
            for _ in range(limit):
                with self.store.transaction():
                    found = self.store.pending(1, to_us(clock()))
                    if not found:
                        break
                    self._send(sink, found[0], clock, retry, counts, observe)
            return counts
        for queued in self.store.pending(limit, to_us(clock())):
            self._send(sink, queued, clock, retry, counts, observe)
        return counts

    def _send(self, sink: Sink, queued: Delivery, clock: Callable[[], datetime],
              retry: Retry, counts: Counts, observe: Observer | None) -> None:
        try:
            sink.send(queued.payload)
        except Exception as err:  # the sink's failure: this delivery waits
            counts.failed += 1
            self._failed(queued, err, to_us(clock()), retry, counts)
            return
        at = to_us(clock())
        with self.store.transaction():
            self.store.finish_delivery(queued.seq, "done", at)
            self._delivered(queued.key, queued.event, at, counts)
        counts.delivered += 1
        if observe is not None:
            observe(queued.event, max(0.0, (at - queued.created) / 1_000_000))

    def _failed(self, queued: Delivery, err: Exception, at: int, retry: Retry,
                counts: Counts) -> None:
        attempts = queued.attempts + 1
        with self.store.transaction():
            if attempts >= retry.attempts:
                self.store.finish_delivery(queued.seq, "dead", at)
                alert = self.store.get_alert(queued.key)
                if alert is not None and alert.status in ("due", "resolved"):
                    self._move(alert.key, "dead", at, f"dead after {attempts} attempts: {err}",
                               counts)
                return
            wait = getattr(err, "retry_after", None)
            if wait is None:
                wait = retry.delay(attempts)
            self.store.retry_later(queued.seq, attempts, at + int(wait * 1_000_000))

    def _delivered(self, key: str, event: str, at: int, counts: Counts) -> None:
        """The alert's status once the sink took its delivery."""
        store = self.store
        alert = store.get_alert(key)
        if alert is None:
            return
        if event == "delivered" and alert.status == "due":
            self._move(alert.key, "delivered", at, "delivered", counts)
        elif event == "delivered" and alert.status == "resolved":
            # Resolved while the delivery was in flight: take it back.
            store.add_delivery(key, "retracted", delivery(alert, "retracted"), at)
            store.add_transition(key, alert.ruleset, alert.deal, "resolved", "resolved", at,
                                 "delivered while resolving: retraction queued")
            counts.queued += 1
        elif event == "retracted" and alert.status == "resolved":
            self._move(alert.key, "retracted", at, "retracted", counts)

    def _move(self, key: str, status: str, at: int, note: str, counts: Counts) -> None:
        alert = self.store.get_alert(key)
        assert alert is not None
        self.store.put_alert(replace(alert, status=status, updated=at))
        self.store.add_transition(key, alert.ruleset, alert.deal, alert.status, status, at,
                                  note)
        counts.transitions += 1


class _Unit:
    """One transaction's work on a set of deals: their alerts read at once, then kept up to
    date here as the deals are judged, and the writes collected for the end."""

    def __init__(self, store: Store, deals: list[tuple[str, str]]) -> None:
        self.alerts = store.alerts_of_deals(deals) if deals else {}
        self.changes = Changes()


__all__ = ["BATCH", "Counts", "Observer", "Retry", "Runtime"]
