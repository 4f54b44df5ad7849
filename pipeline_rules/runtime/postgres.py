"""The PostgreSQL store (``--store postgresql://…``; needs the ``postgresql`` extra, psycopg 3).

The same tables and queries as SQLite (:mod:`.sql`), with PostgreSQL's types; migrations are
numbered steps in ``schema_version``, applied under an advisory lock so that several processes
opening one database at once migrate it once. One connection per store, shared by the threads of
a process behind a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pipeline_rules import i18n
from pipeline_rules.runtime.sql import SqlStore
from pipeline_rules.runtime.store import StoreError

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


    def _many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._lock:
            try:
                # psycopg sends the rows in pipeline mode: one round trip for the batch.
                with self._db.cursor() as cursor:
                    cursor.executemany(sql.replace("?", "%s"), rows)
            except self._errors as err:
                raise StoreError(i18n.Message("store.postgresql-failed",
                                            {"error": _first_line(err)})) from None


def _first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "PostgresStore"]
