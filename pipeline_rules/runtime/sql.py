"""The store's queries, in the SQL SQLite and PostgreSQL share: each backend gives a connection,
transactions, migrations and its errors; the queries are written once, here (``?``
placeholders, which a backend translates if its driver wants others).
"""

from __future__ import annotations

import threading
from abc import abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pipeline_rules import i18n
from pipeline_rules.runtime.store import (
    Alert,
    Changes,
    Delivery,
    Judgement,
    Rejected,
    Store,
    StoredDeal,
    StoreError,
    Transition,
)

_DEAL = "ruleset, deal, record, findings, evaluated, wake, origin, judged_by"
_ALERT = "key, ruleset, deal, kind, code, rule, status, due, payload, opened, updated"
#: Deals per query when reading the alerts of many deals (well under every driver's limit on
#: parameters).
_CHUNK = 400

_PUT_DEAL = (f"INSERT INTO deals ({_DEAL}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
             "ON CONFLICT (ruleset, deal) DO UPDATE SET record = excluded.record, "
             "findings = excluded.findings, evaluated = excluded.evaluated, "
             "wake = excluded.wake, origin = excluded.origin, judged_by = excluded.judged_by")
_PUT_ALERT = (f"INSERT INTO alerts ({_ALERT}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
              "ON CONFLICT (key) DO UPDATE SET status = excluded.status, "
              "due = excluded.due, payload = excluded.payload, opened = excluded.opened, "
              "updated = excluded.updated")
_ADD_TRANSITION = ("INSERT INTO transitions (key, ruleset, deal, before, after, at, note) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)")
_ADD_REJECTED = ("INSERT INTO rejected (origin, ruleset, deal, reason, path, record, at) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?)")
_ADD_DELIVERY = ("INSERT INTO deliveries (key, event, payload, created, status, finished) "
                 "VALUES (?, ?, ?, ?, ?, ?)")
_CANCEL = ("UPDATE deliveries SET status = 'cancelled', finished = ? "
           "WHERE key = ? AND status = 'pending'")


class SqlStore(Store):
    """Every query of a store over a SQL database."""

    #: What follows ``FROM deals`` in the wake query to name its index (SQLite only).
    WAKE_INDEX = ""
    #: What makes a query lease the rows it returns to this transaction, skipping rows another
    #: transaction holds (PostgreSQL: several processes share the work); empty where one
    #: process owns the store.
    LEASE = ""
    #: The same for a delivery and the alert it is for, taken together (``d``: the delivery,
    #: ``a``: the alert).
    DELIVERY_LEASE = ""
    #: What makes a unit of work that reads alerts to change them wait for, and then hold,
    #: those rows: a delivery in flight holds its alert, so a tick or an upsert of the same deal
    #: in another process waits for it to end and then sees what it did (empty where one
    #: process owns the store).
    HOLD = ""

    #: The statement that opens a unit of work (SQLite takes its write lock at once).
    BEGIN = "BEGIN"

    # Set by each store when it connects: the connection, the lock that serialises its use
    # across threads, and how deep the current unit of work is nested.
    _db: Any
    _lock: threading.RLock
    _depth: int

    @property
    def leases(self) -> bool:
        """Whether queries lease their rows (see :attr:`LEASE`)."""
        return bool(self.LEASE)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A unit of work (nested blocks join the outer one)."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._run(self.BEGIN)
            self._depth = 1
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._run("COMMIT")
            finally:
                self._depth = 0

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()

    def _migrate_to(self, migrations: Sequence[Sequence[str]], where: str) -> None:
        """Bring the schema to the last of ``migrations`` (numbered from 1) inside the unit of
        work the caller opened; a store from a newer schema is refused (``where`` names it)."""
        self._run("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        version = self._rows("SELECT max(version) FROM schema_version")[0][0] or 0
        if version > len(migrations):
            raise StoreError(i18n.Message("store.newer-schema", {
                "where": where, "version": version, "known": len(migrations)}))
        for number in range(version + 1, len(migrations) + 1):
            for statement in migrations[number - 1]:
                self._run(statement)
            self._run("INSERT INTO schema_version (version) VALUES (?)", (number,))

    @abstractmethod
    def _rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        """The rows a query returns."""

    @abstractmethod
    def _run(self, sql: str, args: tuple[Any, ...] = ()) -> None:
        """Run a statement."""

    @abstractmethod
    def _many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run a statement once per row (one prepared statement, batched by the driver)."""

    def apply(self, changes: Changes) -> None:
        """Make a unit's writes: one statement per table over all its rows."""
        for sql, rows in ((_ADD_REJECTED, changes.rejected),
                          (_PUT_DEAL, [_deal_row(d) for d in changes.deals]),
                          (_PUT_ALERT, [_alert_row(a) for a in changes.alerts]),
                          (_ADD_TRANSITION, changes.transitions),
                          (_CANCEL, changes.cancelled),
                          (_ADD_DELIVERY, changes.deliveries)):
            if rows:
                self._many(sql, rows)

    def alerts_of_deals(self, deals: Sequence[tuple[str, str]]
                        ) -> dict[tuple[str, str], list[Alert]]:
        """The alerts of many deals, by key, a few hundred deals a query."""
        found: dict[tuple[str, str], list[Alert]] = {}
        for ruleset, ids in _by_ruleset(deals).items():
            for row in self._alert_rows(ruleset, ids):
                alert = Alert(*row)
                found.setdefault((alert.ruleset, alert.deal), []).append(alert)
        return found

    def _alert_rows(self, ruleset: str, deals: Sequence[str]) -> list[Any]:
        """The alerts of some deals of one ruleset as rows (the columns of :class:`Alert`),
        each deal's by key, held (:attr:`HOLD`): a backend whose planner needs another shape
        of query overrides this."""
        return self._deals_in(f"SELECT {_ALERT} FROM alerts", ruleset, deals,
                              " ORDER BY key" + self.HOLD)

    def judgements(self, deals: Sequence[tuple[str, str]]
                   ) -> dict[tuple[str, str], Judgement]:
        """The last judgement of many deals, a few hundred deals a query."""
        return {(ruleset, deal): Judgement(*rest)
                for ruleset, ids in _by_ruleset(deals).items()
                for deal, *rest in self._judgement_rows(ruleset, ids)}

    def _judgement_rows(self, ruleset: str, deals: Sequence[str]) -> list[Any]:
        """(deal, record, evaluated, wake, judged_by) of the stored deals among ``deals`` of
        one ruleset (a backend whose planner needs another shape of query overrides this)."""
        return self._deals_in("SELECT deal, record, evaluated, wake, judged_by FROM deals",
                              ruleset, deals)

    def _deals_in(self, select: str, ruleset: str, deals: Sequence[str],
                  tail: str = "") -> list[Any]:
        """The rows of ``select`` for some deals of one ruleset, a few hundred deals a
        query (``tail`` follows each query's condition)."""
        rows: list[Any] = []
        for start in range(0, len(deals), _CHUNK):
            chunk = deals[start:start + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            rows += self._rows(f"{select} WHERE ruleset = ? AND deal IN ({marks}){tail}",
                               (ruleset, *chunk))
        return rows

    def get_meta(self, name: str) -> str | None:
        """A setting kept with the store, or None."""
        rows = self._rows("SELECT value FROM meta WHERE name = ?", (name,))
        return str(rows[0][0]) if rows else None

    def set_meta(self, name: str, value: str) -> None:
        """Keep a setting with the store."""
        self._run("INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE "
                  "SET value = excluded.value", (name, value))

    # deals
    def get_deal(self, ruleset: str, deal: str) -> StoredDeal | None:
        """A stored deal, or None."""
        rows = self._rows(f"SELECT {_DEAL} FROM deals WHERE ruleset = ? AND deal = ?",
                          (ruleset, deal))
        return StoredDeal(*rows[0]) if rows else None

    def put_deal(self, deal: StoredDeal) -> None:
        """Insert or replace a deal."""
        self._run(_PUT_DEAL, _deal_row(deal))

    def waking(self, until: int, limit: int) -> list[StoredDeal]:
        """Deals whose wake has come, earliest first, by the wake index."""
        rows = self._rows(f"SELECT {_DEAL} FROM deals {self.WAKE_INDEX}"
                          "WHERE wake IS NOT NULL AND wake <= ? ORDER BY wake LIMIT ?"
                          + self.LEASE, (until, limit))
        return [StoredDeal(*row) for row in rows]

    def count_deals(self) -> int:
        """How many deals are stored."""
        return int(self._rows("SELECT count(*) FROM deals")[0][0])

    # rejected records
    def add_rejected(self, origin: str, ruleset: str | None, deal: str | None, reason: str,
                     path: str, record: str, at: int) -> None:
        """Keep a refused record with its reason."""
        self._run(_ADD_REJECTED, (origin, ruleset, deal, reason, path, record, at))

    def rejected(self, limit: int = 100, after: int = 0) -> list[Rejected]:
        """Refused records, oldest first."""
        rows = self._rows("SELECT seq, origin, ruleset, deal, reason, path, record, at "
                          "FROM rejected WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit))
        return [Rejected(*row) for row in rows]

    # alerts
    def alerts_of(self, ruleset: str, deal: str) -> list[Alert]:
        """Every alert of one deal, by key."""
        rows = self._rows(f"SELECT {_ALERT} FROM alerts WHERE ruleset = ? AND deal = ? "
                          "ORDER BY key", (ruleset, deal))
        return [Alert(*row) for row in rows]

    def get_alert(self, key: str) -> Alert | None:
        """One alert by key."""
        rows = self._rows(f"SELECT {_ALERT} FROM alerts WHERE key = ?", (key,))
        return Alert(*rows[0]) if rows else None

    def put_alert(self, alert: Alert) -> None:
        """Insert or replace an alert."""
        self._run(_PUT_ALERT, _alert_row(alert))

    def alerts(self, status: str | None = None, limit: int = 100,
               after: str = "") -> list[Alert]:
        """Alerts ordered by key (with a status, if given)."""
        if status is None:
            rows = self._rows(f"SELECT {_ALERT} FROM alerts WHERE key > ? ORDER BY key "
                              "LIMIT ?", (after, limit))
        else:
            rows = self._rows(f"SELECT {_ALERT} FROM alerts WHERE status = ? AND key > ? "
                              "ORDER BY key LIMIT ?", (status, after, limit))
        return [Alert(*row) for row in rows]

    def add_transition(self, key: str, ruleset: str, deal: str, before: str | None,
                       after: str, at: int, note: str = "") -> None:
        """Record a change of an alert's status."""
        self._run(_ADD_TRANSITION, (key, ruleset, deal, before, after, at, note))

    def transitions(self, ruleset: str, deal: str, limit: int | None = None,
                    after: int = 0) -> list[Transition]:
        """The transitions of a deal's alerts, in order: every one, or a page of ``limit``
        after the one numbered ``after``."""
        query = ("SELECT seq, key, ruleset, deal, before, after, at, note FROM transitions "
                 "WHERE ruleset = ? AND deal = ? AND seq > ? ORDER BY seq")
        args: tuple[Any, ...] = (ruleset, deal, after)
        if limit is not None:
            query, args = f"{query} LIMIT ?", (*args, limit)
        rows = self._rows(query, args)
        return [Transition(*row) for row in rows]

    # deliveries
    def add_delivery(self, key: str, event: str, payload: str, at: int) -> None:
        """Queue a delivery."""
        self._run("INSERT INTO deliveries (key, event, payload, created) VALUES (?, ?, ?, ?)",
                  (key, event, payload, at))

    def pending(self, limit: int, now: int | None = None) -> list[Delivery]:
        """Deliveries not yet done (and, given ``now``, not waiting to be retried later),
        oldest first."""
        rows = self._rows("SELECT d.seq, d.key, d.event, d.payload, d.created, d.attempts "
                          "FROM deliveries d JOIN alerts a ON a.key = d.key "
                          "WHERE d.status = 'pending' AND d.next_attempt <= ? ORDER BY d.seq "
                          "LIMIT ?" + self.DELIVERY_LEASE,
                          (now if now is not None else 2**62, limit))
        return [Delivery(*row) for row in rows]

    def retry_later(self, seq: int, attempts: int, next_attempt: int) -> None:
        """Count a failed attempt and set when to try again."""
        self._run("UPDATE deliveries SET attempts = ?, next_attempt = ? WHERE seq = ?",
                  (attempts, next_attempt, seq))

    def pending_of(self, key: str) -> list[Delivery]:
        """Deliveries of one alert not yet done."""
        rows = self._rows("SELECT seq, key, event, payload, created, attempts FROM deliveries "
                          "WHERE key = ? AND status = 'pending' ORDER BY seq", (key,))
        return [Delivery(*row) for row in rows]

    def tallies(self) -> dict[str, dict[str, int]]:
        """Alerts and deliveries by status."""
        return {table: {str(status): int(n) for status, n in self._rows(
                    f"SELECT status, count(*) FROM {table} GROUP BY status")}
                for table in ("alerts", "deliveries")}

    def finish_delivery(self, seq: int, status: str, at: int) -> None:
        """Mark a delivery done, cancelled or dead."""
        self._run("UPDATE deliveries SET status = ?, finished = ? WHERE seq = ?",
                  (status, at, seq))


def _by_ruleset(deals: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    """The deal ids of (ruleset, deal) pairs by ruleset, each once, in the order given."""
    grouped: dict[str, list[str]] = {}
    for ruleset, deal in dict.fromkeys(deals):
        grouped.setdefault(ruleset, []).append(deal)
    return grouped


def _deal_row(deal: StoredDeal) -> tuple[Any, ...]:
    return (deal.ruleset, deal.deal, deal.record, deal.findings, deal.evaluated, deal.wake,
            deal.origin, deal.judged_by)


def _alert_row(alert: Alert) -> tuple[Any, ...]:
    return (alert.key, alert.ruleset, alert.deal, alert.kind, alert.code, alert.rule,
            alert.status, alert.due, alert.payload, alert.opened, alert.updated)


__all__ = ["SqlStore"]
