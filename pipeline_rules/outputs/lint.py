"""Output formats for lint results: text, json, github, sarif — each only formats.

Every formatter takes the same :class:`LintReport` and returns the whole output as a string.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import click

from pipeline_rules import i18n
from pipeline_rules.ruleset.checks.diagnostics import Diagnostic
from pipeline_rules.ruleset.problems import Severity


@dataclass(frozen=True)
class LintReport:
    """The diagnostics of one lint run and the files it read."""

    diagnostics: Sequence[Diagnostic]
    files: Sequence[str]

    def counts(self) -> Counter[str]:
        """Number of diagnostics per severity."""
        return Counter(d.severity.value for d in self.diagnostics)


_COLOURS = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.INFO: "blue"}


def text(report: LintReport, color: bool = False, show_source: bool = True,
         lang: str = i18n.DEFAULT) -> str:
    """``file:line:col: severity [rule] message``, the source line and a caret under the column
    (the severity in ``lang``)."""
    out: list[str] = []
    for d in report.diagnostics:
        where = f"{d.file}:{d.line}:{d.column}:"
        severity = d.severity.value if lang == i18n.DEFAULT \
            else i18n.render(f"severity.{d.severity.value}", {}, lang)
        rule = f"[{d.rule}]"
        if color:
            where = click.style(where, bold=True)
            severity = click.style(severity, fg=_COLOURS[d.severity], bold=True)
            rule = click.style(rule, dim=True)
        out.append(f"{where} {severity} {rule} {d.message}")
        if show_source and d.source_line:
            gutter = " " * len(str(d.line))
            caret = " " * (d.column - 1) + "^"
            if color:
                caret = click.style(caret, fg=_COLOURS[d.severity], bold=True)
            out.append(f" {d.line} | {d.source_line.expandtabs(1)}")
            out.append(f" {gutter} | {caret}")
            out.extend(_fix(d.rule, gutter, lang))
    return "\n".join(out) + ("\n" if out else "")


#: Rules whose messages name the fix themselves (the key, type or value expected), so a
#: general example would only distract.
_OWN_FIX = frozenset({"schema"})


def _fix(name: str, gutter: str, lang: str) -> list[str]:
    """Below a shown source line: the rule's *Use instead*, in short, and where to read more."""
    from pipeline_rules.lint.rules import all_rules

    found = None if name in _OWN_FIX else all_rules().get(name)
    hint = found.use_instead() if found is not None else []
    if not hint:
        return []
    return [f" {gutter} = {i18n.render('lint.use-instead', {'rule': name}, lang)}",
            *(f" {gutter}     {line}" for line in hint)]


def summary(report: LintReport, lang: str = i18n.DEFAULT) -> str:
    """One line: how many files, errors, warnings and notes."""
    counts = report.counts()
    files = len(report.files)
    if lang != i18n.DEFAULT:
        many = i18n.plural(files, "file", lang)
        if not report.diagnostics:
            return i18n.render("summary.lint-clean", {"files": many}, lang)
        keys = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
        found = ", ".join(i18n.plural(counts[s.value], keys[s], lang)
                          for s in Severity if counts[s.value])
        return i18n.render("summary.lint", {"counts": found, "files": many}, lang)
    if not report.diagnostics:
        return f"{files} file{'s' if files != 1 else ''} checked, no problems"
    parts = [f"{counts[s.value]} {s.value}{'s' if counts[s.value] != 1 else ''}"
             for s in Severity if counts[s.value]]
    return f"{', '.join(parts)} in {files} file{'s' if files != 1 else ''}"


def as_json(report: LintReport) -> str:
    """A JSON object: the diagnostics and a summary of counts."""
    counts = report.counts()
    payload = {
        "diagnostics": [d.to_dict() for d in report.diagnostics],
        "summary": {"files": len(report.files),
                    **{f"{s.value}s" if s is not Severity.INFO else "info": counts[s.value]
                       for s in Severity}},
    }
    return json.dumps(payload, ensure_ascii=False, indent=2) + "\n"


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


_GITHUB_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def github(report: LintReport) -> str:
    """GitHub Actions workflow commands: one ``::error file=...`` annotation per diagnostic."""
    lines = []
    for d in report.diagnostics:
        props = ",".join([f"file={_escape_property(d.file)}", f"line={d.line}", f"col={d.column}",
                          f"title={_escape_property(d.rule)}"])
        lines.append(f"::{_GITHUB_LEVEL[d.severity]} {props}::{_escape_data(d.message)}")
    return "\n".join(lines) + ("\n" if lines else "")


def sarif(report: LintReport) -> str:
    """A SARIF 2.1.0 log (see :mod:`pipeline_rules.outputs.sarif`)."""
    from pipeline_rules.outputs.sarif import sarif_log

    return json.dumps(sarif_log(report.diagnostics, report.files), ensure_ascii=False,
                      indent=2) + "\n"


FORMATS: dict[str, Callable[[LintReport], str]] = {
    "text": text,
    "json": as_json,
    "github": github,
    "sarif": sarif,
}
