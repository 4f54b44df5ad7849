"""Findings written to Parquet: one row each, read back for summaries and merged partitions.

A finding's fields are stored as text (``at`` and ``due`` as in JSON, with the ruleset zone's
offset; ``version`` null for a ruleset not kept in versions), ``details`` as JSON text, and
the record they came from (``input``, ``row``), so they can be joined back to the deals.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from types import TracebackType
from typing import Any, NamedTuple

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline_rules.deals.readers.parquet import DEAL_COLUMNS, LIST_TYPES, TIME_KEYS
from pipeline_rules.outputs.files import atomic_output, remove_temporaries

#: Columns of a findings file, in the order of a finding's JSON keys, then where it came from.
FINDING_TEXT_COLUMNS = ("kind", "code", "rule", "deal", "stage", "severity", "at", "message",
                        "action", "notify", "channel", "due", "key", "ruleset", "version",
                        "details", "input")
FINDINGS_SCHEMA = pa.schema([*((name, pa.string()) for name in FINDING_TEXT_COLUMNS),
                             ("row", pa.int64())])
_ACTION_KEYS = ("action", "notify", "channel", "due", "key")
#: Key of the findings file's metadata holding how many deal records were evaluated.
RECORDS_METADATA = "pipeline_rules.records"

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


@dataclass(frozen=True)
class FindingsFiles:
    """Findings files written whole or not at all, stamped in their footers: the sink of an
    ``--output`` file, and of each partition of a Dask run
    (:class:`pipeline_rules.evaluate.dask.PartitionSink`)."""

    def written(self, target: str,
                stamp: Mapping[str, str]) -> tuple[int, Counter[str]] | None:
        """The records and findings per code of ``target`` if it was written by the run
        ``stamp`` describes, else None."""
        if not os.path.exists(target):
            return None
        try:
            metadata = findings_metadata(target)
        except (OSError, ValueError):  # not a findings file we can read: evaluate again
            return None
        if any(metadata.get(key) != value for key, value in stamp.items()):
            return None
        return findings_summary(target)

    @contextmanager
    def write(self, target: str, stamp: Mapping[str, str]) -> Iterator[FindingsWriter]:
        """A findings writer whose file appears at ``target`` when the block ends without an
        error."""
        with atomic_output(target) as temporary:
            writer = FindingsWriter(temporary, stamp)
            try:
                yield writer
            finally:
                writer.close()

    def clean(self, output: str) -> int:
        """Remove what writers killed mid-write left under ``output``."""
        return remove_temporaries(output)


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
    if row.get("version") is not None:
        data["version"] = row["version"]
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
        for name in ("id", "stage", "source", "owner", "manager", "fields", "undated_start"):
            columns[name].append(deal.get(name))
        columns["whole_days"].append(deal.get("whole_days") or None)
        for name, times in TIME_KEYS.items():
            items = deal.get(name)
            columns[name].append(None if items is None else [
                {**item, **{t: _time(item.get(t)) for t in times}} for item in items])
        if key is not None:
            rulesets.append(deal.get(key))
    types = {**LIST_TYPES, "fields": fields_type, "whole_days": pa.bool_()}
    arrays = {name: pa.array(values, type=types.get(name, pa.string()))
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


__all__ = ["FINDINGS_SCHEMA", "FINDING_TEXT_COLUMNS", "RECORDS_METADATA", "FindingsWriter",
           "StoredFinding", "atomic_output", "concat_findings", "deals_table",
           "findings_metadata", "findings_summary", "read_findings", "split_origin", "write_deals"]
