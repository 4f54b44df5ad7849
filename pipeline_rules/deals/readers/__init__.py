"""Deal readers: files (or stdin) in, :class:`~pipeline_rules.deals.model.Record` objects out.

* ``jsonl`` — one JSON deal per line, streamed in constant memory (``-`` is stdin);
* ``json`` — a JSON array of deals (or one deal object);
* ``csv`` — a CRM export described by a mapping file (``--mapping``): a change log (one row per
  stage change) or a wide table (one row per deal, a date column per stage); see
  :mod:`.csvmap`.

A record that cannot be read is yielded with its ``error`` set and its position in ``origin``
(``deals.jsonl:12``), so one bad line never stops the others.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import islice
from pathlib import Path
from zoneinfo import ZoneInfo

from pipeline_rules.deals.model import Record
from pipeline_rules.deals.readers.jsonl import (
    Block,
    jsonl_blocks,
    jsonl_lines,
    read_json,
    read_jsonl,
)
from pipeline_rules.i18n import Message

FORMATS = ("auto", "jsonl", "json", "csv")


class InputError(ValueError):
    """Input that cannot be read at all (a missing mapping for CSV, an unknown format)."""

    def said(self, lang: str) -> str:
        """Why, in ``lang`` (as it was written when not a catalog message)."""
        first = self.args[0] if self.args else None
        return first.render(lang) if isinstance(first, Message) else str(self)


def detect_format(path: str) -> str:
    """The input format a path's name suggests (stdin is JSONL)."""
    suffix = Path(path).suffix.lower()
    if path == "-" or suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".json":
        return "json"
    if suffix in (".csv", ".tsv"):
        return "csv"
    return "jsonl"


def read_records(path: str, input_format: str = "auto", mapping: str | None = None,
                 zone: ZoneInfo | None = None, raw: bool = False,
                 notes: list[str] | None = None,
                 ) -> Iterator[Record] | Iterator[tuple[str, bytes]]:
    """Records from ``path`` in the given (or detected) format; with ``raw``, JSON Lines come
    as (origin, line) pairs for :func:`.jsonl.jsonl_record` to parse where they are used.

    ``zone`` is the zone of CSV times without an offset when the mapping names none: pass the
    ruleset's (``compiled.zone``); a CSV read without either is refused rather than read in
    UTC. Lines a person should read about the whole input are added to ``notes``."""
    kind = detect_format(path) if input_format == "auto" else input_format
    if kind == "jsonl":
        return jsonl_lines(path) if raw else read_jsonl(path)
    if kind == "json":
        return read_json(path)
    if kind == "csv":
        if mapping is None:
            raise InputError(f"{path}: CSV input needs a mapping file (--mapping); "
                             "see docs/input.md")
        from pipeline_rules.deals.readers.csvmap import load_mapping, read_csv

        loaded = load_mapping(mapping)
        if zone is None and loaded.timezone is None:
            raise InputError(f"{mapping}: times without an offset need a zone: give "
                             "read_records the ruleset's zone (zone=compiled.zone), or "
                             "'timezone:' in the mapping")
        return read_csv(path, loaded, loaded.timezone or zone or ZoneInfo("UTC"), notes)
    raise InputError(f"unknown input format '{input_format}' (one of {', '.join(FORMATS)})")


def read_batches(path: str, input_format: str = "auto", mapping: str | None = None,
                 zone: ZoneInfo | None = None, size: int = 1000,
                 notes: list[str] | None = None) -> Iterator[Block | Sequence[Record]]:
    """Records from ``path`` in batches of ``size``: JSON Lines as raw blocks (parsed where
    they are evaluated), other formats as lists of records."""
    kind = detect_format(path) if input_format == "auto" else input_format
    if kind == "jsonl":
        return iter(jsonl_blocks(path, size))
    records: Iterator[Record] = read_records(  # type: ignore[assignment]
        path, kind, mapping, zone, notes=notes)
    return iter(lambda: list(islice(records, size)), [])


__all__ = ["FORMATS", "Block", "InputError", "Record", "detect_format", "read_batches",
           "read_json", "read_jsonl", "read_records"]
