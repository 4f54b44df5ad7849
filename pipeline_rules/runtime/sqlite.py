"""The SQLite store: one file, WAL journal, schema migrations numbered in ``schema_version``.

WAL lets readers (the HTTP API) work while the scheduler writes; ``synchronous=NORMAL`` keeps
every committed transaction through a crash of the process (``kill -9``), though not
necessarily through a power cut (the last transactions before it may be lost; the store stays
consistent). One connection is shared by the threads of a process behind a
lock; other processes wait up to ``timeout`` seconds for a lock, then get a clear error.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipeline_rules import i18n
from pipeline_rules.runtime.sql import SqlStore
from pipeline_rules.runtime.store import StoreError

#: Migration steps: step N brings a store from schema version N-1 to N. Append, never edit.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE deals (
            ruleset TEXT NOT NULL, deal TEXT NOT NULL, record TEXT NOT NULL,
            findings TEXT NOT NULL, evaluated INTEGER NOT NULL, wake INTEGER,
            origin TEXT NOT NULL DEFAULT '', PRIMARY KEY (ruleset, deal))""",
        "CREATE INDEX deals_wake ON deals (wake) WHERE wake IS NOT NULL",
        """CREATE TABLE rejected (
            seq INTEGER PRIMARY KEY AUTOINCREMENT, origin TEXT NOT NULL, ruleset TEXT,
            deal TEXT, reason TEXT NOT NULL, path TEXT NOT NULL, record TEXT NOT NULL,
            at INTEGER NOT NULL)""",
        """CREATE TABLE alerts (
            key TEXT PRIMARY KEY, ruleset TEXT NOT NULL, deal TEXT NOT NULL,
            kind TEXT NOT NULL, code TEXT NOT NULL, rule TEXT, status TEXT NOT NULL,
            due INTEGER, payload TEXT NOT NULL, opened INTEGER NOT NULL,
            updated INTEGER NOT NULL)""",
        "CREATE INDEX alerts_deal ON alerts (ruleset, deal)",
        "CREATE INDEX alerts_status ON alerts (status, key)",
        """CREATE TABLE transitions (
            seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, ruleset TEXT NOT NULL,
            deal TEXT NOT NULL, before TEXT, after TEXT NOT NULL, at INTEGER NOT NULL,
            note TEXT NOT NULL DEFAULT '')""",
        "CREATE INDEX transitions_deal ON transitions (ruleset, deal, seq)",
        """CREATE TABLE deliveries (
            seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, event TEXT NOT NULL,
            payload TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending',
            created INTEGER NOT NULL, finished INTEGER)""",
        "CREATE INDEX deliveries_pending ON deliveries (status, seq)",
        "CREATE INDEX deliveries_key ON deliveries (key, status)",
        "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ),
    (
        # Retries: how often a delivery failed, and not to try again before when.
        "ALTER TABLE deliveries ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE deliveries ADD COLUMN next_attempt INTEGER NOT NULL DEFAULT 0",
    ),
    (
        # What judged a deal (a digest of the rulesets and settings): a record sent again,
        # unchanged and judged by the same, is not judged again before its wake.
        "ALTER TABLE deals ADD COLUMN judged_by TEXT NOT NULL DEFAULT ''",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)



class SqliteStore(SqlStore):
    """A store in one SQLite file (created, and brought to the current schema, on open)."""

    WAKE_INDEX = "INDEXED BY deals_wake "
    BEGIN = "BEGIN IMMEDIATE"
    _db: sqlite3.Connection

    def __init__(self, path: str, timeout: float = 10.0) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._depth = 0
        try:
            self._db = sqlite3.connect(path, timeout=timeout, isolation_level=None,
                                       check_same_thread=False)
        except sqlite3.Error as err:
            raise StoreError(i18n.Message("store.cannot-open",
                                            {"path": path, "error": str(err)})) from None
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            # Upserts and wakes touch pages all over the tables: a page cache of 64 MiB (the
            # default is 2 MiB) keeps the upper levels of every index in memory, and a
            # checkpoint every 10,000 pages (40 MB of WAL) rather than 1,000 writes a page
            # changed twice in between once. Neither changes what a commit guarantees.
            self._db.execute("PRAGMA cache_size=-65536")
            self._db.execute("PRAGMA wal_autocheckpoint=10000")
            self._migrate()
        except StoreError:
            self._db.close()
            raise
        except sqlite3.Error as err:
            self._db.close()
            raise StoreError(_explain(path, err)) from None

    def _migrate(self) -> None:
        with self.transaction():
            self._migrate_to(MIGRATIONS, f"{self.path}: ")

    def _rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.Error as err:
                raise StoreError(_explain(self.path, err)) from None

    def _run(self, sql: str, args: tuple[Any, ...] = ()) -> None:
        with self._lock:
            try:
                self._db.execute(sql, args)
            except sqlite3.Error as err:
                raise StoreError(_explain(self.path, err)) from None

    def _many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._lock:
            try:
                self._db.executemany(sql, rows)
            except sqlite3.Error as err:
                raise StoreError(_explain(self.path, err)) from None


def _explain(path: str, err: sqlite3.Error) -> i18n.Message:
    """A store error as a sentence naming the file."""
    text = str(err)
    if "locked" in text or "busy" in text:
        return i18n.Message("store.locked", {"path": path})
    if isinstance(err, sqlite3.DatabaseError) and ("not a database" in text
                                                   or "malformed" in text):
        return i18n.Message("store.corrupt", {"path": path, "error": text})
    if not Path(path).parent.exists():
        return i18n.Message("store.no-directory", {"path": path})
    return i18n.Message("store.failed", {"path": path, "error": text})


__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "SqliteStore"]
