"""The deal model: what a CRM tells us about one deal, as plain immutable data.

Deals are parsed from JSON-shaped mappings (see ``schemas/deal.schema.json``). Times are ISO 8601;
a time written without an offset is read in the ruleset's time zone, and a bare date is midnight
there. The small records are named tuples: an evaluation run makes millions of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, tzinfo
from typing import Any, NamedTuple

# Times are read by the rules every time in the package follows (years, zone, ISO forms).
from pipeline_rules.time.now import MAX_YEAR, MIN_YEAR, in_zone, parse_iso

DEAL_ATTRIBUTES = ("id", "stage", "source", "owner", "manager")


class DealError(ValueError):
    """A deal record that cannot be used; ``path`` is a JSON pointer into the record."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.message = message
        self.path = path


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
        return data


@dataclass(frozen=True, slots=True)
class Record:
    """One input record before parsing: where it came from (``deals.jsonl:12``), and its
    JSON-shaped data or why it could not be read (``deal`` is its id when a reader could tell)."""

    origin: str
    data: object = None
    error: str | None = None
    deal: str | None = None


def parse_time(value: object, zone: tzinfo, path: str) -> datetime:
    """An ISO 8601 time (or date) as an aware datetime (no offset: read in ``zone``)."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = parse_iso(value.strip())
        except ValueError:
            raise DealError(f"'{value}' is not an ISO 8601 time (e.g. 2026-11-20T09:05:00+03:00)",
                            path) from None
    else:
        raise DealError(f"expected an ISO 8601 time, got {type(value).__name__}", path)
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise DealError(f"'{value}' is outside the years {MIN_YEAR}-{MAX_YEAR}", path)
    return in_zone(parsed, zone)


def usable_time(moment: datetime, zone: tzinfo) -> datetime:
    """A parsed time checked for its year and made aware (naive: read in ``zone``); raise
    ValueError outside the years allowed. The fast readers' check, without the error report."""
    if not MIN_YEAR <= moment.year <= MAX_YEAR:
        raise ValueError(moment)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=zone).astimezone(UTC)
    return moment


def _time(value: object, zone: tzinfo) -> datetime:
    """parse_time without the error report, for the fast path (raises any exception)."""
    return usable_time(parse_iso(value), zone)  # type: ignore[arg-type]


def _text(value: object, path: str, required: bool = False) -> str | None:
    if value is None or value == "":
        if required:
            raise DealError("is missing", path)
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise DealError(f"expected text, got {type(value).__name__}", path)
    return str(value)


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise DealError(f"expected a list, got {type(value).__name__}", f"/{key}")
    return value


def _record(item: object, path: str) -> Mapping[str, Any]:
    if not isinstance(item, dict):
        raise DealError(f"expected an object, got {type(item).__name__}", path)
    return item


def parse_deal(data: object, zone: tzinfo) -> Deal:
    """Build a deal from its JSON-shaped record; raise :class:`DealError` naming the bad part.

    Well-formed records take a fast path that checks types without building error paths; any
    surprise sends the record through the slow path, which finds and names the problem.
    """
    try:
        return _fast_deal(data, zone)  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        pass
    return _checked_deal(data, zone)


def _fast_deal(record: dict[str, Any], zone: tzinfo) -> Deal:
    ident = record["id"]
    kind = type(ident)
    if kind is not str:
        if kind is not int:
            raise TypeError
        ident = str(ident)
    elif not ident:
        raise ValueError
    history = tuple([HistoryEntry(h["stage"], _time(h["at"], zone), h.get("override"))
                     for h in record.get("history") or ()])
    previous = None
    for entry in history:
        if type(entry.stage) is not str or not entry.stage or (
                entry.override is not None and type(entry.override) is not str):
            raise TypeError
        if previous is not None and entry.at < previous:
            raise ValueError
        previous = entry.at
    stage = record.get("stage")
    if history:
        if stage is None:
            stage = history[-1].stage
        elif stage != history[-1].stage:
            raise ValueError
    elif stage is not None and (type(stage) is not str or not stage):
        raise TypeError
    fields = record.get("fields")
    if fields is None:
        fields = {}
    elif type(fields) is not dict:
        raise TypeError
    tasks = tuple([Task(_task_id(t, ident, i), None if t.get("due") is None
                        else _time(t["due"], zone), t.get("done", False))
                   for i, t in enumerate(record.get("tasks") or ())])
    if any(type(t.done) is not bool for t in tasks):
        raise TypeError
    events = tuple([Event(e["type"], _time(e["at"], zone)) for e in record.get("events") or ()])
    if any(type(e.type) is not str or not e.type for e in events):
        raise TypeError
    pauses = record.get("pauses")
    if pauses:
        raise ValueError  # rare: the checked path validates their order and reasons
    source, owner, manager = record.get("source"), record.get("owner"), record.get("manager")
    for value in (source, owner, manager):
        if value is not None and type(value) is not str:
            raise TypeError
    return Deal(ident, stage, source or None, owner or None, manager or None, fields,
                history, tasks, events)


def _task_id(task: dict[str, Any], deal: str, index: int) -> str:
    ident = task.get("id")
    if type(ident) is str and ident:
        return ident
    if ident is None or ident == "":
        return f"{deal}#{index}"
    if type(ident) is int:
        return str(ident)
    raise TypeError


def _checked_deal(data: object, zone: tzinfo) -> Deal:
    """The validating parser: every check, with the JSON pointer of what fails."""
    record = _record(data, "")
    deal_id = _text(record.get("id"), "/id", required=True)
    assert deal_id is not None
    history = []
    for i, item in enumerate(_list(record, "history")):
        entry = _record(item, f"/history/{i}")
        stage = _text(entry.get("stage"), f"/history/{i}/stage", required=True)
        assert stage is not None
        history.append(HistoryEntry(stage, parse_time(entry.get("at"), zone, f"/history/{i}/at"),
                                    _text(entry.get("override"), f"/history/{i}/override")))
    for i in range(1, len(history)):
        if history[i].at < history[i - 1].at:
            later, earlier = history[i].at.astimezone(zone), history[i - 1].at.astimezone(zone)
            raise DealError(f"history is out of time order: entry {i} ({later}) is "
                            f"before entry {i - 1} ({earlier})", f"/history/{i}/at")
    stage = _text(record.get("stage"), "/stage")
    if stage is None and history:
        stage = history[-1].stage
    elif history and stage != history[-1].stage:
        raise DealError(f"stage '{stage}' is not the last stage of its history "
                        f"('{history[-1].stage}')", "/stage")
    fields = record.get("fields") or {}
    if not isinstance(fields, dict):
        raise DealError(f"expected an object, got {type(fields).__name__}", "/fields")
    tasks = []
    for i, item in enumerate(_list(record, "tasks")):
        task = _record(item, f"/tasks/{i}")
        due = task.get("due")
        done = task.get("done", False)
        if not isinstance(done, bool):
            raise DealError("expected true or false", f"/tasks/{i}/done")
        tasks.append(Task(_text(task.get("id"), f"/tasks/{i}/id") or f"{deal_id}#{i}",
                          None if due is None else parse_time(due, zone, f"/tasks/{i}/due"),
                          done))
    events = []
    for i, item in enumerate(_list(record, "events")):
        event = _record(item, f"/events/{i}")
        kind = _text(event.get("type"), f"/events/{i}/type", required=True)
        assert kind is not None
        events.append(Event(kind, parse_time(event.get("at"), zone, f"/events/{i}/at")))
    pauses = []
    for i, item in enumerate(_list(record, "pauses")):
        pause = _record(item, f"/pauses/{i}")
        start = parse_time(pause.get("from"), zone, f"/pauses/{i}/from")
        end = pause.get("to")
        finish = None if end is None else parse_time(end, zone, f"/pauses/{i}/to")
        if finish is not None and finish < start:
            raise DealError("a pause cannot end before it starts", f"/pauses/{i}/to")
        reason = _text(pause.get("reason"), f"/pauses/{i}/reason", required=True)
        assert reason is not None
        pauses.append(Pause(start, finish, reason))
    return Deal(
        id=deal_id, stage=stage,
        source=_text(record.get("source"), "/source"),
        owner=_text(record.get("owner"), "/owner"),
        manager=_text(record.get("manager"), "/manager"),
        fields=fields, history=tuple(history), tasks=tuple(tasks), events=tuple(events),
        pauses=tuple(pauses),
    )
