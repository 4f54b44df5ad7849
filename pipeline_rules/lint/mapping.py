"""Linting a CSV mapping file: its schema, its values, and — given a sample of the CSV — whether
it fits the export.

A mapping is told from a ruleset by its top-level ``format: changelog|wide`` and ``deal`` keys,
so ``lint DIR`` checks each file as what it is. The rules, each reported with how to fix it:

* ``mapping-schema`` — every schema problem (all of them, each at its place);
* ``mapping-value`` — a value the schema cannot judge (a time zone, a ``time_format``, a key of
  the other layout), as the CSV reader would refuse it;
* ``mapping-shared-date`` — two stages under ``stage_dates`` on one date column: every deal with
  that date would enter both (use ``closed:`` for one close date of won and lost);
* ``mapping-column`` (with a sample) — a column the mapping names that the CSV header lacks;
* ``mapping-unmapped-stage`` (with a sample) — a CRM stage in the sample not under ``stages:``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from pipeline_rules import i18n
from pipeline_rules.deals.readers.csvmap import (
    STAGE_CHANGE,
    CsvMapping,
    MappingError,
    load_mapping,
    quoted,
    sample_rows,
)
from pipeline_rules.ruleset.checks.diagnostics import Diagnostic, in_file_order
from pipeline_rules.ruleset.loader import Document, ReadError
from pipeline_rules.ruleset.problems import Severity
from pipeline_rules.ruleset.schema import validate
from pipeline_rules.ruleset.source import Position, Source, join

#: The mapping rules and what each says (``pipeline-rules rules NAME``; docs/input.md).
MAPPING_RULES = {
    "mapping-schema": (
        "A mapping file that does not fit schemas/mapping.schema.json: an unknown or missing "
        "key, a value of the wrong type or word. Every such problem is reported in one pass.\n\n"
        "## Use instead\nThe key or value the message names; "
        "'pipeline-rules schema mapping' prints the schema."),
    "mapping-value": (
        "A value the schema cannot judge that the CSV reader refuses: an unknown time zone, a "
        "time_format that is not a strptime format, a key of the other layout, a stage id that "
        "is empty.\n\n## Use instead\nThe value the message suggests."),
    "mapping-shared-date": (
        "Two stages under stage_dates take their date from one column (won: close_date and "
        "lost: close_date): every deal with that date would enter both, and be reported as a "
        "bad record or an illegal move.\n\n## Use instead\n```yaml\nstage: deal_stage\n"
        "closed: close_date   # dates whichever stage without a column of its own the deal "
        "is in\n```"),
    "mapping-column": (
        "With --sample: a column the mapping names that the header of the CSV export does "
        "not have (a typo, or a column renamed by the CRM).\n\n## Use instead\nOne of the "
        "columns the message lists, exactly as the header writes it."),
    "mapping-unmapped-stage": (
        "With --sample: a CRM stage in the stage column of the export's first rows that is not "
        "under stages: — each such deal would be a bad record.\n\n## Use instead\n```yaml\n"
        "stages:\n  Prospecting: prospecting\n```"),
}

#: Rows of a sample read for its stage values (the header is always read).
SAMPLE_ROWS = 10_000

_WHERE = re.compile(r"^(?P<file>.*?):(?P<line>\d+):(?P<column>\d+): (?P<message>.*)$", re.S)


def is_mapping(document: Document) -> bool:
    """Whether a parsed YAML document is a CSV mapping rather than a ruleset (a mapping has a
    ``format`` or ``deal`` key, a ruleset a ``version`` and a list of stages)."""
    data = document.data
    return isinstance(data, dict) and ("format" in data or "deal" in data) \
        and "version" not in data and not isinstance(data.get("stages"), list)


def lint_mapping(source: Source, document: Document, sample: str | None = None,
                 lang: str = i18n.DEFAULT) -> list[Diagnostic]:
    """Every problem of one mapping file (and of its fit to ``sample``), in file order."""
    found = list(_schema(source, document, lang))
    data = document.data
    assert isinstance(data, dict)
    found.extend(_shared_dates(source, document, data, lang))
    if found:
        return in_file_order(found)
    try:
        mapping = load_mapping(source.name)
    except MappingError as err:
        return [_from_error(source, "mapping-value", err.said(lang))]
    if sample is not None:
        found.extend(_fit(source, document, mapping, sample, lang))
    return in_file_order(found)


def _diagnostic(source: Source, rule: str, severity: Severity, message: str,
                where: Position, path: str = "") -> Diagnostic:
    return Diagnostic(rule, severity, message, source.name, where.line, where.column, path,
                      source.line(where.line))


def _from_error(source: Source, rule: str, text: str) -> Diagnostic:
    """A diagnostic from a reader's ``file:line:col: message``."""
    match = _WHERE.match(text)
    if match is None or match["file"] != source.name:
        return _diagnostic(source, rule, Severity.ERROR, text, Position(1, 1))
    return _diagnostic(source, rule, Severity.ERROR, match["message"],
                       Position(int(match["line"]), int(match["column"])))


def _schema(source: Source, document: Document, lang: str) -> Iterator[Diagnostic]:
    positions = document.positions
    for problem in validate(document.data, "mapping"):
        where = problem.position or (positions.key(problem.path) if problem.at_key
                                     else positions.value(problem.path))
        yield _diagnostic(source, "mapping-schema", Severity.ERROR,
                          i18n.render(problem.message, problem.args, lang), where,
                          problem.path)


def _shared_dates(source: Source, document: Document, data: dict[str, Any],
                  lang: str) -> Iterator[Diagnostic]:
    dates = data.get("stage_dates")
    if not isinstance(dates, dict):
        return
    first: dict[str, str] = {}
    for stage, column in dates.items():
        if not isinstance(column, str):
            continue
        if column in first:
            path = join("/stage_dates", stage)
            yield _diagnostic(source, "mapping-shared-date", Severity.ERROR, i18n.render(
                "mapping.shared-date", {"stage": stage, "other": first[column],
                                        "column": column}, lang),
                document.positions.value(path), path)
        else:
            first[column] = str(stage)


def _fit(source: Source, document: Document, mapping: CsvMapping, sample: str,
         lang: str) -> Iterator[Diagnostic]:
    """The mapping against a sample of its CSV: columns in the header, stages mapped."""
    try:
        header, rows = sample_rows(sample, mapping, SAMPLE_ROWS)
    except ReadError as err:
        yield _diagnostic(source, "mapping-column", Severity.ERROR, err.said(lang),
                          Position(1, 1))
        return
    missing = False
    for column in mapping.named_columns():
        if column.name not in header:
            missing = True
            yield _from_error(source, "mapping-column", f"{column.where}: " + i18n.render(
                "mapping.column", {"column": quoted(column.name), "sample": sample,
                                   "columns": ", ".join(map(quoted, header))}, lang))
    if missing or mapping.stages is None:
        return
    stage_column = mapping.stage if mapping.format == "wide" else mapping.value
    if stage_column is None:
        return
    at = header.index(stage_column.name)
    kind_at = header.index(mapping.kind.name) if mapping.kind is not None else None
    unmapped: dict[str, int] = {}
    for line, cells in rows:
        if at >= len(cells) or not cells[at]:
            continue
        if kind_at is not None and (kind_at >= len(cells) or
                                    mapping.changes.get(cells[kind_at]) is not STAGE_CHANGE):
            continue
        if mapping.stage_for(cells[at]) is None:
            unmapped.setdefault(cells[at], line)
    if unmapped:
        listed = ", ".join(i18n.render("mapping.value-line", {"value": quoted(value), "line": line},
                                       lang) for value, line in unmapped.items())
        yield _diagnostic(source, "mapping-unmapped-stage", Severity.ERROR, i18n.render(
            "mapping.unmapped-stage", {"values": listed, "column": quoted(stage_column.name),
                                       "sample": sample}, lang),
            document.positions.key("/stages"), "/stages")


__all__ = ["MAPPING_RULES", "SAMPLE_ROWS", "is_mapping", "lint_mapping"]
