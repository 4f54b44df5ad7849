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
        if not show_source:
            continue  # one line a diagnostic: the golden-file form, for grep and diffs
        gutter = " " * len(str(d.line))
        if d.source_line:
            caret = " " * (d.column - 1) + "^"
            if color:
                caret = click.style(caret, fg=_COLOURS[d.severity], bold=True)
            out.append(f" {d.line} | {d.source_line.expandtabs(1)}")
            out.append(f" {gutter} | {caret}")
        out.extend(_fix(d.rule, gutter, lang))
    return "\n".join(out) + ("\n" if out else "")


#: Rules whose messages name the fix themselves (the key, type, value or column expected),
#: so a general example would only distract.
_OWN_FIX = frozenset({"schema", "mapping-schema", "mapping-value", "mapping-column"})


def fix_hint(name: str) -> list[str]:
    """How to fix what rule ``name`` finds, in short: its *Use instead* lines (none for a rule
    whose messages name the fix themselves, or for a check that is not a registered rule)."""
    from pipeline_rules.lint.mapping import MAPPING_RULES
    from pipeline_rules.lint.rules import all_rules
    from pipeline_rules.ruleset.checks.registry import use_instead

    if name in _OWN_FIX:
        return []
    found = all_rules().get(name)
    if found is not None:
        return found.use_instead()
    return use_instead(MAPPING_RULES[name]) if name in MAPPING_RULES else []


def _fix(name: str, gutter: str, lang: str) -> list[str]:
    """Below a diagnostic: the rule's *Use instead*, in short, and where to read more."""
    hint = fix_hint(name)
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
    """A JSON object: the diagnostics, a summary of counts and, per rule found, how to fix it
    (``fixes``: rule → its *Use instead* lines, for the rules that have them)."""
    counts = report.counts()
    fixes = {rule: hint for rule in dict.fromkeys(d.rule for d in report.diagnostics)
             if (hint := fix_hint(rule))}
    payload = {
        "diagnostics": [d.to_dict() for d in report.diagnostics],
        "summary": {"files": len(report.files),
                    **{f"{s.value}s" if s is not Severity.INFO else "info": counts[s.value]
                       for s in Severity}},
        "fixes": fixes,
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
