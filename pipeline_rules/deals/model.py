"""The deal model: what a CRM tells us about one deal, as plain immutable data, and the raw
record every reader brings in before it is decoded into a deal (:mod:`.decode`).

Times are aware datetimes (:func:`~pipeline_rules.deals.decode.aware`). The small records are
named tuples: an evaluation run makes millions of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, NamedTuple


class DealError(ValueError):
    """A deal record that cannot be used; ``path`` is a JSON pointer into the record.

    ``message`` is the English text; ``key`` and ``args`` say it again as a catalog entry, so
    the reason can be given in any language (:meth:`said`)."""

    def __init__(self, message: str, path: str = "", key: str | None = None,
                 args: Mapping[str, object] | None = None) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.message = message
        self.path = path
        self.key = key
        self.key_args = dict(args or {})

    def said(self, lang: str) -> str:
        """The reason in ``lang`` (English as it always read)."""
        return reason(self.message, self.key, self.key_args, lang)


def reason(message: str, key: str | None, args: Mapping[str, object], lang: str) -> str:
    """A reason in ``lang``: the catalog's ``key`` with ``args``, or ``message`` in English or
    when there is no key."""
    from pipeline_rules import i18n  # a leaf every layer may use

    if key is None or lang == i18n.DEFAULT:
        return message
    return i18n.render(key, args, lang)


def type_name(value: object) -> str:
    """The JSON type of a value, as a catalog key (``type.array``) for reasons."""
    if value is None:
        return "type.null"
    if isinstance(value, bool):
        return "type.boolean"
    if isinstance(value, str):
        return "type.string"
    if isinstance(value, int | float):
        return "type.number"
    if isinstance(value, list | tuple):
        return "type.array"
    return "type.object"


class HistoryEntry(NamedTuple):
    """The deal entered ``stage`` at ``at``; ``override`` holds the reason of a forced move."""

    stage: str
    at: datetime
    override: str | None = None


class Task(NamedTuple):
    """A task on the deal (a call, a meeting to arrange, ...)."""

    id: str
    due: datetime | None
    done: bool


class Event(NamedTuple):
    """Something scheduled on the deal, such as a ``meeting``."""

    type: str
    at: datetime


class Pause(NamedTuple):
    """Time during which pausable SLAs stop counting; ``end`` None means still paused."""

    start: datetime
    end: datetime | None
    reason: str


@dataclass(frozen=True, slots=True)
class Deal:
    """One deal: where it is, its fields, how it got there, and what is planned."""

    id: str
    stage: str | None
    source: str | None = None
    owner: str | None = None
    manager: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    history: tuple[HistoryEntry, ...] = ()
    tasks: tuple[Task, ...] = ()
    events: tuple[Event, ...] = ()
    pauses: tuple[Pause, ...] = ()
    #: The stage the deal's cycle began in when the source gives no date for it (a CRM export
    #: without an entry date for its first stage): it comes before ``history``, entered at an
    #: unknown time.
    undated_start: str | None = None
    #: The deal's times are dates (an export of date-only columns): wall-clock limits count
    #: the ruleset zone's civil days between them, so DST changes add or take no hour.
    whole_days: bool = False

    def first_stages(self) -> list[str]:
        """The stages the deal entered, in order: the undated start, then the history."""
        stages = [h.stage for h in self.history]
        if self.undated_start is not None and (not stages or stages[0] != self.undated_start):
            stages.insert(0, self.undated_start)
        return stages

    def moved(self, entry: HistoryEntry) -> Deal:
        """The deal after entering ``entry.stage``."""
        return replace(self, stage=entry.stage, history=(*self.history, entry))

    def to_dict(self) -> dict[str, Any]:
        """The deal as JSON-ready data, in the shape it is read from."""
        data: dict[str, Any] = {"id": self.id, "stage": self.stage}
        for name in ("source", "owner", "manager"):
            if getattr(self, name) is not None:
                data[name] = getattr(self, name)
        data["fields"] = dict(self.fields)
        data["history"] = [{"stage": h.stage, "at": h.at.isoformat(),
                            **({"override": h.override} if h.override is not None else {})}
                           for h in self.history]
        data["tasks"] = [{"id": t.id, "due": t.due.isoformat() if t.due else None,
                          "done": t.done} for t in self.tasks]
        data["events"] = [{"type": e.type, "at": e.at.isoformat()} for e in self.events]
        if self.pauses:
            data["pauses"] = [{"from": p.start.isoformat(),
                               "to": p.end.isoformat() if p.end else None,
                               "reason": p.reason} for p in self.pauses]
        if self.undated_start is not None:
            data["undated_start"] = self.undated_start
        if self.whole_days:
            data["whole_days"] = True
        return data


def deal_id(data: object) -> str | None:
    """The deal id a JSON-shaped record names, as text, or None when it names none."""
    # Any id but null is shown as Python writes it (true is 'True', 1.5 is '1.5'), so even a
    # record refused for its id is named in its bad-record finding, the same on every path.
    if isinstance(data, Mapping):
        ident = data.get("id")
        if ident is not None:
            return str(ident)
    return None


@dataclass(frozen=True, slots=True)
class Record:
    """One input record before parsing: where it came from (``deals.jsonl:12``), and its
    JSON-shaped data or why it could not be read; ``deal`` is the deal id it names
    (:func:`deal_id` of its data unless a reader that could not read the data says)."""

    origin: str
    data: object = None
    error: str | None = None
    deal: str | None = None
    #: ``error`` as a catalog entry, for other languages (see :func:`reason`).
    error_key: str | None = None
    error_args: Mapping[str, object] | None = None

    def said(self, lang: str) -> str | None:
        """Why the record could not be read, in ``lang`` (None when it could)."""
        if self.error is None:
            return None
        return reason(self.error, self.error_key, self.error_args or {}, lang)

    def __post_init__(self) -> None:
        if self.deal is None and self.data is not None:
            object.__setattr__(self, "deal", deal_id(self.data))
