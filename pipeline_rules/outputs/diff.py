"""A ruleset diff as text (a terminal), JSON (a program) or Markdown (a pull-request comment)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pipeline_rules import i18n
from pipeline_rules.analytics.impact import FindingChange, Impact
from pipeline_rules.ruleset.checks.diagnostics import Diagnostic
from pipeline_rules.ruleset.diff import ADDED, CHANGED, NOUNS, REMOVED, Change, RulesetDiff
from pipeline_rules.ruleset.problems import Severity

#: The rule a deal in a removed stage is reported under, as a lint error of the new ruleset.
STRANDED_RULE = "removed-stage-in-use"


def value_text(value: Any) -> str:
    """A value as a person reads it: text as written, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def describe(change: Change, lang: str = i18n.DEFAULT) -> str:
    """One sentence saying what changed."""
    old, new = value_text(change.old.value), value_text(change.new.value)
    if change.section not in NOUNS and change.subject == change.section:
        # A section this diff does not name: said by its JSON pointer.
        pointer = change.new.pointer if change.new.present else change.old.pointer
        kind = {ADDED: "value-added", CHANGED: "value-changed"}.get(change.kind, "value-removed")
        return i18n.render(f"diff.{kind}", {"pointer": pointer, "old": old, "new": new}, lang)
    noun_key = f"diff.noun.{NOUNS.get(change.section, change.section)}"
    noun = i18n.render(noun_key, {}, lang) if noun_key in i18n.catalog(i18n.DEFAULT) \
        else change.section
    what = noun if change.subject == change.section else f"{noun} '{change.subject}'"
    args = {"what": what, "subject": change.subject, "field": change.field, "old": old,
            "new": new}
    if change.code == "stage-renamed":
        return i18n.render("diff.renamed", args, lang)
    if not change.field:
        return i18n.render(f"diff.{change.kind}", args, lang)
    if change.kind == CHANGED:
        return i18n.render("diff.changed", args, lang)
    return i18n.render("diff.field-added" if change.kind == ADDED else "diff.field-removed",
                       args, lang)


def _headline(diff: RulesetDiff, lang: str) -> str:
    args = {"old": diff.old_file, "new": diff.new_file, "count": len(diff.changes)}
    return i18n.render("diff.summary" if diff.changes else "diff.none", args, lang)


def stranded(diff: RulesetDiff, impact: Impact, lang: str = i18n.DEFAULT) -> list[Diagnostic]:
    """A lint error of the new ruleset for each deal in a stage it removes, placed where the
    stage was removed (the new file's stages)."""
    removed = {c.subject: c.new for c in diff.changes
               if c.section == "stages" and c.kind == REMOVED}
    found = []
    for deal in impact.stranded:
        side = removed.get(deal.stage)
        file, line, column = (side.file, side.line, side.column) if side is not None \
            else (diff.new_file, 1, 1)
        found.append(Diagnostic(STRANDED_RULE, Severity.ERROR, i18n.render(
            "impact.stranded", {"stage": deal.stage, "deal": deal.deal, "origin": deal.origin},
            lang), file, line, column, side.pointer if side is not None else ""))
    return found


def judged(change: FindingChange, lang: str = i18n.DEFAULT) -> str:
    """One sentence on how a deal's finding changes."""
    finding = change.finding
    what = f"{finding.code} '{finding.rule}'" if finding.rule else finding.code
    args = {"what": what,
            "at": finding.at.isoformat(),
            "old": change.old.at.isoformat() if change.old else "",
            "new": change.new.at.isoformat() if change.new else ""}
    return i18n.render(f"impact.{change.change}", args, lang)


def _impact_headline(impact: Impact, now: str, lang: str) -> str:
    return i18n.render("impact.summary", {"now": now, "records": impact.records,
                                          "deals": impact.deals, "affected": impact.affected},
                       lang)


def text(diff: RulesetDiff, lang: str = i18n.DEFAULT, impact: Impact | None = None,
         now: str = "") -> str:
    """``code: sentence`` per change, with where it stands in the old and the new file; with
    the deals, how each is judged differently and the deals in removed stages."""
    old_word, new_word = i18n.render("diff.old", {}, lang), i18n.render("diff.new", {}, lang)
    width = max(len(old_word), len(new_word)) + 1
    out = [_headline(diff, lang)]
    for change in diff.changes:
        out.append(f"{change.code}: {describe(change, lang)}")
        out.append(f"  {(old_word + ':').ljust(width)} {change.old.at} {change.old.pointer}")
        out.append(f"  {(new_word + ':').ljust(width)} {change.new.at} {change.new.pointer}")
    if impact is not None:
        out.append(_impact_headline(impact, now, lang))
        out.extend(f"{c.origin} {c.deal}: {judged(c, lang)}" for c in impact.changes)
        out.extend(f"{d.file}:{d.line}:{d.column}: error [{d.rule}] {d.message}"
                   for d in stranded(diff, impact, lang))
    return "\n".join(out) + "\n"


def as_json(diff: RulesetDiff, lang: str = i18n.DEFAULT, impact: Impact | None = None,
            now: str = "") -> str:
    """The diff as one JSON document, each change with its sentence in ``lang``; with the
    deals, a ``deals`` object: the findings that change and the stranded deals as lint
    diagnostics."""
    data = diff.to_dict()
    for item, change in zip(data["changes"], diff.changes, strict=True):
        item["message"] = describe(change, lang)
    if impact is not None:
        data["deals"] = {
            "now": now, "records": impact.records, "deals": impact.deals,
            "affected": impact.affected,
            "changes": [{"deal": c.deal, "record": c.origin, "change": c.change,
                         "code": c.finding.code, "rule": c.finding.rule,
                         "old": c.old.to_dict() if c.old else None,
                         "new": c.new.to_dict() if c.new else None,
                         "message": judged(c, lang)} for c in impact.changes],
            "errors": [d.to_dict() for d in stranded(diff, impact, lang)]}
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(diff: RulesetDiff, lang: str = i18n.DEFAULT, impact: Impact | None = None,
             now: str = "") -> str:
    """A heading, the headline and a table of changes with both positions: a pull-request
    comment (with the deals: a second table of the deals judged differently)."""
    ruleset = diff.new_id if diff.new_id == diff.old_id else f"{diff.old_id} → {diff.new_id}"
    out = [f"### {i18n.render('diff.heading', {}, lang)}: `{ruleset}`", "",
           _cell(_headline(diff, lang)), ""]
    if diff.changes:
        columns = [i18n.render(f"diff.column.{c}", {}, lang) for c in ("change", "what")] + [
            i18n.render(f"diff.{c}", {}, lang) for c in ("old", "new")]
        out.append("| " + " | ".join(columns) + " |")
        out.append("|" + "---|" * len(columns))
        for change in diff.changes:
            out.append(f"| `{change.code}` | {_cell(describe(change, lang))} | "
                       f"`{change.old.at}` | `{change.new.at}` |")
        out.append("")
    if impact is not None:
        out += [f"#### {i18n.render('impact.heading', {}, lang)}", "",
                _cell(_impact_headline(impact, now, lang)), ""]
        errors = stranded(diff, impact, lang)
        out.extend(f"- **error** `{d.file}:{d.line}:{d.column}` [{d.rule}] {_cell(d.message)}"
                   for d in errors)
        if errors:
            out.append("")
        if impact.changes:
            deal, what = (i18n.render(f"{k}", {}, lang)
                          for k in ("impact.column.deal", "diff.column.what"))
            out += [f"| {deal} | {what} |", "|---|---|"]
            out.extend(f"| `{c.deal}` ({_cell(c.origin)}) | {_cell(judged(c, lang))} |"
                       for c in impact.changes)
            out.append("")
    return "\n".join(out)


#: The formats by name: each takes the diff, the language, and optionally the impact on deals
#: and the ``now`` they were judged at.
FORMATS: dict[str, Callable[[RulesetDiff, str, Impact | None, str], str]] = {
    "text": text, "json": as_json, "markdown": markdown}

__all__ = ["FORMATS", "STRANDED_RULE", "as_json", "describe", "judged", "markdown",
           "stranded", "text", "value_text"]
