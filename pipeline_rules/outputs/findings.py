"""Findings out as people and programs read them: JSON Lines, a JSON array or an aligned table,
and the one-line summary of a run."""

from __future__ import annotations

from typing import TYPE_CHECKING, BinaryIO

import orjson

from pipeline_rules import i18n
from pipeline_rules.evaluate.findings import VIOLATION_CODES
from pipeline_rules.evaluate.routing import role_name

if TYPE_CHECKING:
    from collections.abc import Iterable

    from pipeline_rules.evaluate.engine import Totals


def write_findings(chunks: Iterable[bytes], output: str, out: BinaryIO,
                   lang: str = i18n.DEFAULT) -> None:
    """Findings out as ``output`` (jsonl, json or table, the table's words in ``lang``);
    ``chunks`` are newline-terminated JSON lines, a batch's at a time."""
    if output == "jsonl":
        for chunk in chunks:
            if chunk:
                out.write(chunk)
        out.flush()
        return
    lines = (line for chunk in chunks for line in chunk.splitlines())
    if output == "json":
        out.write(b"[")
        for i, line in enumerate(lines):
            out.write((b"\n  " if i == 0 else b",\n  ") + line)
        out.write(b"\n]\n")
    else:
        rows = [orjson.loads(line) for line in lines]
        out.write(table(rows, lang).encode() + b"\n")
    out.flush()


def table(rows: list[dict[str, object]], lang: str = i18n.DEFAULT) -> str:
    """Findings as an aligned text table for people (headers, kinds and roles in ``lang``)."""
    fields = ("deal", "kind", "code", "rule", "at", "notify", "message")
    headers = tuple(i18n.render(f"table.{h}", {}, lang) for h in fields)

    def cell(row: dict[str, object], name: str) -> str:
        value = row.get(name)
        if name == "at":
            return str(row.get("at", ""))[:16].replace("T", " ")
        if not value:
            return ""
        if name == "kind":
            return i18n.render(f"kind.{value}", {}, lang)
        if name == "notify":
            return role_name(str(value), lang)
        return str(value)

    cells = [[cell(r, h) for h in fields] for r in rows]
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(headers[:-1])]
    def line(values: list[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=False)) + \
            "  " + values[-1]
    return "\n".join([line(list(headers)), *(line(c) for c in cells)]) if rows \
        else i18n.render("table.none", {}, lang)


def summary(totals: Totals, lang: str = i18n.DEFAULT) -> str:
    """The run in one line: records, then violations and actions counted by code."""
    violations = {c: n for c, n in totals.codes.items() if c in VIOLATION_CODES}
    actions = {c: n for c, n in totals.codes.items() if c not in VIOLATION_CODES}
    def part(counts: dict[str, int]) -> str:
        if not counts:
            return ""
        return " (" + ", ".join(f"{code} {count}" for code, count in sorted(counts.items())) \
            + ")"
    return i18n.render("summary.run", {
        "records": i18n.plural(totals.records, "record", lang),
        "violations": i18n.plural(sum(violations.values()), "violation", lang),
        "violation_codes": part(violations),
        "actions": i18n.plural(sum(actions.values()), "action", lang),
        "action_codes": part(actions)}, lang)


__all__ = ["summary", "table", "write_findings"]
