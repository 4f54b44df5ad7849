"""Findings out as people and programs read them: JSON Lines, a JSON array, an aligned table or
CSV (for a CRM import or a spreadsheet), and the one-line summary of a run."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, BinaryIO

import orjson

from pipeline_rules import i18n
from pipeline_rules.evaluate.findings import VIOLATION_CODES
from pipeline_rules.evaluate.routing import role_name

if TYPE_CHECKING:
    from pipeline_rules.evaluate.engine import Totals


def write_findings(chunks: Iterable[bytes], output: str, out: BinaryIO,
                   lang: str = i18n.DEFAULT) -> None:
    """Findings out as ``output`` (jsonl, json, table or csv, the table's words in ``lang``);
    ``chunks`` are newline-terminated JSON lines, a batch's at a time."""
    if output == "jsonl":
        for chunk in chunks:
            if chunk:
                out.write(chunk)
        out.flush()
        return
    lines = (line for chunk in chunks for line in chunk.splitlines())
    if output == "csv":
        write_csv((orjson.loads(line) for line in lines), out)
        return
    if output == "json":
        out.write(b"[")
        for i, line in enumerate(lines):
            out.write((b"\n  " if i == 0 else b",\n  ") + line)
        out.write(b"\n]\n")
    else:
        rows = [orjson.loads(line) for line in lines]
        out.write(table(rows, lang).encode() + b"\n")
    out.flush()


#: The columns of CSV findings, in order (docs/evaluate.md); new columns only ever go last.
CSV_COLUMNS = ("ruleset", "deal", "kind", "code", "severity", "rule", "stage", "at", "due",
               "action", "notify", "channel", "recipient", "key", "message")


def csv_row(finding: Mapping[str, Any]) -> list[str]:
    """One finding (its JSON form) as the cells of :data:`CSV_COLUMNS`; an absent value is an
    empty cell."""
    details = finding.get("details") or {}
    cells = []
    for column in CSV_COLUMNS:
        value = details.get(column) if column == "recipient" else finding.get(column)
        cells.append("" if value is None else str(value))
    return cells


def write_csv(findings: Iterable[Mapping[str, Any]], out: BinaryIO) -> None:
    """Findings as CSV: a header row, then one row a finding, streamed."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for finding in findings:
        writer.writerow(csv_row(finding))
    text.flush()
    text.detach()  # the caller owns ``out``


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


__all__ = ["CSV_COLUMNS", "csv_row", "summary", "table", "write_csv", "write_findings"]
