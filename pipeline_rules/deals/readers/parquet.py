"""Parquet in: deal records read from a file or a dataset of files.

Deals are the JSON shape of ``schemas/deal.schema.json`` laid out in columns (docs/scale.md):
scalar columns for ``id``, ``ruleset``, ``stage``, ``source``, ``owner``, ``manager``,
``undated_start`` and ``whole_days`` (the last two may be absent, or null where unset);
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

"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline_rules.deals.model import Record, deal_id
from pipeline_rules.deals.readers import InputError
from pipeline_rules.ruleset.loader import unreadable

#: Rows handed to the evaluator at a time: big enough for Arrow's bulk work to pay, small
#: enough that a batch's Python objects stay a few tens of megabytes.
BATCH_ROWS = 8192

#: The deal columns read (others are ignored, like unknown keys of a JSON deal).
DEAL_COLUMNS = ("id", "stage", "source", "owner", "manager", "fields", "history", "tasks",
                "events", "pauses", "undated_start", "whole_days")
#: Columns whose null means the key is absent (a CSV export read through a mapping sets them
#: only on some deals: an undated first stage, date-only columns).
OPTIONAL_COLUMNS = ("undated_start", "whole_days")

_UTC = pa.timestamp("us", tz="UTC")
HISTORY_TYPE = pa.list_(pa.struct([("stage", pa.string()), ("at", _UTC),
                                   ("override", pa.string())]))
TASKS_TYPE = pa.list_(pa.struct([("id", pa.string()), ("due", _UTC), ("done", pa.bool_())]))
EVENTS_TYPE = pa.list_(pa.struct([("type", pa.string()), ("at", _UTC)]))
PAUSES_TYPE = pa.list_(pa.struct([("from", _UTC), ("to", _UTC), ("reason", pa.string())]))
#: The list columns of a deal and their Arrow types; which of their keys are times.
LIST_TYPES = {"history": HISTORY_TYPE, "tasks": TASKS_TYPE, "events": EVENTS_TYPE,
          "pauses": PAUSES_TYPE}
TIME_KEYS = {"history": ("at",), "tasks": ("due",), "events": ("at",), "pauses": ("from", "to")}


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
    columns = {name: _as_text(array) if name in TIME_KEYS else array
               for name, array in zip(batch.schema.names, arrays, strict=True)}
    rows = pa.RecordBatch.from_pydict(columns).to_pylist()
    records = []
    for offset, data in enumerate(rows):
        origin = f"{source}:{first_row + offset}"
        for name in OPTIONAL_COLUMNS:
            if name in data and data[name] is None:
                del data[name]
        if data.get("fields") is not None:
            try:
                data["fields"] = _fields(data["fields"])
            except orjson.JSONDecodeError as err:
                records.append(Record(origin, error=f"column 'fields': malformed JSON: {err}",
                                      deal=deal_id(data)))
                continue
        records.append(Record(origin, data))
    return records


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


__all__ = ["BATCH_ROWS", "DEAL_COLUMNS", "LIST_TYPES", "OPTIONAL_COLUMNS", "TIME_KEYS",
           "ColumnarError", "batch_records", "dataset_files", "file_batches", "read_parquet"]
