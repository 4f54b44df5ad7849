"""The PostgreSQL store (``--store postgresql://…``; needs the ``postgresql`` extra, psycopg 3).

The same tables and queries as SQLite (:mod:`.sql`), with PostgreSQL's types; migrations are
numbered steps in ``schema_version``, applied under an advisory lock so that several processes
opening one database at once migrate it once. One connection per store, shared by the threads of
a process behind a lock.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from pipeline_rules import i18n
from pipeline_rules.runtime.sql import (
    _ADD_DELIVERY,
    _ADD_REJECTED,
    _ADD_TRANSITION,
    _ALERT,
    _PUT_ALERT,
    _PUT_DEAL,
    SqlStore,
    _alert_row,
    _deal_row,
)
from pipeline_rules.runtime.store import Changes, StoreError

if TYPE_CHECKING:  # psycopg is an extra: imported when a store is opened
    import psycopg

#: Migration steps: step N brings a store from schema version N-1 to N. Append, never edit.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE deals (
            ruleset TEXT NOT NULL, deal TEXT NOT NULL, record TEXT NOT NULL,
            findings TEXT NOT NULL, evaluated BIGINT NOT NULL, wake BIGINT,
            origin TEXT NOT NULL DEFAULT '', PRIMARY KEY (ruleset, deal))""",
        "CREATE INDEX deals_wake ON deals (wake) WHERE wake IS NOT NULL",
        """CREATE TABLE rejected (
            seq BIGSERIAL PRIMARY KEY, origin TEXT NOT NULL, ruleset TEXT, deal TEXT,
            reason TEXT NOT NULL, path TEXT NOT NULL, record TEXT NOT NULL,
            at BIGINT NOT NULL)""",
        """CREATE TABLE alerts (
            key TEXT PRIMARY KEY, ruleset TEXT NOT NULL, deal TEXT NOT NULL,
            kind TEXT NOT NULL, code TEXT NOT NULL, rule TEXT, status TEXT NOT NULL,
            due BIGINT, payload TEXT NOT NULL, opened BIGINT NOT NULL,
            updated BIGINT NOT NULL)""",
        "CREATE INDEX alerts_deal ON alerts (ruleset, deal)",
        "CREATE INDEX alerts_status ON alerts (status, key)",
        """CREATE TABLE transitions (
            seq BIGSERIAL PRIMARY KEY, key TEXT NOT NULL, ruleset TEXT NOT NULL,
            deal TEXT NOT NULL, before TEXT, after TEXT NOT NULL, at BIGINT NOT NULL,
            note TEXT NOT NULL DEFAULT '')""",
        "CREATE INDEX transitions_deal ON transitions (ruleset, deal, seq)",
        """CREATE TABLE deliveries (
            seq BIGSERIAL PRIMARY KEY, key TEXT NOT NULL, event TEXT NOT NULL,
            payload TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending',
            created BIGINT NOT NULL, finished BIGINT)""",
        "CREATE INDEX deliveries_pending ON deliveries (status, seq)",
        "CREATE INDEX deliveries_key ON deliveries (key, status)",
        "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ),
    (
        "ALTER TABLE deliveries ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE deliveries ADD COLUMN next_attempt BIGINT NOT NULL DEFAULT 0",
    ),
    (
        # What judged a deal (a digest of the rulesets and settings): a record sent again,
        # unchanged and judged by the same, is not judged again before its wake.
        "ALTER TABLE deals ADD COLUMN judged_by TEXT NOT NULL DEFAULT ''",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
#: The advisory lock migrations hold (any constant the application does not use otherwise).
_MIGRATION_LOCK = 0x70726C73


def _from_arrays(statement: str, types: str) -> str:
    """A one-row ``INSERT INTO t (columns) VALUES (?, …) [ON CONFLICT …]`` of :mod:`.sql` made
    to insert many rows at once: one array parameter per column (of ``types``, in order),
    unnested and inserted in the order of their elements. Arrays go in binary (``%b``):
    psycopg escapes a text array element by element in Python, far slower."""
    head, _, tail = statement.partition(" VALUES (")
    columns = head[head.index("(") + 1:head.rindex(")")]
    assert len(types.split()) == len(columns.split(",")), statement
    arrays = ", ".join(f"%b::{kind}[]" for kind in types.split())
    return (f"{head} SELECT {columns} FROM unnest({arrays}) WITH ORDINALITY AS "
            f"r({columns}, n) ORDER BY n{tail.partition(')')[2]}")


def _shape(statement: str) -> tuple[int, int]:
    """How rows of a one-row upsert of :mod:`.sql` collapse: (the columns of its key, the
    leading columns its update leaves as inserted); both are leading columns."""
    columns = [c.strip() for c in statement[statement.index("(") + 1:
                                            statement.index(")")].split(",")]
    key = statement.partition("ON CONFLICT (")[2].partition(")")[0].split(", ")
    updated = re.findall(r"(\w+) = excluded\.", statement)
    kept = len(columns) - len(updated)
    assert columns[:len(key)] == key and columns[kept:] == updated, statement
    return len(key), kept


_PUT_DEALS = _from_arrays(_PUT_DEAL, "text text text text bigint bigint text text")
_DEAL_SHAPE = _shape(_PUT_DEAL)
_PUT_ALERTS = _from_arrays(_PUT_ALERT,
                           "text text text text text text text bigint text bigint bigint")
_ALERT_SHAPE = _shape(_PUT_ALERT)
_ADD_TRANSITIONS = _from_arrays(_ADD_TRANSITION, "text text text text text bigint text")
_ADD_REJECTEDS = _from_arrays(_ADD_REJECTED, "text text text text text text bigint")
_ADD_DELIVERIES = _from_arrays(_ADD_DELIVERY, "text text text bigint text bigint")
#: The pending deliveries of each key cancelled at its instant (each key once).
_CANCEL_MANY = ("UPDATE deliveries SET status = 'cancelled', finished = c.at "
                "FROM unnest(%b::text[], %b::bigint[]) AS c(key, at) "
                "WHERE deliveries.key = c.key AND deliveries.status = 'pending'")


class PostgresStore(SqlStore):
    """A store in a PostgreSQL database (brought to the current schema on open). Ticks and
    deliveries lease their rows, so several processes can share one database."""

    _db: psycopg.Connection[Any]

    LEASE = " FOR UPDATE SKIP LOCKED"
    DELIVERY_LEASE = " FOR UPDATE OF d, a SKIP LOCKED"
    HOLD = " FOR UPDATE"

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        try:
            import psycopg
        except ModuleNotFoundError:
            raise StoreError(i18n.Message("store.postgresql-extra", {})) from None
        self._errors: type[Exception] = psycopg.Error
        self.url = url
        self._lock = threading.RLock()
        self._depth = 0
        try:
            self._db = psycopg.connect(url, autocommit=True,
                                       connect_timeout=max(1, int(timeout)))
        except psycopg.Error as err:
            raise StoreError(i18n.Message("store.postgresql-cannot-open",
                                            {"error": _first_line(err)})) from None
        try:
            self._migrate()
        except StoreError:
            self._db.close()
            raise
        except psycopg.Error as err:
            self._db.close()
            raise StoreError(i18n.Message("store.postgresql-failed",
                                            {"error": _first_line(err)})) from None

    def _migrate(self) -> None:
        with self.transaction():
            # One process migrates at a time; the others wait, then find nothing to do.
            self._run("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
            self._migrate_to(MIGRATIONS, "")

    def _rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._db.execute(sql.replace("?", "%s"), args).fetchall()
            except self._errors as err:
                raise StoreError(i18n.Message("store.postgresql-failed",
                                            {"error": _first_line(err)})) from None

    def _run(self, sql: str, args: tuple[Any, ...] = ()) -> None:
        with self._lock:
            try:
                self._db.execute(sql.replace("?", "%s"), args)
            except self._errors as err:
                raise StoreError(i18n.Message("store.postgresql-failed",
                                            {"error": _first_line(err)})) from None


    def apply(self, changes: Changes) -> None:
        """Make a unit's writes: one statement per table, its rows sent as one array per
        column. A statement per row (even pipelined) costs the server far more: each is
        planned and executed on its own."""
        # One INSERT … ON CONFLICT cannot change a row twice, so a key written twice in the
        # unit (a deal sent twice, an alert opened then due) is collapsed to what the
        # statements row by row would leave.
        cancels: dict[str, int] = {}
        for at, key in changes.cancelled:
            cancels.setdefault(key, at)  # the first cancel finds the pending ones
        writes = (
                (_ADD_REJECTEDS, changes.rejected),
                (_PUT_DEALS, _collapse(map(_deal_row, changes.deals), *_DEAL_SHAPE)),
                (_PUT_ALERTS, _collapse(map(_alert_row, changes.alerts), *_ALERT_SHAPE)),
                (_ADD_TRANSITIONS, changes.transitions),
                (_CANCEL_MANY, list(cancels.items())),
                (_ADD_DELIVERIES, changes.deliveries))
        with self._lock:
            try:
                # Sent together, one round trip for the unit's writes.
                with self._db.pipeline():
                    for statement, rows in writes:
                        if rows:
                            self._db.execute(statement.replace("?", "%s"), tuple(
                                list(column) for column in zip(*rows, strict=True)))
            except self._errors as err:
                raise StoreError(i18n.Message("store.postgresql-failed",
                                                {"error": _first_line(err)})) from None

    def _alert_rows(self, ruleset: str, deals: Sequence[str]) -> list[Any]:
        """The alerts of some deals, by key, held: one index lookup per deal whatever the
        planner believes (with ``deal IN (…)`` or ``= ANY``, a table not yet analyzed is read
        by its ruleset alone, every alert of the ruleset filtered at each batch)."""
        # Deals in one order, so that processes holding the same alerts take them in the
        # same order.
        return self._rows(f"SELECT x.* FROM unnest(%b::text[]) AS d(deal), LATERAL (SELECT "
                          f"{_ALERT} FROM alerts a WHERE a.ruleset = ? AND a.deal = d.deal"
                          f"{self.HOLD}) AS x ORDER BY x.key", (sorted(deals), ruleset))

    def _judgement_rows(self, ruleset: str, deals: Sequence[str]) -> list[Any]:
        """(deal, record, evaluated, wake, judged_by) of the stored deals among ``deals``: one
        primary-key lookup per deal whatever the planner believes (as for the alerts)."""
        # OFFSET 0 keeps the subquery from being flattened into a join, which the planner
        # would be free to make a scan of every deal of the ruleset again.
        return self._rows("SELECT d.deal, s.record, s.evaluated, s.wake, s.judged_by FROM "
                          "unnest(%b::text[]) AS d(deal), LATERAL (SELECT record, evaluated, "
                          "wake, judged_by FROM deals WHERE ruleset = ? AND deal = d.deal "
                          "OFFSET 0) AS s", (list(deals), ruleset))

    def _many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._lock:
            try:
                # psycopg sends the rows in pipeline mode: one round trip for the batch.
                with self._db.cursor() as cursor:
                    cursor.executemany(sql.replace("?", "%s"), rows)
            except self._errors as err:
                raise StoreError(i18n.Message("store.postgresql-failed",
                                            {"error": _first_line(err)})) from None


def _collapse(rows: Iterable[Sequence[Any]], width: int, fixed: int) -> list[Sequence[Any]]:
    """One row per key (the first ``width`` columns), as upserts row by row leave it: the
    first row's ``fixed`` leading columns (the insert sets them, an update does not) and the
    last row's others; by key, so that processes writing the same rows lock them in one
    order."""
    merged: dict[tuple[Any, ...], Sequence[Any]] = {}
    for row in rows:
        key = tuple(row[:width])
        first = merged.get(key)
        merged[key] = row if first is None else (*first[:fixed], *row[fixed:])
    return [merged[key] for key in sorted(merged)]


def _first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "PostgresStore"]
