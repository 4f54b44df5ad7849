"""Parquet in and out: deal records read from a file or a dataset of files, findings written.

Deals are the JSON shape of ``schemas/deal.schema.json`` laid out in columns (docs/scale.md):
scalar columns for ``id``, ``ruleset``, ``stage``, ``source``, ``owner`` and ``manager``;
``fields`` as a struct (a typed column per field), a map or a JSON text; ``history``, ``tasks``,
``events`` and ``pauses`` as ``list<struct>`` columns whose times are timestamps (or ISO 8601
text). A file is read one record batch at a time, only the columns a deal uses, so memory stays
flat whatever the file size; a directory is a dataset whose files, in path order, are its
partitions. Each record's origin is ``file:row`` (rows count from 1), the way a JSON Lines
record's is ``file:line``.

Times are handed to the evaluator as ISO 8601 text cast by Arrow in bulk, so a Parquet deal goes
through the same parser, and gives the same findings, as its JSON line: a timestamp with a time
zone keeps its instant, one without is read in the ruleset's zone, like a time written without
an offset.

Findings are written as one row each: the finding's fields as text (``at`` and ``due`` as in
JSON, with the ruleset zone's offset), ``details`` as JSON text, and the record they came from
(``input``, ``row``), so they can be joined back to the deals.
"""

from __future__ import annotations

import os
import re
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from itertools import islice
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline_rules.deals.model import Record
from pipeline_rules.deals.readers import InputError
from pipeline_rules.ruleset.loader import unreadable

#: Rows handed to the evaluator at a time: big enough for Arrow's bulk work to pay, small
#: enough that a batch's Python objects stay a few tens of megabytes.
BATCH_ROWS = 8192

#: The deal columns read (others are ignored, like unknown keys of a JSON deal).
DEAL_COLUMNS = ("id", "stage", "source", "owner", "manager", "fields", "history", "tasks",
                "events", "pauses")

_UTC = pa.timestamp("us", tz="UTC")
HISTORY_TYPE = pa.list_(pa.struct([("stage", pa.string()), ("at", _UTC),
                                   ("override", pa.string())]))
TASKS_TYPE = pa.list_(pa.struct([("id", pa.string()), ("due", _UTC), ("done", pa.bool_())]))
EVENTS_TYPE = pa.list_(pa.struct([("type", pa.string()), ("at", _UTC)]))
PAUSES_TYPE = pa.list_(pa.struct([("from", _UTC), ("to", _UTC), ("reason", pa.string())]))
_LISTS = {"history": HISTORY_TYPE, "tasks": TASKS_TYPE, "events": EVENTS_TYPE,
          "pauses": PAUSES_TYPE}
_TIMES = {"history": ("at",), "tasks": ("due",), "events": ("at",), "pauses": ("from", "to")}

#: Columns of a findings file, in the order of a finding's JSON keys, then where it came from.
FINDING_TEXT_COLUMNS = ("kind", "code", "rule", "deal", "stage", "severity", "at", "message",
                        "action", "notify", "channel", "due", "key", "ruleset", "details",
                        "input")
FINDINGS_SCHEMA = pa.schema([*((name, pa.string()) for name in FINDING_TEXT_COLUMNS),
                             ("row", pa.int64())])
_ACTION_KEYS = ("action", "notify", "channel", "due", "key")
#: Key of the findings file's metadata holding how many deal records were evaluated.
RECORDS_METADATA = "pipeline_rules.records"


class ColumnarError(InputError):
    """A Parquet input that cannot be read at all (missing, corrupt, no ``id`` column)."""


# -- finding the files -------------------------------------------------------------------------

def _visible(path: Path, root: Path) -> bool:
    # Writers keep temporaries and markers under '.'/'_' names (_SUCCESS, .part-0.tmp).
    return not any(part.startswith((".", "_")) for part in path.relative_to(root).parts)


def dataset_files(path: str) -> list[str]:
    """The Parquet files of a dataset directory in path order, or the one file given."""
    root = Path(path)
    if root.is_file():
        return [path]
    if not root.is_dir():
        raise ColumnarError(f"{path}: no such file or directory")
    found = sorted(str(p) for p in root.rglob("*.parquet")
                   if p.is_file() and _visible(p, root))
    if not found:
        raise ColumnarError(f"{path}: directory holds no .parquet file")
    return found


# -- reading deals -----------------------------------------------------------------------------

def _as_text(array: pa.Array) -> pa.Array:
    """The array with every timestamp or date inside it cast to ISO 8601 text."""
    kind = array.type
    if pa.types.is_timestamp(kind) and kind.tz is not None:
        # Arrow keeps instants in UTC; casting a zoned column to text looks the zone up per
        # value (30 times slower), so drop the zone and write the UTC offset once.
        text = array.cast(pa.timestamp(kind.unit)).cast(pa.string())
        return pc.binary_join_element_wise(text, "+00:00", "")
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        return array.cast(pa.string())
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        if array.offset:  # a slice: rebuilding it below needs its own buffers
            array = pa.concat_arrays([array])
        inner = array.values
        values = _as_text(inner)
        if values is inner:
            return array
        builder = pa.LargeListArray if pa.types.is_large_list(kind) else pa.ListArray
        return builder.from_arrays(array.offsets, values, mask=array.is_null())
    if pa.types.is_struct(kind):
        children = array.flatten()
        converted = [_as_text(child) for child in children]
        if all(new is old for new, old in zip(converted, children, strict=True)):
            return array
        names = [kind.field(i).name for i in range(kind.num_fields)]
        return pa.StructArray.from_arrays(converted, names, mask=array.is_null())
    return array


def _fields(value: object) -> object:
    """A deal's fields as a mapping: a struct's unset (null) fields dropped, a map's pairs
    gathered, a JSON text parsed."""
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return dict(value)
    if isinstance(value, str | bytes):
        return orjson.loads(value)
    return value


def batch_records(batch: pa.RecordBatch | pa.Table, source: str,
                  first_row: int = 1) -> list[Record]:
    """A record batch's rows as reader records, with origins ``source:row``."""
    arrays = [column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
              for column in batch.columns]
    columns = {name: _as_text(array) if name in _TIMES else array
               for name, array in zip(batch.schema.names, arrays, strict=True)}
    rows = pa.RecordBatch.from_pydict(columns).to_pylist()
    records = []
    for offset, data in enumerate(rows):
        origin = f"{source}:{first_row + offset}"
        if data.get("fields") is not None:
            try:
                data["fields"] = _fields(data["fields"])
            except orjson.JSONDecodeError as err:
                records.append(Record(origin, error=f"column 'fields': malformed JSON: {err}",
                                      deal=_deal_id(data)))
                continue
        records.append(Record(origin, data, deal=_deal_id(data)))
    return records


def _deal_id(data: Mapping[str, Any]) -> str | None:
    value = data.get("id")
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else None


def _open(path: str) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path)
    except (FileNotFoundError, IsADirectoryError) as err:
        raise unreadable(path, err) from None
    except (OSError, pa.ArrowException) as err:
        raise ColumnarError(f"{path}: not a readable Parquet file: {err}") from None


def file_batches(path: str, key: str = "ruleset",
                 batch_rows: int = BATCH_ROWS) -> Iterator[tuple[int, pa.RecordBatch]]:
    """A Parquet file's deal columns (and the ``key`` column naming rulesets), one record
    batch at a time, each with the number of its first row."""
    parquet = _open(path)
    names = parquet.schema_arrow.names
    if "id" not in names:
        raise ColumnarError(f"{path}: no 'id' column; columns: {', '.join(names)}")
    wanted = [name for name in names if name in DEAL_COLUMNS or name == key]
    first = 1
    try:
        for batch in parquet.iter_batches(batch_size=batch_rows, columns=wanted):
            yield first, batch
            first += batch.num_rows
    except (OSError, pa.ArrowException) as err:
        raise ColumnarError(f"{path}: cannot read row {first} on: {err}") from None


def read_parquet(path: str, key: str = "ruleset",
                 batch_rows: int = BATCH_ROWS) -> Iterator[Record]:
    """Deal records of a Parquet file or dataset, file by file in path order."""
    for file in dataset_files(path):
        for first, batch in file_batches(file, key, batch_rows):
            yield from batch_records(batch, file, first)


# -- writing deals -----------------------------------------------------------------------------

def _time(value: object) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def deals_table(deals: Iterable[Mapping[str, Any]], key: str | None = None,
                fields_type: pa.DataType | None = None) -> pa.Table:
    """Deal records (JSON shape, times with an offset) as a table in the layout this module
    reads; ``key`` adds the column naming each deal's ruleset; ``fields`` become a struct of
    ``fields_type`` (default: inferred from the deals)."""
    columns: dict[str, list[Any]] = {name: [] for name in DEAL_COLUMNS}
    rulesets: list[Any] = []
    for deal in deals:
        for name in ("id", "stage", "source", "owner", "manager", "fields"):
            columns[name].append(deal.get(name))
        for name, times in _TIMES.items():
            items = deal.get(name)
            columns[name].append(None if items is None else [
                {**item, **{t: _time(item.get(t)) for t in times}} for item in items])
        if key is not None:
            rulesets.append(deal.get(key))
    arrays = {name: pa.array(values, type=_LISTS.get(name, pa.string())
                             if name != "fields" else fields_type)
              for name, values in columns.items()}
    if key is not None:
        arrays = {"id": arrays.pop("id"), key: pa.array(rulesets, pa.string()), **arrays}
    return pa.table(arrays)


def write_deals(deals: Iterable[Mapping[str, Any]], path: str, key: str | None = None,
                fields_type: pa.DataType | None = None, row_group_rows: int = 64 * 1024) -> int:
    """Write deal records to a Parquet file (see :func:`deals_table`), a row group at a
    time; the rows written. Without ``fields_type`` the first row group's fields decide."""
    iterator = iter(deals)
    rows = 0
    with atomic_output(path) as temporary:
        writer = None
        try:
            while chunk := list(islice(iterator, row_group_rows)):
                table = deals_table(chunk, key, fields_type)
                if writer is None:
                    fields_type = table.schema.field("fields").type
                    writer = pq.ParquetWriter(temporary, table.schema, compression="zstd")
                writer.write_table(table, row_group_size=row_group_rows)
                rows += table.num_rows
            if writer is None:  # no deals: still a readable file with the layout
                writer = pq.ParquetWriter(temporary, deals_table([], key, fields_type).schema)
        finally:
            if writer is not None:
                writer.close()
    return rows


# -- findings ----------------------------------------------------------------------------------

_ORIGIN = re.compile(r"^(.*):(\d+)$")
_INDEX = re.compile(r"^(.*)\[(\d+)\]$")


def split_origin(origin: str) -> tuple[str, int | None]:
    """A record origin as (input, row): ``deals.jsonl:12`` → line 12, ``deals.json[3]`` → the
    4th item, a Parquet ``part.parquet:17`` → row 17."""
    found = _ORIGIN.match(origin)
    if found:
        return found.group(1), int(found.group(2))
    found = _INDEX.match(origin)
    if found:
        return found.group(1), int(found.group(2)) + 1
    return origin, None


@contextmanager
def atomic_output(path: str) -> Iterator[str]:
    """A temporary name next to ``path`` to write to; renamed to ``path`` when the block ends
    without error (so ``path`` is either complete or absent), removed otherwise."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        yield str(temporary)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


class FindingsWriter:
    """Findings (as JSON lines with their record's origin) into a Parquet file, a batch of
    rows at a time."""

    def __init__(self, path: str, metadata: Mapping[str, str] | None = None,
                 rows_per_batch: int = 64 * 1024) -> None:
        self._writer = pq.ParquetWriter(path, FINDINGS_SCHEMA, compression="zstd")
        self._rows_per_batch = rows_per_batch
        self._columns: dict[str, list[Any]] = {name: [] for name in FINDINGS_SCHEMA.names}
        self._metadata = dict(metadata or {})
        self._origin: tuple[str, tuple[str, int | None]] = ("", ("", None))
        #: Deal records evaluated (set by the caller), kept in the footer.
        self.records = 0

    def write(self, origin: str, line: bytes) -> None:
        """Add one finding."""
        finding = orjson.loads(line)
        columns = self._columns
        for name in FINDING_TEXT_COLUMNS[:-2]:
            columns[name].append(finding.get(name))
        details = finding.get("details")
        columns["details"].append(orjson.dumps(details).decode() if details else None)
        if origin != self._origin[0]:  # a record's findings come together: split it once
            self._origin = (origin, split_origin(origin))
        source, row = self._origin[1]
        columns["input"].append(source)
        columns["row"].append(row)
        if len(columns["row"]) >= self._rows_per_batch:
            self._flush()

    def _flush(self) -> None:
        if self._columns["row"]:
            self._writer.write_batch(pa.RecordBatch.from_pydict(self._columns,
                                                                schema=FINDINGS_SCHEMA))
            self._columns = {name: [] for name in FINDINGS_SCHEMA.names}

    def close(self) -> None:
        """Write what is buffered and the file's footer (with the count of records)."""
        self._flush()
        self._writer.add_key_value_metadata({**self._metadata,
                                             RECORDS_METADATA: str(self.records)})
        self._writer.close()

    def __enter__(self) -> FindingsWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


class StoredFinding(NamedTuple):
    """A finding read back from a findings file, with the record it came from."""

    input: str
    row: int | None
    finding: dict[str, Any]


def _finding(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored row in the shape of :meth:`Finding.to_dict` (the same keys, the same order)."""
    data = {name: row[name] for name in ("kind", "code", "rule", "deal", "stage")}
    if row["severity"] is not None:
        data["severity"] = row["severity"]
    data["at"] = row["at"]
    data["message"] = row["message"]
    if row["kind"] == "action":
        data.update({name: row[name] for name in _ACTION_KEYS})
    data["ruleset"] = row["ruleset"]
    if row["details"] is not None:
        data["details"] = orjson.loads(row["details"])
    return data


def read_findings(path: str) -> list[StoredFinding]:
    """Every finding of a findings file, in file order."""
    table = pq.read_table(path, schema=FINDINGS_SCHEMA)
    return [StoredFinding(row["input"], row["row"], _finding(row)) for row in table.to_pylist()]


def findings_metadata(path: str) -> dict[str, str]:
    """The key-value metadata in a findings file's footer."""
    stored = pq.ParquetFile(path).metadata.metadata or {}
    return {key.decode(): value.decode() for key, value in stored.items()}


def findings_summary(path: str) -> tuple[int, Counter[str]]:
    """The records evaluated into a findings file and its findings per code, from its footer
    and one column (a completed partition's totals without reading it all)."""
    records = int(findings_metadata(path).get(RECORDS_METADATA, "0"))
    codes = pq.read_table(path, columns=["code"]).column("code").to_pylist()
    return records, Counter(code for code in codes if code is not None)


def concat_findings(paths: Sequence[str]) -> list[StoredFinding]:
    """The findings of several files, file by file."""
    return [stored for path in paths for stored in read_findings(path)]


__all__ = ["BATCH_ROWS", "DEAL_COLUMNS", "FINDINGS_SCHEMA", "ColumnarError", "FindingsWriter",
           "StoredFinding", "atomic_output", "batch_records", "concat_findings",
           "dataset_files", "deals_table", "file_batches", "findings_metadata",
           "findings_summary", "read_findings", "read_parquet", "split_origin", "write_deals"]
