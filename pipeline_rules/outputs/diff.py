"""A ruleset diff as text (a terminal), JSON (a program) or Markdown (a pull-request comment)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pipeline_rules import i18n
from pipeline_rules.ruleset.diff import ADDED, CHANGED, NOUNS, Change, RulesetDiff


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


def text(diff: RulesetDiff, lang: str = i18n.DEFAULT) -> str:
    """``code: sentence`` per change, with where it stands in the old and the new file."""
    old_word, new_word = i18n.render("diff.old", {}, lang), i18n.render("diff.new", {}, lang)
    width = max(len(old_word), len(new_word)) + 1
    out = [_headline(diff, lang)]
    for change in diff.changes:
        out.append(f"{change.code}: {describe(change, lang)}")
        out.append(f"  {(old_word + ':').ljust(width)} {change.old.at} {change.old.pointer}")
        out.append(f"  {(new_word + ':').ljust(width)} {change.new.at} {change.new.pointer}")
    return "\n".join(out) + "\n"


def as_json(diff: RulesetDiff, lang: str = i18n.DEFAULT) -> str:
    """The diff as one JSON document, each change with its sentence in ``lang``."""
    data = diff.to_dict()
    for item, change in zip(data["changes"], diff.changes, strict=True):
        item["message"] = describe(change, lang)
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(diff: RulesetDiff, lang: str = i18n.DEFAULT) -> str:
    """A heading, the headline and a table of changes with both positions: a pull-request
    comment."""
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
    return "\n".join(out)


#: The formats by name.
FORMATS: dict[str, Callable[[RulesetDiff, str], str]] = {
    "text": text, "json": as_json, "markdown": markdown}

__all__ = ["FORMATS", "as_json", "describe", "markdown", "text", "value_text"]
