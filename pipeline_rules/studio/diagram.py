"""The pipeline as the studio draws it: stages placed in columns, starts, moves with their
conditions, SLA limits on the stages, and each part marked broken or flagged by lint.

The stages and moves come from :func:`pipeline_rules.enforce.diagram.draft_parts`, the model
``pipeline-rules graph`` draws drafts from, so a draft with errors is drawn here exactly as far
as it is drawn there. This module adds what a page needs: places, the lines of each stage in
the text, and what a click on a stage shows. The page turns it into SVG.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Sequence
from typing import Any

from pipeline_rules.enforce.diagram import draft_parts
from pipeline_rules.lint import Diagnostic
from pipeline_rules.ruleset.conditions import CompiledCondition
from pipeline_rules.ruleset.loader import Document
from pipeline_rules.ruleset.model import (
    Condition,
    Ruleset,
    StartDef,
    TransitionDef,
    build_ruleset,
)
from pipeline_rules.ruleset.source import SourceMap

_QUOTED = re.compile(r"'([^']+)'")


def _describe(condition: Condition) -> str:
    # The compiled condition's wording, without compiling its test (a draft's value may not
    # compile): the label reads as `pipeline-rules graph` writes it.
    return CompiledCondition(condition, bool).describe()


def _label(definition: StartDef | TransitionDef) -> str:
    parts: list[str] = []
    if isinstance(definition, TransitionDef):
        if definition.require:
            parts.append("require: " + ", ".join(definition.require))
        parts += ["when: " + _describe(c) for c in definition.when]
        if definition.unless:
            parts.append("unless: " + " and ".join(_describe(c) for c in definition.unless))
    else:
        parts += [_describe(c) for c in definition.when]
    return "; ".join(parts)


def _lines_of(positions: SourceMap, lines: Sequence[str], path: str) -> tuple[int, int, int]:
    """The first line, column and last line of the list item at ``path``: the item's own
    line and every line below it indented deeper than its dash (blank lines inside kept)."""
    position = positions.value(path)
    first = position.line
    text = lines[first - 1] if 0 < first <= len(lines) else ""
    dash = text.rfind("- ", 0, position.column)
    indent = dash if dash >= 0 else len(text) - len(text.lstrip())
    last = first
    for number in range(first + 1, len(lines) + 1):
        line = lines[number - 1]
        if not line.strip():
            continue
        if len(line) - len(line.lstrip()) <= indent:
            break
        last = number
    return first, position.column, last


def _ranks(stages: Sequence[str], terminal: set[str], edges: Sequence[tuple[str, str]],
           starts: Sequence[str]) -> dict[str, int]:
    """A column per stage: open stages by their shortest distance from a start stage, the
    ends in the column after the last open one, stages no start reaches after them all."""
    following: dict[str, list[str]] = {}
    for source, target in edges:
        following.setdefault(source, []).append(target)
    rank: dict[str, int] = {}
    queue: deque[str] = deque()
    for stage in starts:
        if stage in stages and stage not in rank and stage not in terminal:
            rank[stage] = 0
            queue.append(stage)
    while queue:
        stage = queue.popleft()
        for target in following.get(stage, ()):
            if target not in rank and target not in terminal:
                rank[target] = rank[stage] + 1
                queue.append(target)
    last = max(rank.values(), default=-1)
    for stage in stages:
        if stage not in rank and stage not in terminal:
            last += 1
            rank[stage] = last
    for stage in stages:
        if stage in terminal:
            rank[stage] = last + 1
    return rank


def _flags(diagnostics: Sequence[Diagnostic], path: str, stage: str) -> list[dict[str, Any]]:
    """The lint findings that lie in a stage or name it."""
    found = []
    for d in diagnostics:
        if d.path == path or d.path.startswith(path + "/") or stage in _QUOTED.findall(
                d.message):
            found.append({"rule": d.rule, "severity": d.severity.value, "message": d.message,
                          "line": d.line})
    return found


def _model(ruleset: Ruleset, diagnostics: Sequence[Diagnostic], lines: Sequence[str]
           ) -> dict[str, Any]:
    errors = [d.path for d in diagnostics if d.severity.value == "error" and d.path]
    stages, edges = draft_parts(ruleset, errors)
    declared = {s.id: (i, s) for i, s in enumerate(ruleset.stages) if s.id}
    won = {r.name for r in ruleset.won} | {s.id for s in ruleset.stages if s.terminal == "won"}
    lost = {r.name for r in ruleset.lost} | {s.id for s in ruleset.stages
                                             if s.terminal == "lost"}
    names = [name for name, _ in stages]
    moves = [(a, b) for a, b, _, _ in edges if not a.startswith("start:") and a != "*"]
    starts = [s.stage.name for s in ruleset.starts]
    rank = _ranks(names, won | lost, moves, starts)
    tasks = ruleset.tasks
    gaps = {g.stage: g.duration for g in tasks.max_gap} if tasks else {}
    drawn: list[dict[str, Any]] = []
    rows: dict[int, int] = {}
    for name, broken in stages:
        column = rank[name]
        row = rows.get(column, 0)
        rows[column] = row + 1
        index, stage = declared.get(name, (None, None))
        kind = "won" if name in won else "lost" if name in lost else "open"
        item: dict[str, Any] = {"id": name, "title": name, "kind": kind, "broken": broken,
                                "declared": stage is not None, "rank": column, "row": row,
                                "line": 0, "column": 0, "end_line": 0, "index": index,
                                "slas": [], "tasks": None, "entry": [],
                                "flags": _flags(diagnostics, stage.path if stage else
                                                f"/missing/{name}", name)}
        if stage is not None:
            first, col, last = _lines_of(ruleset.positions, lines, stage.path)
            at = ruleset.positions.value(stage.path + "/id")
            item.update(title=stage.title, line=first, column=col, end_line=last,
                        description=stage.description, id_line=at.line, id_column=at.column)
            item["entry"] = [{"kind": a.kind, "title": a.title, "due": a.due,
                              "line": ruleset.positions.value(a.path).line}
                             for a in stage.on_enter]
            if tasks is not None and kind == "open":
                item["tasks"] = {"require_next": tasks.require_next,
                                 "max_gap": gaps.get(name, gaps.get("default")),
                                 "line": ruleset.positions.value(tasks.path).line}
        drawn.append(item)
    by_id = {s["id"]: s for s in drawn}
    spans = []
    for sla in ruleset.slas:
        entry = {"id": sla.id, "limit": sla.limit, "warn": list(sla.warn),
                 "calendar": sla.calendar.name if sla.calendar else None,
                 "line": ruleset.positions.value(sla.path).line}
        if sla.stage is not None and sla.stage.name in by_id:
            by_id[sla.stage.name]["slas"].append(entry)
        else:
            spans.append(entry | {"from": sla.span_from.name if sla.span_from else None,
                                  "to": sla.span_to.name if sla.span_to else None})
    drawn_moves = []
    entries = []
    for source, target, broken, definition in edges:
        line = ruleset.positions.value(definition.path).line
        if source.startswith("start:"):
            entries.append({"id": source.removeprefix("start:"), "to": target,
                            "label": _label(definition), "broken": broken, "line": line})
        else:
            drawn_moves.append({"from": source, "to": target, "label": _label(definition),
                                "broken": broken, "line": line})
    return {"id": ruleset.id, "title": ruleset.title, "stages": drawn, "moves": drawn_moves,
            "starts": entries, "spans": spans, "columns": max(rank.values(), default=-1) + 1}


def draw(document: Document | None, diagnostics: Sequence[Diagnostic]) -> dict[str, Any]:
    """The diagram of a document (a draft with errors drawn as far as it reads); a
    ``message`` says why nothing is drawn when the text is not a ruleset document at all."""
    errors = sum(d.severity.value == "error" for d in diagnostics)
    if document is None or not isinstance(document.data, dict):
        first = next((d for d in diagnostics if d.severity.value == "error"), None)
        why = (f"line {first.line}: {first.message}" if first is not None
               else "the text is not a mapping of ruleset keys")
        return {"stages": [], "moves": [], "starts": [], "spans": [], "columns": 0,
                "errors": errors, "message": f"nothing to draw: {why}"}
    try:
        ruleset = build_ruleset(document)
    except (TypeError, ValueError, AttributeError, KeyError) as err:
        # A draft whose broken parts the model cannot be built from: lint says what is wrong.
        return {"stages": [], "moves": [], "starts": [], "spans": [], "columns": 0,
                "errors": errors, "message": f"nothing to draw until the errors are fixed "
                f"({type(err).__name__})"}
    model = _model(ruleset, diagnostics, document.source.text.splitlines())
    model["errors"] = errors
    return model


__all__ = ["draw"]
