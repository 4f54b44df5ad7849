"""Deals: the deal model, decoding a record into a deal, and the readers that bring records in.

Whatever a caller hands the evaluator, the analysis or the backtest — a :class:`Deal`, its
JSON-shaped mapping, a reader's :class:`Record` or a raw JSON line with its origin — becomes a
record in one place, :func:`as_record`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline_rules.deals.model import Deal, Record
from pipeline_rules.deals.readers.jsonl import jsonl_record

#: One input item: a deal, its JSON-shaped record, a reader's record, or (origin, JSON line).
Item = Deal | Mapping[str, Any] | Record | tuple[str, bytes]


def as_record(item: Item, origin: str = "") -> Record:
    """Any input item as a reader record named ``origin`` (a raw JSON line is parsed here)."""
    if isinstance(item, Record):
        return item
    if isinstance(item, tuple):
        return jsonl_record(*item)
    return Record(origin, item)


__all__ = ["Item", "as_record"]
