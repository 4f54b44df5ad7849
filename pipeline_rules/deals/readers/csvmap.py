"""CSV exports read through a mapping file: a CRM's columns and stage names in, deal records out.

A mapping (YAML, checked against ``schemas/mapping.schema.json``) describes one of two layouts:

* ``changelog`` — one row per change of a deal (a stage change, a new owner, a loss reason), in
  any order. Rows are grouped by deal in memory, because exports are rarely sorted by deal; each
  deal then replays its rows in time order (ties keep file order). Deals come out in the order
  they first appear. ``first_stage`` names the stage deals begin in when the log has no row
  entering it (a deal whose first logged stage is another passed through it undated).
* ``wide`` — one row per deal with a date column per stage; streamed row by row. A ``closed``
  column dates whichever stage without a column of its own the deal is in now (one close date
  for won and lost), and ``first_stage`` names the stage deals begin in when the export gives
  no date for it.

Either layout can look values up in other CSV files (``joins``: owner -> manager, account ->
segment) and take a deal's tasks, events and pauses from their own CSV files keyed by deal id.

Nothing in the CSV stops the run: a bad row or deal becomes a
:class:`~pipeline_rules.deals.model.Record`
with ``error`` set and its ``file:line`` origin. Only an unreadable file (``ReadError``) or a
mapping that does not fit the file (:class:`MappingError`) raise.
"""

from __future__ import annotations

import csv
import heapq
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from pipeline_rules import i18n
from pipeline_rules.deals.model import Record
from pipeline_rules.deals.readers import InputError
from pipeline_rules.deals.readers.jsonl import open_binary
from pipeline_rules.ruleset.loader import Document, ReadError, load_document, read_source
from pipeline_rules.ruleset.problems import DocumentError
from pipeline_rules.ruleset.source import Position, join
from pipeline_rules.time.timezones import TimezoneError, get_zone

FORMATS = ("changelog", "wide")
ATTRIBUTES = ("source", "owner", "manager")
_FORMAT_KEYS = {
    "changelog": frozenset({"time", "kind", "value", "changes", "first_stage",
                            "first_stage_warnings"}),
    "wide": frozenset({"stage", "columns", "fields", "stage_dates", "closed", "first_stage",
                       "first_stage_warnings"}),
}
#: Why a key of one format means nothing in the other, where a person could expect it to.
_WHY_NOT = {
    "closed": "in a change log each row that enters a stage has its own time (the row entering "
              "won or lost dates the close), so there is no close-date column to name; remove "
              "'closed' and list the close under 'changes:' (or map its value under 'stages:')",
}
#: The side files a deal's lists come from, and the columns each reads (key: required).
SIDE_FILES: dict[str, dict[str, bool]] = {
    "tasks": {"deal": True, "id": False, "due": False, "done": False},
    "events": {"deal": True, "type": True, "at": True},
    "pauses": {"deal": True, "from": True, "to": False, "reason": True},
}
#: Time directives of strptime: a format without any of them reads dates only.
_TIME_DIRECTIVES = ("%H", "%I", "%M", "%S", "%p", "%X", "%c", "%T", "%R", "%f")


class Note(i18n.Message):
    """A line about a whole input for a person: its English text, and the message it is, to be
    said in another language (:meth:`said`)."""

    def said(self, lang: str) -> str:
        """The note in ``lang``."""
        return self.render(lang)


class MappingError(InputError):
    """A broken mapping, or one that does not fit the CSV; the message starts ``file:line:col:``."""


def _said(at: str, entry: str, /, **args: object) -> i18n.Message:
    """``at``: the message of catalog entry ``entry``."""
    return i18n.Message("csv.at", {"at": at, "message": i18n.Message(entry, args)})


def _wrong(at: str, entry: str, args: Mapping[str, object] | None = None, /,
           **more: object) -> MappingError:
    """The error ``at`` a place (``file:line:col``, ``file:line`` or a file), said by catalog
    entry ``entry`` with ``args`` and ``more``."""
    said = i18n.Message(entry, {**(args or {}), **more})
    return MappingError(i18n.Message("csv.at", {"at": at, "message": said}))


class Column(NamedTuple):
    """A CSV column the mapping names, and where the mapping names it (``map.yaml:4:7``)."""

    name: str
    where: str


@dataclass(frozen=True)
class Change:
    """What a change-log row of one kind does to its deal (nothing at all: the kind is ignored)."""

    stage_from_value: bool = False  # the value is a CRM stage, mapped through ``stages``
    stage: str | None = None  # a ruleset stage entered whatever the value
    attribute: str | None = None  # source, owner or manager set to the value
    field: str | None = None  # a deal field set to the value


@dataclass(frozen=True)
class Join:
    """A lookup in another CSV file: the deal value ``by`` (an attribute or a field) matched
    against column ``key`` of ``file``, and the values ``take`` copies onto the deal."""

    file: str
    where: str  # the mapping's position of this join
    by: str
    key: Column
    take: tuple[tuple[str, Column], ...]


@dataclass(frozen=True)
class SideFile:
    """A CSV file of one of a deal's lists (tasks, events, pauses), keyed by deal id."""

    kind: str
    file: str
    where: str
    columns: Mapping[str, Column]
    time_format: str | None = None


STAGE_CHANGE = Change(stage_from_value=True)
IGNORE = Change()
_WORDS = {"stage": STAGE_CHANGE, "ignore": IGNORE,
          **{name: Change(attribute=name) for name in ATTRIBUTES}}


@dataclass(frozen=True)
class CsvMapping:
    """A loaded mapping file: the layout, the columns it names and how values translate."""

    source: str
    format: str
    deal: Column
    time: Column | None = None
    time_format: str | None = None
    timezone: tzinfo | None = None
    kind: Column | None = None
    value: Column | None = None
    changes: Mapping[str, Change] = field(default_factory=dict)
    stages: Mapping[str, str] | None = None  # None: CRM values are the ruleset's stage ids
    stage: Column | None = None
    columns: Mapping[str, Column] = field(default_factory=dict)
    fields: Mapping[str, Column] = field(default_factory=dict)
    stage_dates: tuple[tuple[str, Column], ...] = ()
    delimiter: str | None = None
    closed: Column | None = None
    first_stage: str | None = None
    first_stage_warnings: str = "summary"
    joins: tuple[Join, ...] = ()
    side_files: tuple[SideFile, ...] = ()

    def named_columns(self) -> list[Column]:
        """Every column of the deals file the mapping reads, in the order of its keys."""
        found = [self.deal, self.time, self.kind, self.value, self.stage,
                 *self.columns.values(), *self.fields.values(),
                 *(column for _, column in self.stage_dates), self.closed]
        return [column for column in found if column is not None]

    def stage_for(self, value: str) -> str | None:
        """The ruleset stage id a CRM stage value maps to, or None when it is not mapped."""
        if self.stages is None:
            return value or None
        return self.stages.get(value)


# --- loading the mapping file ------------------------------------------------------------------


def load_mapping(path: str | Path) -> CsvMapping:
    """Read, validate and check a mapping file; raise :class:`MappingError` with a position."""
    source = read_source(path)
    name = source.name
    try:
        document = load_document(source)
    except DocumentError as err:
        where = err.problem.position or Position(1, 1)
        raise _wrong(f"{name}:{where.line}:{where.column}", err.problem.message,
                     err.problem.args) from None
    for rule, problem in document.problems:
        where = problem.position or Position(1, 1)
        # The catalog's duplicate-key text says the first value is used; here nothing is used.
        at = f"{name}:{where.line}:{where.column}"
        if rule == "duplicate-key":
            raise _wrong(at, "mapping.twice", key=problem.args["key"], line=problem.args["line"])
        raise _wrong(at, problem.message, problem.args)
    data = document.data
    if not isinstance(data, dict):
        raise _wrong(f"{name}:1:1", "mapping.not-a-mapping")
    _check_schema(document, data)
    return _build(document, data)


def _at(document: Document, pointer: str, key: bool = False) -> str:
    """``file:line:column`` of the node (or its key) at ``pointer``."""
    positions = document.positions
    where = positions.key(pointer) if key else positions.value(pointer)
    return f"{document.source.name}:{where.line}:{where.column}"


def _check_schema(document: Document, data: dict[str, Any]) -> None:
    from pipeline_rules.ruleset.schema import validate

    problems = validate(data, "mapping")
    if not problems:
        return
    positions = document.positions

    def place(problem: Any) -> Position:
        return problem.position or (positions.key(problem.path) if problem.at_key
                                    else positions.value(problem.path))

    # The one nearest the top of the file: the first thing the user would fix reading down.
    first = min(problems, key=place)
    where = place(first)
    raise _wrong(f"{document.source.name}:{where.line}:{where.column}", first.message,
                 first.args)


def _build(document: Document, data: dict[str, Any]) -> CsvMapping:
    kind = str(data["format"])
    for key in data:
        if key in _FORMAT_KEYS[kind]:
            continue
        for other, keys in _FORMAT_KEYS.items():
            if other != kind and key in keys:
                at = _at(document, join("", key), key=True)
                if key in _WHY_NOT and kind == "changelog":
                    raise _wrong(at, "mapping.other-format-why", key=key, other=other, kind=kind,
                                 why=i18n.Message(f"mapping.why-not.{key}", {}))
                raise _wrong(at, "mapping.other-format", key=key, other=other, kind=kind)

    def column(value: object, pointer: str) -> Column | None:
        return None if value is None else Column(str(value), _at(document, pointer))

    def columns(key: str) -> dict[str, Column]:
        return {str(name): Column(str(value), _at(document, join(f"/{key}", name)))
                for name, value in (data.get(key) or {}).items()}

    zone = None
    if "timezone" in data:
        try:
            zone = get_zone(data["timezone"])
        except TimezoneError as err:
            raise _wrong(_at(document, "/timezone"), "mapping.as-is", text=err.message) from None
    time_format = data.get("time_format")
    if time_format is not None:
        _check_time_format(str(time_format), _at(document, "/time_format"))
    delimiter = data.get("delimiter")
    if delimiter is not None and len(delimiter) != 1:
        raise _wrong(_at(document, "/delimiter"), "mapping.delimiter", got=repr(delimiter))
    stages = data.get("stages")
    if stages is not None:
        for crm, target in stages.items():
            _check_stage_id(target, _at(document, join("/stages", crm)))
    changes = {str(k): _change(v, _at(document, join("/changes", k)))
               for k, v in (data.get("changes") or {}).items()}
    deal = Column(str(data["deal"]), _at(document, "/deal"))  # required by the schema
    mapping = CsvMapping(
        source=document.source.name, format=kind, deal=deal,
        time=column(data.get("time"), "/time"),
        time_format=None if time_format is None else str(time_format), timezone=zone,
        kind=column(data.get("kind"), "/kind"), value=column(data.get("value"), "/value"),
        changes=changes,
        stages=None if stages is None else {str(k): str(v) for k, v in stages.items()},
        stage=column(data.get("stage"), "/stage"),
        columns=columns("columns"), fields=columns("fields"),
        stage_dates=tuple(columns("stage_dates").items()),
        delimiter=delimiter,
        closed=column(data.get("closed"), "/closed"),
        first_stage=None if data.get("first_stage") is None else str(data["first_stage"]),
        first_stage_warnings=str(data.get("first_stage_warnings", "summary")),
        joins=tuple(_join(document, i, item) for i, item in enumerate(data.get("joins") or ())),
        side_files=tuple(_side_file(document, kind, data[kind]) for kind in SIDE_FILES
                         if kind in data),
    )
    if mapping.first_stage is not None:
        _check_stage_id(mapping.first_stage, _at(document, "/first_stage"))
        if any(stage == mapping.first_stage for stage, _ in mapping.stage_dates):
            raise _wrong(_at(document, "/first_stage"), "mapping.first-stage-dated",
                         stage=mapping.first_stage)
    if mapping.closed is not None and mapping.stage is None:
        raise _wrong(_at(document, "/closed", key=True), "mapping.closed-needs-stage")
    for stage, _ in mapping.stage_dates:
        _check_stage_id(stage, _at(document, join("/stage_dates", stage), key=True))
    if mapping.changes and not any(c.stage_from_value or c.stage for c in changes.values()):
        raise _wrong(_at(document, "/changes"), "mapping.no-stage-change")
    if kind == "wide" and stages is not None and mapping.stage is None:
        raise _wrong(_at(document, "/stages", key=True), "mapping.stages-need-stage")
    return mapping


def _relative(document: Document, name: str) -> str:
    """A file named in the mapping: relative names are relative to the mapping's folder."""
    path = Path(name)
    return str(path if path.is_absolute() else Path(document.source.name).parent / path)


def _join(document: Document, index: int, item: Mapping[str, Any]) -> Join:
    """One entry of ``joins`` (its shape checked by the schema)."""
    pointer = f"/joins/{index}"
    ((by, key),) = item["on"].items()  # the schema allows exactly one pair
    take = tuple((str(name), Column(str(value), _at(document, join(f"{pointer}/take", name))))
                 for name, value in item["take"].items())
    if by in dict(take):
        raise _wrong(_at(document, join(f"{pointer}/take", by), key=True), "mapping.join-sets-key",
                     by=by)
    return Join(_relative(document, str(item["file"])), _at(document, pointer), str(by),
                Column(str(key), _at(document, join(f"{pointer}/on", by))), take)


def _side_file(document: Document, kind: str, item: Mapping[str, Any]) -> SideFile:
    """The ``tasks``, ``events`` or ``pauses`` entry (its shape checked by the schema)."""
    pointer = f"/{kind}"
    columns = {name: Column(str(item[name]), _at(document, f"{pointer}/{name}"))
               for name in SIDE_FILES[kind] if item.get(name) is not None}
    time_format = item.get("time_format")
    if time_format is not None:
        _check_time_format(str(time_format), _at(document, f"{pointer}/time_format"))
    return SideFile(kind, _relative(document, str(item["file"])), _at(document, pointer),
                    columns, None if time_format is None else str(time_format))


def _check_stage_id(value: object, where: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise _wrong(where, "mapping.stage-id", got=repr(value))


def _check_time_format(text: str, where: str) -> None:
    # strptime only complains about a bad directive when used, so try it on a sample time.
    sample = datetime(2024, 12, 31, 23, 59, 58, tzinfo=UTC)
    if "%" not in text:
        raise _wrong(where, "mapping.no-directive", text=text)
    try:
        datetime.strptime(sample.strftime(text), text)
    except ValueError as err:
        raise _wrong(where, "mapping.strptime", text=text, error=str(err)) from None


def _change(value: object, where: str) -> Change:
    if isinstance(value, str):
        return _WORDS[value]  # the schema allows only these words
    assert isinstance(value, dict)
    stage = value.get("stage")
    if stage is not None:
        _check_stage_id(stage, where)
    name = value.get("field")
    if name is not None and not str(name).strip():
        raise _wrong(where, "mapping.field-name", got=repr(name))
    return Change(stage=None if stage is None else str(stage),
                  field=None if name is None else str(name))


# --- reading the CSV ---------------------------------------------------------------------------


def quoted(name: str) -> str:
    """A column name or cell value in quotes that stay readable (CRM headers contain ' quotes)."""
    return f'"{name}"' if "'" in name else f"'{name}'"


def parse_cell_time(text: str, time_format: str | None, zone: tzinfo) -> datetime:
    """A time cell as an aware datetime (naive times are in ``zone``); ValueError if unreadable."""
    moment = (datetime.strptime(text, time_format) if time_format
              else datetime.fromisoformat(text))
    if moment.tzinfo is None or moment.utcoffset() is None:
        moment = moment.replace(tzinfo=zone)
    return moment


def read_csv(path: str, mapping: CsvMapping, zone: tzinfo,
             notes: list[str] | None = None) -> Iterator[Record]:
    """Deal records from a CSV file (``-`` is stdin) read through ``mapping``; what a person
    should know about the whole file (deals in an undated first stage) is added to ``notes``."""
    name = "<stdin>" if path == "-" else path
    delimiter = mapping.delimiter or ("\t" if name.lower().endswith(".tsv") else ",")
    zone = mapping.timezone or zone
    # The lookups and side files are read whole first: their problems stop the run before any
    # deal is judged, with their file:line.
    lookups = [_load_join(item, mapping, zone) for item in mapping.joins]
    sides = _Sides.load(mapping, zone)
    with open_binary(path) as stream:
        rows = _rows(stream, name, delimiter)
        header = _header(rows, name, mapping)
        table = _Table(name, header, mapping, zone)
        records = _read_wide(rows, table) if mapping.format == "wide" \
            else _read_changelog(rows, table)
        for record in records:
            yield _complete(record, lookups, sides)
    yield from sides.unclaimed()
    if notes is None:
        return
    for times in (table.times, *sides.times):
        notes.extend(times.mixed.values())
    if table.undated:
        notes.append(Note("csv.undated-one" if table.undated == 1 else "csv.undated-many", {
            "deals": i18n.Plural(table.undated, "deal"), "stage": mapping.first_stage,
            "source": mapping.source}))


def sample_rows(path: str, mapping: CsvMapping,
                limit: int) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header of a CSV sample and up to ``limit`` of its rows with their lines (ReadError
    if it cannot be read)."""
    delimiter = mapping.delimiter or ("\t" if path.lower().endswith(".tsv") else ",")
    with open_binary(path) as stream:
        rows = _rows(stream, path, delimiter)
        first = next(rows, None)
        if first is None:
            raise ReadError(_said(path, "csv.empty-file"))
        return first.cells, [(row.line, row.cells) for row in islice(rows, limit)]


class _Row(NamedTuple):
    """A CSV row: the line it starts on (a quoted cell may span lines) and its trimmed cells."""

    line: int
    cells: list[str]
    error: str | None = None  # why the csv module could not split it


def _unreadable(err: csv.Error) -> str:
    """Why the csv module could not split a row, as a catalog message."""
    limit = re.fullmatch(r"field larger than field limit \((\d+)\)", str(err))
    if limit is not None:  # the one csv.Error a well-formed export can meet
        return i18n.Message("csv.too-large", {"limit": int(limit[1])})
    return i18n.Message("csv.unreadable-row", {"error": str(err)})


def _rows(stream: BinaryIO, name: str, delimiter: str) -> Iterator[_Row]:
    """CSV rows that have a non-empty cell, with their lines; bad bytes raise ReadError."""
    reader = csv.reader(_lines(stream, name), delimiter=delimiter)
    start = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            # An unparseable row (e.g. a cell over the csv module's size limit): keep going.
            yield _Row(start, [], _unreadable(err))
            start = reader.line_num + 1
            continue
        trimmed = [cell.strip() for cell in cells]
        # Spreadsheets pad exports with rows of empty cells (",,,"): skipped like blank lines.
        if any(trimmed):
            yield _Row(start, trimmed)
        start = reader.line_num + 1


def _lines(stream: BinaryIO, name: str) -> Iterator[str]:
    # Decoded line by line (not through TextIOWrapper) so that a bad byte is reported by line.
    for number, raw in enumerate(stream, start=1):
        try:
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as err:
            raise ReadError(_said(f"{name}:{number}", "csv.not-utf8",
                                  byte=f"0x{raw[err.start]:02x}")) from None


def _header(rows: Iterator[_Row], name: str, mapping: CsvMapping) -> list[str]:
    first = next(rows, None)
    if first is None:
        raise ReadError(_said(name, "csv.empty-file"))
    header = first.cells
    for column in mapping.named_columns():
        if column.name not in header:
            raise _wrong(column.where, "csv.not-in-header", column=quoted(column.name),
                         file=name, columns=", ".join(map(quoted, header)))
    return header


class _Times:
    """Time cells read the mapping's way. Read as ISO 8601, a column's first cell decides its
    kind — dates only, or times of day — and a cell of the other kind is refused (a date alone
    would be read as midnight, hours away from the times it is compared with); each column
    that mixes them is summed up once."""

    def __init__(self, name: str, time_format: str | None, zone: tzinfo) -> None:
        self.name = name
        self.time_format = time_format
        self.zone = zone
        self.first: dict[str, tuple[bool, int, str]] = {}  # column -> (date only, line, text)
        self.refused: dict[str, tuple[int, int, str]] = {}  # column -> (count, line, text)

    def read(self, text: str, column: str, line: int) -> datetime:
        """A time cell as an aware datetime; ValueError with a readable message otherwise."""
        expected = i18n.Message("csv.expected-format", {"format": self.time_format}) \
            if self.time_format else i18n.Message("csv.expected-iso", {})
        if not text:
            raise ValueError(i18n.Message("csv.empty-cell", {"expected": expected}))
        try:
            moment = parse_cell_time(text, self.time_format, self.zone)
        except ValueError:
            raise ValueError(i18n.Message("csv.not-time", {"text": text,
                                                           "expected": expected})) from None
        if self.time_format is None:
            # A strptime format reads one shape; ISO reads both.
            dated = _date_only(text)
            first = self.first.setdefault(column, (dated, line, text))
            if first[0] != dated:
                count, at, example = self.refused.get(column, (0, line, text))
                self.refused[column] = (count + 1, at, example)
                raise ValueError(i18n.Message("csv.odd-kind", {
                    "text": text, "kind": i18n.Term(("csv.a-date" if dated else "csv.a-time",)),
                    "held": i18n.Term(("csv.dates-only" if first[0] else "csv.times-of-day",)),
                    "line": first[1], "first": first[2]}))
        return moment

    @property
    def mixed(self) -> dict[str, Note]:
        """Per column that mixes dates and times: one line saying what was refused."""
        said = {}
        for column, (count, line, text) in self.refused.items():
            dated, first_line, first_text = self.first[column]
            kinds = (i18n.Term(("csv.a-date",)), i18n.Term(("csv.a-time",)))
            said[column] = Note("csv.mixed-one" if count == 1 else "csv.mixed-many", {
                "column": quoted(column), "file": self.name, "first_line": first_line,
                "first_text": first_text, "first_kind": kinds[not dated],
                "cells": i18n.Plural(count, "cell"), "other_kind": kinds[dated], "line": line,
                "text": text})
        return said

    def is_date(self, text: str) -> bool:
        """Whether a readable cell is a date without a time of day."""
        if self.time_format is not None:
            return not any(d in self.time_format for d in _TIME_DIRECTIVES)
        return _date_only(text)


def _date_only(text: str) -> bool:
    """Whether an ISO 8601 cell is a date without a time of day."""
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


@dataclass
class _Table:
    """What reading rows needs: the file name, column positions, mapping and time zone (and,
    mutable, what one read counts)."""

    name: str
    header: list[str]
    mapping: CsvMapping
    zone: tzinfo
    times: _Times = field(init=False)
    undated: int = 0  # deals still in the undated first stage

    def __post_init__(self) -> None:
        self.times = _Times(self.name, self.mapping.time_format, self.zone)

    def index(self, column: Column) -> int:
        """The position of a column in the header (the first one of that name)."""
        return self.header.index(column.name)

    def origin(self, line: int) -> str:
        """A record origin such as ``deals.csv:17``."""
        return f"{self.name}:{line}"

    def row_problem(self, row: _Row) -> str | None:
        """Why a row cannot be read at all, or None."""
        if row.error is not None:
            return row.error
        if len(row.cells) != len(self.header):
            return i18n.Message("csv.cells", {"cells": len(row.cells),
                                               "header": len(self.header)})
        return None

    def time(self, text: str, column: str = "", line: int = 0) -> datetime:
        """A time cell of ``column`` as an aware datetime; ValueError with a readable message
        otherwise."""
        return self.times.read(text, column, line)


def _deal_cell(table: _Table, row: _Row) -> str | None:
    index = table.index(table.mapping.deal)
    value = row.cells[index] if index < len(row.cells) else ""
    return value or None


def _record(deal: str, stage: str | None, attributes: Mapping[str, str | None],
            fields: Mapping[str, str], history: Iterable[tuple[datetime, str]]) -> dict[str, Any]:
    return {"id": deal, "stage": stage,
            **{name: attributes.get(name) for name in ATTRIBUTES},
            "fields": dict(fields),
            "history": [{"stage": s, "at": at.isoformat()} for at, s in history],
            "tasks": [], "events": []}


# --- change log --------------------------------------------------------------------------------


class _Step(NamedTuple):
    """One kept change-log row: when, what it does, and its value (a ruleset stage if mapped)."""

    at: datetime
    change: Change
    value: str


@dataclass
class _Deal:
    """The rows of one deal gathered so far (mutable while the file is read)."""

    line: int
    steps: list[_Step] = field(default_factory=list)
    error: str | None = None
    whole_days: bool = True  # every time so far is a date


def _read_changelog(rows: Iterator[_Row], table: _Table) -> Iterator[Record]:
    mapping = table.mapping
    assert mapping.time is not None and mapping.value is not None  # required by the schema
    kind = mapping.kind
    kind_at = 0 if kind is None else table.index(kind)
    time_at, value_at = table.index(mapping.time), table.index(mapping.value)
    deals: dict[str, _Deal] = {}
    row_errors: list[tuple[int, Record]] = []
    for row in rows:
        deal_id = _deal_cell(table, row)
        problem = table.row_problem(row)
        if problem is None and deal_id is None:
            problem = i18n.Message("csv.no-deal-id", {"column": quoted(mapping.deal.name)})
        change = STAGE_CHANGE
        if problem is None and kind is not None:
            what = row.cells[kind_at]
            found = mapping.changes.get(what)
            if found is None:
                problem = i18n.Message("csv.unknown-change", {
                    "kind": what, "column": quoted(kind.name), "mapping": mapping.source})
            else:
                change = found
        if problem is not None:
            row_errors.append((row.line, Record(table.origin(row.line), error=problem,
                                                deal=deal_id)))
            continue
        assert deal_id is not None
        deal = deals.get(deal_id)
        if deal is None:
            deal = deals[deal_id] = _Deal(row.line)
        if deal.error is not None or change is IGNORE:
            continue
        deal.error = _add_step(deal, row, change, table, (mapping.time, time_at),
                               (mapping.value, value_at))
        if deal.error is not None:
            deal.steps = []  # the deal is reported as bad: free its rows now
    records = ((deal.line, _changelog_record(table, deal_id, deal))
               for deal_id, deal in deals.items())
    # Deals and unreadable rows together, in the order they first appear in the file.
    for _, record in heapq.merge(records, row_errors, key=lambda item: item[0]):
        yield record


def _add_step(deal: _Deal, row: _Row, change: Change, table: _Table,
              time: tuple[Column, int], value: tuple[Column, int]) -> str | None:
    """Keep one row of a deal; return why the whole deal is unusable, or None."""
    try:
        at = table.time(row.cells[time[1]], time[0].name, row.line)
    except ValueError as err:
        return i18n.Message("csv.line-column", {"line": row.line,
                                                 "column": quoted(time[0].name),
                                                 "problem": err.args[0]})
    deal.whole_days = deal.whole_days and table.times.is_date(row.cells[time[1]])
    text = row.cells[value[1]]
    if change.stage_from_value:
        stage = table.mapping.stage_for(text)
        if stage is None:
            return i18n.Message("csv.line-unknown-stage", {
                "line": row.line, "stage": text, "column": quoted(value[0].name),
                "mapping": table.mapping.source})
        text = stage
    deal.steps.append(_Step(at, change, text))
    return None


def _changelog_record(table: _Table, deal_id: str, deal: _Deal) -> Record:
    origin = table.origin(deal.line)
    if deal.error is not None:
        return Record(origin, error=deal.error, deal=deal_id)
    attributes: dict[str, str | None] = {}
    fields: dict[str, str] = {}
    history: list[tuple[datetime, str]] = []
    for step in sorted(deal.steps, key=lambda s: s.at):  # stable: ties keep file order
        change = step.change
        if change.stage_from_value:
            history.append((step.at, step.value))
        elif change.stage is not None:
            history.append((step.at, change.stage))
        if change.attribute is not None:
            attributes[change.attribute] = step.value or None
        if change.field is not None:
            if step.value:
                fields[change.field] = step.value
            else:
                fields.pop(change.field, None)  # an emptied field is unset, not ""
    stage = history[-1][1] if history else None
    start = _undated_start(table, stage, history)
    if start is not None and stage is None:
        stage = start
    record = _record(deal_id, stage, attributes, fields, history)
    if start is not None:
        record["undated_start"] = start
    if history and deal.whole_days:
        record["whole_days"] = True
    return Record(origin, record, deal=deal_id)


# --- wide table --------------------------------------------------------------------------------


def _read_wide(rows: Iterator[_Row], table: _Table) -> Iterator[Record]:
    mapping = table.mapping
    stage_at = 0 if mapping.stage is None else table.index(mapping.stage)
    attribute_at = {name: table.index(column) for name, column in mapping.columns.items()}
    field_at = {name: table.index(column) for name, column in mapping.fields.items()}
    date_at = [(stage, column.name, table.index(column)) for stage, column in mapping.stage_dates]
    dated = {stage for stage, _ in mapping.stage_dates}
    closed_at = None if mapping.closed is None else table.index(mapping.closed)
    dated_at = [index for _, _, index in date_at] + ([] if closed_at is None else [closed_at])
    for row in rows:
        origin = table.origin(row.line)
        problem = table.row_problem(row)
        deal_id = _deal_cell(table, row)
        if problem is None and deal_id is None:
            problem = i18n.Message("csv.no-deal-id", {"column": quoted(mapping.deal.name)})
        if problem is not None:
            yield Record(origin, error=problem, deal=deal_id)
            continue
        assert deal_id is not None
        history: list[tuple[datetime, str]] = []
        for stage, column, index in date_at:
            text = row.cells[index]
            if not text:
                continue
            try:
                history.append((table.time(text, column, row.line), stage))
            except ValueError as err:
                problem = i18n.Message("csv.in-column", {"column": quoted(column),
                                                         "problem": err.args[0]})
                break
        current = None
        if problem is None and mapping.stage is not None and row.cells[stage_at]:
            text = row.cells[stage_at]
            current = mapping.stage_for(text)
            if current is None:
                problem = i18n.Message("csv.unknown-stage", {
                    "stage": text, "column": quoted(mapping.stage.name),
                    "mapping": mapping.source})
        if problem is None and current is not None and current not in dated:
            problem = _closed(table, row, closed_at, current, history)
        if problem is not None:
            yield Record(origin, error=problem, deal=deal_id)
            continue
        attributes = {name: row.cells[index] or None for name, index in attribute_at.items()}
        fields = {name: row.cells[index] for name, index in field_at.items() if row.cells[index]}
        whole_days = all(table.times.is_date(row.cells[i]) for i in dated_at if row.cells[i])
        yield Record(origin, _wide_record(table, deal_id, current, history, attributes, fields,
                                          whole_days), deal=deal_id)


def _wide_record(table: _Table, deal_id: str, current: str | None,
                 history: list[tuple[datetime, str]], attributes: Mapping[str, str | None],
                 fields: Mapping[str, str], whole_days: bool) -> dict[str, Any]:
    """The deal record of a wide row: its history in time order, its current stage (the
    latest dated one, else the undated start), and whether its times are dates."""
    history.sort(key=lambda item: item[0])  # stable: ties keep the mapping's order
    if current is None and history:
        current = history[-1][1]
    start = _undated_start(table, current, history)
    if start is not None and current is None:
        current = start
    record = _record(deal_id, current, attributes, fields, history)
    if start is not None:
        record["undated_start"] = start
    if whole_days and history:
        record["whole_days"] = True
    return record


def _closed(table: _Table, row: _Row, index: int | None, current: str,
            history: list[tuple[datetime, str]]) -> str | None:
    """Date the current stage from the ``closed`` column (one close date for every stage
    without a column of its own); return why the cell cannot be read, or None."""
    column = table.mapping.closed
    if column is None or index is None or current == table.mapping.first_stage \
            or not row.cells[index]:
        return None
    try:
        history.append((table.time(row.cells[index], column.name, row.line), current))
    except ValueError as err:
        return i18n.Message("csv.in-column", {"column": quoted(column.name),
                                               "problem": err.args[0]})
    return None


def _undated_start(table: _Table, current: str | None,
                   history: list[tuple[datetime, str]]) -> str | None:
    """The undated first stage a deal began in, if the mapping names one and it applies."""
    first = table.mapping.first_stage
    if first is None:
        return None
    if history:
        # The deal passed through it before its first date, unless (a change log) it was
        # logged entering it.
        return None if history[0][1] == first else first
    if current not in (None, first):
        return None  # a later stage without a date: the evaluator says so
    if table.mapping.first_stage_warnings == "each":
        return None  # a deal in its stage without a history: warned about one by one
    table.undated += 1
    return first


# --- joins and side files ------------------------------------------------------------------------


def _side_rows(path: str, mapping: CsvMapping, where: str,
               wanted: Iterable[Column]) -> tuple[dict[str, int], Iterator[_Row]]:
    """The header positions of ``wanted`` columns in a side CSV file, and its rows."""
    delimiter = mapping.delimiter or ("\t" if path.lower().endswith(".tsv") else ",")
    try:
        stream = open(path, "rb")  # noqa: SIM115 - closed when the rows are spent
    except OSError as err:
        raise ReadError(_said(where, "csv.cannot-read", file=path,
                              error=err.strerror or err)) from None

    def rows() -> Iterator[_Row]:
        with stream:
            yield from _rows(stream, path, delimiter)

    found = rows()
    first = next(found, None)
    if first is None:
        raise ReadError(_said(path, "csv.empty-file"))
    positions = {}
    for column in wanted:
        if column.name not in first.cells:
            raise _wrong(column.where, "csv.side-not-in-header", column=quoted(column.name),
                         file=path, columns=", ".join(map(quoted, first.cells)))
        positions[column.name] = first.cells.index(column.name)
    width = len(first.cells)

    def checked() -> Iterator[_Row]:
        # A row that cannot be split into the header's cells keeps its line and says why.
        for row in found:
            if row.error is not None or len(row.cells) != width:
                yield row._replace(error=row.error or i18n.Message(
                    "csv.cells", {"cells": len(row.cells), "header": width}))
            else:
                yield row

    return positions, checked()


class _Lookup(NamedTuple):
    """A join read whole: its key values to the values it gives."""

    join: Join
    values: dict[str, dict[str, str]]


def _load_join(item: Join, mapping: CsvMapping, zone: tzinfo) -> _Lookup:
    """Read a lookup file; duplicate keys and empty cells stop the run with their line."""
    positions, rows = _side_rows(item.file, mapping, item.where,
                                 [item.key, *(column for _, column in item.take)])
    values: dict[str, dict[str, str]] = {}
    lines: dict[str, int] = {}
    for row in rows:
        if row.error is not None:  # a lookup with a broken row cannot be trusted
            raise _wrong(f"{item.file}:{row.line}", "mapping.as-is", text=row.error)
        key = row.cells[positions[item.key.name]]
        if not key:
            raise _wrong(f"{item.file}:{row.line}", "csv.lookup-no-key",
                         column=quoted(item.key.name))
        if key in lines:
            raise _wrong(f"{item.file}:{row.line}", "csv.lookup-twice", key=quoted(key),
                         column=quoted(item.key.name), line=lines[key])
        lines[key] = row.line
        taken = {}
        for name, column in item.take:
            cell = row.cells[positions[column.name]]
            if not cell:
                raise _wrong(f"{item.file}:{row.line}", "csv.lookup-empty",
                             column=quoted(column.name), key=quoted(key), name=name)
            taken[name] = cell
        values[key] = taken
    return _Lookup(item, values)


class _Sides:
    """The tasks, events and pauses of the side files, grouped by deal id; the rows no deal
    of the deals file claims are reported at the end."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, list[dict[str, Any]]]] = {}
        self.lines: dict[str, tuple[str, int]] = {}  # deal id -> its first side row
        self.problems: dict[str, str] = {}  # deal id -> why its side rows cannot be used
        self.times: list[_Times] = []
        self.broken: list[Record] = []  # side rows that could not be split into cells

    @classmethod
    def load(cls, mapping: CsvMapping, zone: tzinfo) -> _Sides:
        """Read every side file the mapping names."""
        sides = cls()
        for side in mapping.side_files:
            sides._read(side, mapping, zone)
        return sides

    def _read(self, side: SideFile, mapping: CsvMapping, zone: tzinfo) -> None:
        positions, rows = _side_rows(side.file, mapping, side.where, side.columns.values())
        times = _Times(side.file, side.time_format or mapping.time_format, zone)
        self.times.append(times)
        for row in rows:
            if row.error is not None:
                # Whose row it is may be unreadable: reported on its own, at its line.
                self.broken.append(Record(f"{side.file}:{row.line}", error=row.error))
                continue

            def cell(name: str, cells: list[str] = row.cells) -> str:
                column = side.columns.get(name)
                return "" if column is None else cells[positions[column.name]]
            deal = cell("deal")
            if not deal:
                self.broken.append(Record(f"{side.file}:{row.line}", error=i18n.Message(
                    "csv.no-deal-id", {"column": quoted(side.columns['deal'].name)})))
                continue
            self.lines.setdefault(deal, (side.file, row.line))
            try:
                item = _side_item(side.kind, cell, times, row.line, side.columns)
            except ValueError as err:
                self.problems.setdefault(deal, i18n.Message("csv.side-row", {
                    "file": side.file, "line": row.line, "problem": err.args[0]}))
                continue
            self.items.setdefault(deal, {}).setdefault(side.kind, []).append(item)

    def claim(self, deal: str) -> tuple[dict[str, list[dict[str, Any]]], str | None]:
        """A deal's lists and the first problem of its side rows (each claimed once)."""
        self.lines.pop(deal, None)
        return self.items.pop(deal, {}), self.problems.pop(deal, None)

    def unclaimed(self) -> Iterator[Record]:
        """A bad record for each deal id the side files name and the deals file does not, and
        for each side row that could not be read."""
        yield from self.broken
        for deal, (name, line) in self.lines.items():
            yield Record(f"{name}:{line}", error=i18n.Message("csv.no-such-deal",
                                                              {"deal": deal}), deal=deal)


_TRUE = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False, "": False}


def _side_item(kind: str, cell: Any, times: _Times, line: int,
               columns: Mapping[str, Column]) -> dict[str, Any]:
    """One side row as the deal record's list item; ValueError naming the bad column."""
    def time(name: str, required: bool) -> str | None:
        text = cell(name)
        if not text and not required:
            return None
        column = columns[name].name
        try:
            return times.read(text, column, line).isoformat()
        except ValueError as err:
            raise ValueError(i18n.Message("csv.in-column", {"column": quoted(column),
                                                            "problem": err.args[0]})) from None

    if kind == "tasks":
        done = cell("done").lower()
        if done not in _TRUE:
            raise ValueError(i18n.Message("csv.in-column", {
                "column": quoted(columns['done'].name),
                "problem": i18n.Message("csv.not-boolean", {"text": cell("done")})}))
        return {"id": cell("id") or None, "due": time("due", False), "done": _TRUE[done]}
    if kind == "events":
        return {"type": cell("type"), "at": time("at", True)}
    return {"from": time("from", True), "to": time("to", False), "reason": cell("reason")}


def _complete(record: Record, lookups: list[_Lookup], sides: _Sides) -> Record:
    """A read deal with its joins looked up and its side rows attached (or why not)."""
    data = record.data
    if record.deal is not None:
        lists, problem = sides.claim(record.deal)
    else:
        lists, problem = {}, None
    if not isinstance(data, dict):
        return record
    if problem is not None:
        return Record(record.origin, error=problem, deal=record.deal)
    fields = data["fields"]
    for lookup in lookups:
        item = lookup.join
        value = data.get(item.by) if item.by in ATTRIBUTES else fields.get(item.by)
        if value is None:
            continue  # nothing to look up by: nothing to fill in
        found = lookup.values.get(str(value))
        if found is None:
            return Record(record.origin, error=i18n.Message("csv.not-joined", {
                "by": item.by, "value": value, "column": quoted(item.key.name),
                "file": item.file, "where": item.where}), deal=record.deal)
        for name, text in found.items():
            if name in ATTRIBUTES:
                data[name] = text
            else:
                fields[name] = text
    for kind, items in lists.items():
        data[kind] = items
    return record


__all__ = ["Change", "Column", "CsvMapping", "Join", "MappingError", "SideFile", "load_mapping",
           "parse_cell_time", "quoted", "read_csv", "sample_rows"]
