"""What the runtime keeps, and the interface every store behind it offers.

A store holds the deals (each raw record with the ruleset that judges it, its last findings and
its **wake**: the instant its findings next change or one of its actions falls due, indexed), the
records refused with their reason, the alerts with their status, every transition of an alert
(the audit trail) and the deliveries waiting for a sink or done (an outbox: a delivery is written
in the same transaction as the transition that causes it, and marked done only after the sink
took it).

Instants are integers: microseconds since the Unix epoch, UTC — exact, ordered, indexable the
same way on every database. :class:`Store` is the interface; :mod:`.sqlite` is the default
(a file, nothing to install). A store opens by URL or path (:func:`open_store`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from pipeline_rules import i18n

#: Alert statuses: a finding that holds (``open``), an action whose due instant came and that
#: waits for its sink (``due``), one the sink took (``delivered``), a finding whose cause is gone
#: (``resolved``), a delivered action whose retraction the sink took (``retracted``), and an
#: action whose delivery failed too often (``dead``: the dead letters, kept for a person).
STATUSES = ("open", "due", "delivered", "resolved", "retracted", "dead")
#: Statuses of an alert whose finding still holds.
ACTIVE = ("open", "due", "delivered")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_us(moment: datetime) -> int:
    """An aware instant as microseconds since the epoch (UTC)."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


def from_us(value: int) -> datetime:
    """Microseconds since the epoch as an aware UTC instant."""
    return _EPOCH + timedelta(microseconds=value)


class StoreError(Exception):
    """A store that cannot be used: missing, locked, corrupt, or from a newer version."""

    def __init__(self, message: i18n.Message) -> None:
        super().__init__(message)
        self.message = message

    def said(self, lang: str) -> str:
        """What is wrong, in ``lang`` (the driver's own words stay as it gave them)."""
        return self.message.render(lang)


@dataclass(frozen=True)
class StoredDeal:
    """A deal as stored: its record (JSON text), its last findings (a JSON array), when they
    were worked out, when the deal next wakes (None: never by time alone), where the record
    came from and a digest of the rulesets and settings that judged it."""

    ruleset: str
    deal: str
    record: str
    findings: str
    evaluated: int
    wake: int | None
    origin: str = ""
    judged_by: str = ""


class Judgement(NamedTuple):
    """What an ingest needs to know of a stored deal to tell that a record sent again changes
    nothing: the record, when it was judged and by what, and its wake."""

    record: str
    evaluated: int
    wake: int | None
    judged_by: str


@dataclass(frozen=True)
class Alert:
    """One finding of one deal followed over time, under a stable key (an action's own key)."""

    key: str
    ruleset: str
    deal: str
    kind: str
    code: str
    rule: str | None
    status: str
    due: int | None
    payload: str
    opened: int
    updated: int


@dataclass(frozen=True)
class Transition:
    """One change of an alert's status, when it happened and why."""

    seq: int
    key: str
    ruleset: str
    deal: str
    before: str | None
    after: str
    at: int
    note: str = ""


@dataclass(frozen=True)
class Delivery:
    """A message for the sink: the alert's key, ``delivered`` or ``retracted``, and the exact
    payload (frozen when the delivery was written, so a repeat after a crash is identical)."""

    seq: int
    key: str
    event: str
    payload: str
    created: int
    attempts: int = 0


@dataclass(frozen=True)
class Rejected:
    """A record that could not be stored as a deal, and why."""

    seq: int
    origin: str
    ruleset: str | None
    deal: str | None
    reason: str
    path: str
    record: str
    at: int


@dataclass
class Changes:
    """The writes of one unit of work, collected while its deals are judged and made table by
    table when it ends (one statement per table, run over all its rows: far fewer round trips
    than a statement per row).

    Rows of one table are written in the order they were added. Across tables the order does
    not matter, but for one case the collector settles itself: a delivery queued in this unit
    and cancelled later in it is written as cancelled (``cancelled`` holds only the alerts whose
    deliveries stored *before* the unit are cancelled, and is applied before the unit's own
    deliveries are written)."""

    deals: list[StoredDeal] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    #: (key, ruleset, deal, before, after, at, note)
    transitions: list[tuple[str, str, str, str | None, str, int, str]] = field(
        default_factory=list)
    #: [key, event, payload, created, status, finished]: mutable, so that a cancel later in
    #: the unit can mark a delivery the unit queued.
    deliveries: list[list[Any]] = field(default_factory=list)
    #: (at, key): the pending deliveries of ``key`` stored before the unit are cancelled at ``at``.
    cancelled: list[tuple[int, str]] = field(default_factory=list)
    #: (origin, ruleset, deal, reason, path, record, at)
    rejected: list[tuple[str, str | None, str | None, str, str, str, int]] = field(
        default_factory=list)
    _queued: dict[str, list[list[Any]]] = field(default_factory=dict, repr=False)

    def queue(self, key: str, event: str, payload: str, at: int) -> None:
        """Queue a delivery."""
        row: list[Any] = [key, event, payload, at, "pending", None]
        self.deliveries.append(row)
        self._queued.setdefault(key, []).append(row)

    def cancel(self, key: str, at: int) -> None:
        """Cancel the deliveries of ``key`` not yet made: those queued in this unit at once,
        those stored before when the unit is written."""
        for row in self._queued.get(key, ()):
            if row[4] == "pending":
                row[4], row[5] = "cancelled", at
        self.cancelled.append((at, key))


class Store(ABC):
    """The runtime's state. Changes are made inside :meth:`transaction` (all or nothing);
    reads outside one see committed data."""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[None]:
        """A unit of work: committed when the block ends, rolled back if it raises."""

    @abstractmethod
    def close(self) -> None:
        """Release the store."""

    @property
    def leases(self) -> bool:
        """Whether :meth:`waking` and :meth:`pending` lease their rows to the current
        transaction, so that several processes can share one store."""
        return False

    @abstractmethod
    def get_meta(self, name: str) -> str | None:
        """A setting kept with the store (such as the rulesets it was filled from), or None."""

    @abstractmethod
    def set_meta(self, name: str, value: str) -> None:
        """Keep a setting with the store."""

    # deals
    @abstractmethod
    def get_deal(self, ruleset: str, deal: str) -> StoredDeal | None:
        """A stored deal, or None."""

    @abstractmethod
    def put_deal(self, deal: StoredDeal) -> None:
        """Insert or replace a deal."""

    @abstractmethod
    def apply(self, changes: Changes) -> None:
        """Make the writes of a unit of work (inside :meth:`transaction`), table by table."""

    @abstractmethod
    def alerts_of_deals(self, deals: Sequence[tuple[str, str]]
                        ) -> dict[tuple[str, str], list[Alert]]:
        """The alerts of each (ruleset, deal), by key, read at once (a deal without alerts is
        absent)."""

    @abstractmethod
    def judgements(self, deals: Sequence[tuple[str, str]]
                   ) -> dict[tuple[str, str], Judgement]:
        """The last judgement of each (ruleset, deal) stored, read at once (a deal not stored
        is absent)."""

    @abstractmethod
    def waking(self, until: int, limit: int) -> list[StoredDeal]:
        """Up to ``limit`` deals whose wake is at or before ``until``, earliest first (by the
        wake index: never a scan of every deal)."""

    @abstractmethod
    def count_deals(self) -> int:
        """How many deals are stored."""

    # rejected records
    @abstractmethod
    def add_rejected(self, origin: str, ruleset: str | None, deal: str | None, reason: str,
                     path: str, record: str, at: int) -> None:
        """Keep a refused record with its reason."""

    @abstractmethod
    def rejected(self, limit: int = 100, after: int = 0) -> list[Rejected]:
        """Refused records, oldest first, after sequence number ``after``."""

    # alerts
    @abstractmethod
    def alerts_of(self, ruleset: str, deal: str) -> list[Alert]:
        """Every alert of one deal, by key."""

    @abstractmethod
    def get_alert(self, key: str) -> Alert | None:
        """One alert by key."""

    @abstractmethod
    def put_alert(self, alert: Alert) -> None:
        """Insert or replace an alert."""

    @abstractmethod
    def alerts(self, status: str | None = None, limit: int = 100,
               after: str = "") -> list[Alert]:
        """Alerts (with a status, if given) ordered by key, after key ``after``."""

    @abstractmethod
    def add_transition(self, key: str, ruleset: str, deal: str, before: str | None,
                       after: str, at: int, note: str = "") -> None:
        """Record a change of an alert's status."""

    @abstractmethod
    def transitions(self, ruleset: str, deal: str, limit: int | None = None,
                    after: int = 0) -> list[Transition]:
        """The transitions of a deal's alerts, in order: every one, or a page of ``limit``
        after the one numbered ``after``."""

    # deliveries
    @abstractmethod
    def add_delivery(self, key: str, event: str, payload: str, at: int) -> None:
        """Queue a delivery."""

    @abstractmethod
    def pending(self, limit: int, now: int | None = None) -> list[Delivery]:
        """Deliveries not yet done (and, given ``now``, not waiting to be retried later),
        oldest first."""

    @abstractmethod
    def retry_later(self, seq: int, attempts: int, next_attempt: int) -> None:
        """Count a failed attempt and set when to try again."""

    @abstractmethod
    def pending_of(self, key: str) -> list[Delivery]:
        """Deliveries of one alert not yet done."""

    @abstractmethod
    def tallies(self) -> dict[str, dict[str, int]]:
        """How many alerts there are by status, and deliveries by status (for metrics)."""

    @abstractmethod
    def finish_delivery(self, seq: int, status: str, at: int) -> None:
        """Mark a delivery ``done``, ``cancelled`` or ``dead``."""


def open_store(url: str) -> Store:
    """The store at ``url``: ``postgresql://…`` opens PostgreSQL, a path (or ``sqlite://path``)
    SQLite; raise StoreError."""
    if url.startswith(("postgresql://", "postgres://")):
        from pipeline_rules.runtime.postgres import PostgresStore

        return PostgresStore(url)
    from pipeline_rules.runtime.sqlite import SqliteStore

    return SqliteStore(url.removeprefix("sqlite://"))


__all__ = ["ACTIVE", "STATUSES", "Alert", "Changes", "Delivery", "Judgement", "Rejected", "Store",
           "StoreError", "StoredDeal", "Transition", "from_us", "open_store", "to_us"]
