"""JSON Lines and JSON array readers.

JSONL is read line by line from a binary stream (constant memory; blank lines are skipped) and
parsed with orjson, the fastest well-kept JSON parser for Python (about 3–5 times the standard
library on deal records). A JSON file holds an array of deals, or one deal object. A UTF-8
byte-order mark at the start of either (Windows editors and Excel write one) is skipped.

A key given twice in one object keeps its last value, as orjson and msgspec read it: telling
would take a parse that reports every key, about 30 % of a deal's evaluation
(benchmarks/bench_duplicate_keys.py), so it is not done (docs/input.md).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import islice
from typing import BinaryIO, NamedTuple

import orjson

from pipeline_rules.deals.model import Record
from pipeline_rules.ruleset.loader import ReadError, unreadable


@contextmanager
def open_binary(path: str) -> Iterator[BinaryIO]:
    """A binary stream for a path, or stdin for ``-``; I/O failures raise ReadError."""
    if path == "-":
        yield sys.stdin.buffer
        return
    try:
        stream = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as err:
        raise unreadable(path, err) from None
    try:
        yield stream
    finally:
        stream.close()


def _name(path: str) -> str:
    return "<stdin>" if path == "-" else path


#: The UTF-8 byte-order mark.
BOM = b"\xef\xbb\xbf"


def _lines(stream: BinaryIO) -> Iterator[bytes]:
    """The lines of a stream, a byte-order mark at its start left out."""
    first = stream.readline()
    yield first.removeprefix(BOM)
    yield from stream


def jsonl_lines(path: str) -> Iterator[tuple[str, bytes]]:
    """The non-blank lines of a JSON Lines file, each with its origin (``file:line``).

    Parsing is left to :func:`jsonl_record`, so a pool of processes can parse in parallel.
    """
    name = _name(path)
    with open_binary(path) as stream:
        for number, line in enumerate(_lines(stream), start=1):
            if line.strip():
                yield f"{name}:{number}", line


class Block(NamedTuple):
    """Raw lines read in one go: the file's display name, the number of the first, the lines
    (blank ones included, so numbers stay right). Parsed where they are evaluated."""

    name: str
    first: int
    lines: list[bytes]


def jsonl_blocks(path: str, size: int) -> Iterator[Block]:
    """A JSON Lines file as blocks of ``size`` raw lines: the cheapest way to feed workers."""
    name = _name(path)
    first = 1
    with open_binary(path) as stream:
        lines_of = _lines(stream)
        while lines := list(islice(lines_of, size)):
            yield Block(name, first, lines)
            first += len(lines)


def jsonl_record(origin: str, line: bytes) -> Record:
    """One JSON Lines line as a record (an error record when it is not JSON)."""
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError as err:
        return Record(origin, error=f"malformed JSON: {err}", error_key="deal.malformed-json",
                      error_args={"line": err.lineno, "column": err.colno})
    return Record(origin, data)


def read_jsonl(path: str) -> Iterator[Record]:
    """Records from a JSON Lines file, one per non-blank line."""
    for origin, line in jsonl_lines(path):
        yield jsonl_record(origin, line)


def read_json(path: str) -> Iterator[Record]:
    """Records from a JSON file holding an array of deals (or one deal)."""
    name = _name(path)
    with open_binary(path) as stream:
        content = stream.read().removeprefix(BOM)
    try:
        data = orjson.loads(content)
    except orjson.JSONDecodeError as err:
        raise ReadError(f"{name}: malformed JSON: {err}") from None
    items = data if isinstance(data, list) else [data]
    for index, item in enumerate(items):
        yield Record(f"{name}[{index}]", item)


__all__ = ["BOM", "Block", "jsonl_blocks", "jsonl_lines", "jsonl_record", "open_binary",
           "read_json", "read_jsonl"]
