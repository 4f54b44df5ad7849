"""The fast way in: one JSON deal record (a JSON Lines line) straight to a :class:`Deal`.

msgspec decodes the line into typed structs and checks the shape of the record in C as it
parses — RFC 3339 history and event times included: no intermediate dicts, no Python-level type
checks. Only what msgspec cannot know stays in Python — the years allowed, naive times read in the
ruleset's zone, task due times (often written to the minute, which RFC 3339 does not allow; read
by :func:`~pipeline_rules.time.now.parse_iso`), the order of the history and the rules that tie
fields together.

Anything unusual — a shape the structs refuse, a time that does not parse, a record with pauses,
a stage that disagrees with its history — returns ``None``, and the caller takes the general
path
(:func:`pipeline_rules.deals.model.parse_deal`), which accepts exactly the same records and names
what is wrong with the others. A test checks both paths give the same deal for every record.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Annotated, Any

import msgspec

from pipeline_rules.deals.model import Deal, Event, HistoryEntry, Task, usable_time
from pipeline_rules.time.now import MAX_YEAR, MIN_YEAR, parse_iso

#: A name that must not be empty (a stage, an event type).
_Name = Annotated[str, msgspec.Meta(min_length=1)]


class _Entry(msgspec.Struct):
    stage: _Name
    at: datetime
    override: str | None = None


class _Task(msgspec.Struct):
    id: str | int | None = None
    due: str | None = None
    done: bool = False


class _Event(msgspec.Struct):
    type: _Name
    at: datetime


class _Deal(msgspec.Struct):
    id: str | int
    stage: str | None = None
    source: str | None = None
    owner: str | None = None
    manager: str | None = None
    fields: dict[str, Any] | None = None
    history: list[_Entry] | None = None
    tasks: list[_Task] | None = None
    events: list[_Event] | None = None
    pauses: list[Any] | None = None


_DECODER = msgspec.json.Decoder(_Deal)
_NEW = tuple.__new__  # named tuples built without their Python-level __new__


def decode_deal(line: bytes, zone: tzinfo) -> Deal | None:
    """The deal in one JSON record, or None when the general path must look at it."""
    try:
        record = _DECODER.decode(line)
        return _build(record, zone)
    except (msgspec.DecodeError, ValueError, TypeError):
        return None


def _build(record: _Deal, zone: tzinfo) -> Deal | None:
    ident = record.id
    if type(ident) is int:
        ident = str(ident)
    elif not ident:
        return None
    assert isinstance(ident, str)
    if record.pauses:
        return None
    history: tuple[HistoryEntry, ...] = ()
    stage = record.stage
    if record.history:
        entries = []
        previous = None
        for entry in record.history:
            at = entry.at
            if at.tzinfo is None or not MIN_YEAR <= at.year <= MAX_YEAR:
                at = usable_time(at, zone)
            if previous is not None and at < previous:
                return None
            entries.append(_NEW(HistoryEntry, (entry.stage, at, entry.override)))
            previous = at
        history = tuple(entries)
        last = history[-1].stage
        if stage is None:
            stage = last
        elif stage != last:
            return None
    elif stage == "":
        return None
    tasks: tuple[Task, ...] = ()
    if record.tasks:
        found = []
        for index, task in enumerate(record.tasks):
            task_id = task.id
            if type(task_id) is int:
                task_id = str(task_id)
            elif not task_id:
                task_id = f"{ident}#{index}"
            due = None if task.due is None else usable_time(parse_iso(task.due), zone)
            found.append(_NEW(Task, (task_id, due, task.done)))
        tasks = tuple(found)
    events: tuple[Event, ...] = ()
    if record.events:
        found_events = []
        for event in record.events:
            found_events.append(_NEW(Event, (event.type, usable_time(event.at, zone))))
        events = tuple(found_events)
    fields = record.fields if record.fields is not None else {}
    return Deal(ident, stage, record.source or None, record.owner or None,
                record.manager or None, fields, history, tasks, events)


__all__ = ["decode_deal"]
