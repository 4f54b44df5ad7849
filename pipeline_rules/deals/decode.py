"""Decoding a deal record: one schema, read two ways.

:data:`DEAL` lists the keys of a deal record (``schemas/deal.schema.json``) object by object, each
with its :class:`Kind`. Both routes to a :class:`~pipeline_rules.deals.model.Deal` come from it:

* the **fast route** — msgspec structs generated from the schema check a record's shape in C
  while they decode a JSON line (:func:`decode_deal`) or convert a mapping (:func:`parse_deal`);
  only what a shape cannot state is left to Python. Anything unusual declines, and the record
  takes
* the **general route**, which walks the schema key by key, in the order listed, and raises
  :class:`~pipeline_rules.deals.model.DealError` naming the first bad part with its JSON pointer.

What a shape cannot state is written once, below, and both routes apply it: the years allowed and
naive times read in the ruleset's zone (:func:`aware`), a history in time order, a stage that
agrees with its history, task ids numbered after their deal, pauses that end after they start.
(The fast route's history loop runs the common case of the first two inline.) A property test
(tests/test_deals.py) checks both routes give the same deal, or the fast one declines, for any
record.

An object is any mapping and a list a list or tuple (JSON gives dicts and lists; Python callers
may pass others); a list key that is null, empty or otherwise false holds nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone, tzinfo
from types import MappingProxyType
from typing import Annotated, Any, NamedTuple

import msgspec

from pipeline_rules.deals.model import (
    Deal,
    DealError,
    Event,
    HistoryEntry,
    Pause,
    Task,
    type_name,
)
from pipeline_rules.i18n import Term
from pipeline_rules.time.now import MAX_YEAR, MIN_YEAR, NowError, in_zone, parse_iso, parse_now

# -- times -------------------------------------------------------------------------------------

def aware(moment: datetime, zone: tzinfo) -> datetime:
    """A parsed time as a deal holds it: aware, a naive one read in ``zone``; raise ValueError
    outside the years allowed."""
    if not MIN_YEAR <= moment.year <= MAX_YEAR:
        raise ValueError(f"{moment} is outside the years {MIN_YEAR}-{MAX_YEAR}")
    return in_zone(moment, zone)


def parse_time(value: object, zone: tzinfo, path: str) -> datetime:
    """An ISO 8601 time (or date), or a datetime, as :func:`aware` makes it; raise
    :class:`DealError` naming ``path``. Text is read as every time is
    (:func:`~pipeline_rules.time.now.parse_now`)."""
    if isinstance(value, datetime):
        try:
            return aware(value, zone)
        except ValueError:
            raise DealError(f"'{value}' is outside the years {MIN_YEAR}-{MAX_YEAR}",
                            path, "deal.years",
                            {"value": value, "low": MIN_YEAR, "high": MAX_YEAR}) from None
    if not isinstance(value, str):
        raise DealError(f"expected an ISO 8601 time, got {type(value).__name__}", path,
                        "deal.expected-time", {"type": Term((type_name(value),))})
    try:
        return parse_now(value, zone, path)
    except NowError as err:
        raise DealError(err.message, path, err.key, err.key_args) from None


# -- what a shape cannot state (both routes) ---------------------------------------------------

def out_of_order(history: Sequence[HistoryEntry]) -> int:
    """The first history entry earlier than the one before it; 0 when all are in time order."""
    for i in range(1, len(history)):
        if history[i].at < history[i - 1].at:
            return i
    return 0


def current_stage(stage: str | None, history: Sequence[HistoryEntry]) -> str | None:
    """The deal's stage: as given, else the last of its history; raise :class:`DealError` when
    the two disagree."""
    if not history:
        return stage
    last = history[-1].stage
    if stage is None:
        return last
    if stage != last:
        raise DealError(f"stage '{stage}' is not the last stage of its history ('{last}')",
                        "/stage", "deal.stage-not-last", {"stage": stage, "last": last})
    return stage


def undated_start(start: str | None, stage: str | None,
                  history: Sequence[HistoryEntry]) -> str | None:
    """The undated first stage, checked: a deal with no history must be in it (raise
    :class:`DealError` otherwise)."""
    if start is not None and not history and stage is not None and stage != start:
        raise DealError(f"stage '{stage}' has no history, so it must be the undated start "
                        f"'{start}'", "/stage")
    return start


def task_id(text: str | None, deal: str, index: int) -> str:
    """A task's id: as given, else numbered after its deal (``A-1#0``)."""
    return text or f"{deal}#{index}"


def ends_before_start(start: datetime, end: datetime | None) -> bool:
    """Whether a pause ends before it starts (an open pause, ``end`` None, never does)."""
    return end is not None and end < start


# -- the general route's checks, one per kind of value -----------------------------------------

def _text(value: object, path: str, required: bool = False, empty: bool = False) -> str | None:
    # Numbers are read as text (CRMs number their ids); booleans are not.
    if value is None or (value == "" and not empty):
        if required:
            raise DealError("is missing", path, "deal.missing")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise DealError(f"expected text, got {type(value).__name__}", path,
                        "deal.expected-text", {"type": Term((type_name(value),))})
    return str(value)


def _object(value: object, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise DealError(f"expected an object, got {type(value).__name__}", path,
                        "deal.expected-object", {"type": Term((type_name(value),))})
    return value


def _required_text(value: object, path: str, zone: tzinfo) -> str | None:
    return _text(value, path, required=True)


def _optional_text(value: object, path: str, zone: tzinfo) -> str | None:
    return _text(value, path)


def _note(value: object, path: str, zone: tzinfo) -> str | None:
    return _text(value, path, empty=True)


def _required_time(value: object, path: str, zone: tzinfo) -> datetime:
    return parse_time(value, zone, path)


def _optional_time(value: object, path: str, zone: tzinfo) -> datetime | None:
    return None if value is None else parse_time(value, zone, path)


def _flag(value: object, path: str, zone: tzinfo) -> bool:
    if not isinstance(value, bool):
        raise DealError("expected true or false", path, "deal.expected-flag")
    return value


def _fields(value: object, path: str, zone: tzinfo) -> dict[str, Any]:
    found = _object(value or {}, path)
    return found if isinstance(found, dict) else dict(found)


# -- the schema --------------------------------------------------------------------------------

class Kind(NamedTuple):
    """What a key holds: the type msgspec checks on the fast route, the value when the key is
    absent (``REQUIRED``: there is none), and the general route's check, which returns the value
    as a deal holds it or raises :class:`DealError` naming the path it is given."""

    wire: Any
    default: Any
    check: Callable[[Any, str, tzinfo], Any]
    #: For a list: the part its items are.
    part: Part | None = None


REQUIRED = msgspec.NODEFAULT

#: The deal's id: text or a number.
ID = Kind(str | int, REQUIRED, _required_text)
#: Text that must be there and not be empty (a stage, an event's type, a pause's reason).
NAME = Kind(Annotated[str, msgspec.Meta(min_length=1)], REQUIRED, _required_text)
#: Text that may be absent; empty text is absent too.
TEXT = Kind(str | None, None, _optional_text)
#: Text that may be absent, kept as written even when empty (an override's reason).
NOTE = Kind(str | None, None, _note)
#: Text or a number that may be absent (a task's id).
LABEL = Kind(str | int | None, None, _optional_text)
#: A time that must be there; msgspec reads RFC 3339 (anything else takes the general route).
TIME = Kind(datetime, REQUIRED, _required_time)
#: A time that must be there, read as text on the fast route: pauses and due dates are often
#: written to the minute, which RFC 3339 does not allow, so :func:`parse_iso` reads them there.
TIME_TEXT = Kind(str, REQUIRED, _required_time)
#: A time that may be null, read as text on the fast route (as :data:`TIME_TEXT`).
OPTIONAL_TIME = Kind(str | None, None, _optional_time)
#: True or false; false when absent.
FLAG = Kind(bool, False, _flag)
#: Custom fields: an object of anything.
FIELDS = Kind(dict[str, Any] | None, None, _fields)


class Key(NamedTuple):
    """A key of an object in a deal record: its JSON name, what it holds, and the attribute it
    becomes when that is not its name."""

    name: str
    kind: Kind
    attr: str = ""


#: A rule run on the general route right after its key: the values read so far (by attribute),
#: the key's path and the zone in, the key's final value out (or DealError).
Rule = Callable[[dict[str, Any], str, tzinfo], Any]


class Part(NamedTuple):
    """An object of a deal record: its keys in the order the general route checks them, what it
    becomes, and the rules that run after some of its keys."""

    name: str
    keys: tuple[Key, ...]
    make: Callable[..., Any]
    rules: Mapping[str, Rule] = MappingProxyType({})


def _struct(part: Part) -> type[msgspec.Struct]:
    """The msgspec struct of a part: its keys, their types and defaults."""
    return msgspec.defstruct(part.name, [
        (key.attr or key.name, key.kind.wire,
         msgspec.field(name=key.name, default=key.kind.default))
        for key in part.keys], kw_only=True)


def many(part: Part) -> Kind:
    """A list of ``part`` objects."""

    def check(value: object, path: str, zone: tzinfo) -> tuple[Any, ...]:
        if not value:
            return ()
        if not isinstance(value, list | tuple):
            raise DealError(f"expected a list, got {type(value).__name__}", path,
                            "deal.expected-list", {"type": Term((type_name(value),))})
        return tuple([_read(part, item, f"{path}/{i}", zone) for i, item in enumerate(value)])

    return Kind(list[_struct(part)] | None, None, check, part)  # type: ignore[misc]


def _read(part: Part, item: object, path: str, zone: tzinfo) -> Any:
    """The general route: one object checked key by key, then made."""
    data = _object(item, path)
    values: dict[str, Any] = {}
    for key in part.keys:
        where = f"{path}/{key.name}"
        attr = key.attr or key.name
        absent = None if key.kind.default is REQUIRED else key.kind.default
        values[attr] = key.kind.check(data.get(key.name, absent), where, zone)
        rule = part.rules.get(key.name)
        if rule is not None:
            values[attr] = rule(values, where, zone)
    return part.make(**values)


def _in_time_order(values: dict[str, Any], path: str, zone: tzinfo) -> tuple[HistoryEntry, ...]:
    history: tuple[HistoryEntry, ...] = values["history"]
    i = out_of_order(history)
    if i:
        later, earlier = history[i].at.astimezone(zone), history[i - 1].at.astimezone(zone)
        raise DealError(f"history is out of time order: entry {i} ({later}) is before entry "
                        f"{i - 1} ({earlier})", f"{path}/{i}/at", "deal.out-of-order",
                        {"entry": i, "later": later, "before": i - 1, "earlier": earlier})
    return history


def _of_history(values: dict[str, Any], path: str, zone: tzinfo) -> str | None:
    return current_stage(values["stage"], values["history"])


def _undated(values: dict[str, Any], path: str, zone: tzinfo) -> str | None:
    start = undated_start(values["undated_start"], values["stage"], values["history"])
    # A deal with neither a stage nor a history is in its undated start.
    values["stage"] = values["stage"] or start
    return start


def _numbered(values: dict[str, Any], path: str, zone: tzinfo) -> tuple[Task, ...]:
    return tuple([task._replace(id=task_id(task.id, values["id"], i))
                  for i, task in enumerate(values["tasks"])])


def _not_before_start(values: dict[str, Any], path: str, zone: tzinfo) -> datetime | None:
    end: datetime | None = values["end"]
    if ends_before_start(values["start"], end):
        raise DealError("a pause cannot end before it starts", path, "deal.pause-order")
    return end


HISTORY = Part("HistoryRecord", (Key("stage", NAME), Key("at", TIME), Key("override", NOTE)),
               HistoryEntry)
TASK = Part("TaskRecord", (Key("done", FLAG), Key("id", LABEL), Key("due", OPTIONAL_TIME)),
            Task)
EVENT = Part("EventRecord", (Key("type", NAME), Key("at", TIME)), Event)
PAUSE = Part("PauseRecord", (Key("from", TIME_TEXT, "start"), Key("to", OPTIONAL_TIME, "end"),
                             Key("reason", NAME)), Pause, {"to": _not_before_start})
#: A deal record, in the order the general route checks it.
DEAL = Part("DealRecord", (
    Key("id", ID), Key("history", many(HISTORY)), Key("stage", TEXT), Key("fields", FIELDS),
    Key("tasks", many(TASK)), Key("events", many(EVENT)), Key("pauses", many(PAUSE)),
    Key("source", TEXT), Key("owner", TEXT), Key("manager", TEXT),
    Key("undated_start", TEXT), Key("whole_days", FLAG),
), Deal, {"history": _in_time_order, "stage": _of_history, "tasks": _numbered,
    "undated_start": _undated})

_DEAL = _struct(DEAL)


# -- the two routes ----------------------------------------------------------------------------

_DECODER = msgspec.json.Decoder(_DEAL)
_CONVERT = msgspec.convert
_NEW = tuple.__new__  # named tuples built without their Python-level __new__


def parse_deal(data: object, zone: tzinfo) -> Deal:
    """The deal in a JSON-shaped record (a deal is taken as it is); raise :class:`DealError`
    naming the bad part."""
    if isinstance(data, Deal):
        return data
    try:
        return _build(_CONVERT(data, _DEAL), zone)
    except (ValueError, TypeError):  # msgspec's errors and DealError are ValueErrors
        pass
    return _general(data, zone)


def _general(data: object, zone: tzinfo) -> Deal:
    """The general route alone: every check in the schema's order; the reference the fast route
    is tested against."""
    deal: Deal = _read(DEAL, data, "", zone)
    return deal


def decode_deal(line: bytes, zone: tzinfo) -> Deal | None:
    """The deal in one JSON text (a JSON Lines line), or None when the general route must read
    it: msgspec decodes the bytes straight to the schema's structs, no dicts in between."""
    try:
        return _build(_DECODER.decode(line), zone)
    except (ValueError, TypeError):
        return None


def _build(record: Any, zone: tzinfo) -> Deal:
    """The fast route's deal from a record msgspec has shaped: what a shape cannot state, with
    the rules above; anything unusual raises (ValueError, TypeError) for the general route."""
    ident = record.id
    if type(ident) is not str:
        ident = str(ident)
    if not ident:
        raise ValueError("no id")
    history: tuple[HistoryEntry, ...] = ()
    if record.history:
        # The hot loop (a few entries a deal, millions of deals): aware() and out_of_order()
        # done inline for the common case, which is a third of the time of calling them.
        entries = []
        previous = None
        for entry in record.history:
            at = entry.at
            if type(at.tzinfo) is not timezone or not MIN_YEAR <= at.year <= MAX_YEAR:
                at = aware(at, zone)  # naive, or outside the years (raises): the rare case
            if previous is not None and at < previous:
                raise ValueError("out of time order")
            entries.append(_NEW(HistoryEntry, (entry.stage, at, entry.override)))
            previous = at
        history = tuple(entries)
    stage = current_stage(record.stage or None, history)
    tasks: tuple[Task, ...] = ()
    if record.tasks:
        found = []
        for index, task in enumerate(record.tasks):
            label = task.id
            if label is not None and type(label) is not str:
                label = str(label)
            due = task.due
            found.append(_NEW(Task, (task_id(label, ident, index),
                                     None if due is None else aware(parse_iso(due), zone),
                                     task.done)))
        tasks = tuple(found)
    events: tuple[Event, ...] = ()
    if record.events:
        events = tuple([_NEW(Event, (event.type, aware(event.at, zone)))
                        for event in record.events])
    pauses: tuple[Pause, ...] = ()
    if record.pauses:
        made = []
        for pause in record.pauses:
            start = aware(parse_iso(pause.start), zone)
            end = None if pause.end is None else aware(parse_iso(pause.end), zone)
            if ends_before_start(start, end):
                raise ValueError("a pause ends before it starts")
            made.append(_NEW(Pause, (start, end, pause.reason)))
        pauses = tuple(made)
    fields = record.fields
    undated = record.undated_start or None
    if undated is not None:
        undated = undated_start(undated, stage, history)
        stage = stage or undated
    return Deal(ident, stage, record.source or None, record.owner or None,
                record.manager or None, fields if fields is not None else {}, history, tasks,
                events, pauses, undated, record.whole_days)


__all__ = ["DEAL", "MAX_YEAR", "MIN_YEAR", "DealError", "Kind", "Part", "aware", "decode_deal",
           "parse_deal", "parse_iso", "parse_time"]
