"""A semantic diff of two rulesets: what a change to a regulation changes, not which lines moved.

Items are matched by what names them, never by their place in a list: stages, SLAs, reminders
and starts by ``id``, calendars and actions by their key, moves by the pair of stages they join
(after ``from: "*"`` and lists of sources are expanded, so writing a move another way is not a
change). Reordering, comments and quoting change nothing.

Every section is compared — the ones this module names and any other (a section added to the
format later shows up by its JSON pointer, generically, until it is given a name here). Lists of
objects that all carry a unique ``id`` are matched by it wherever they appear; other lists are
compared as whole values. Each change says where it stands in both files (a pointer and
``file:line:column``); an item added or removed is placed, in the file that lacks it, at the
nearest enclosing node that exists.

Pure: two compiled rulesets in, changes out.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pipeline_rules.ruleset.compiled import CompiledRuleset, Move
from pipeline_rules.ruleset.loader import load_document
from pipeline_rules.ruleset.model import ANY_STAGE, Ruleset
from pipeline_rules.ruleset.source import join, split

ADDED = "added"
REMOVED = "removed"
CHANGED = "changed"

#: What one item of a named section is called in a change code (other sections: their key).
NOUNS = {"stages": "stage", "transitions": "move", "sla": "sla", "calendars": "calendar",
         "tasks": "task-rule", "reminders": "reminder", "actions": "action", "start": "start",
         "end": "end"}
#: Sections whose items are matched by the key they are written under.
_KEYED_MAPS = ("calendars", "actions")
#: Fields whose change has a code of its own: (section, field) → code.
_SPECIAL = {("stages", "title"): "stage-renamed", ("sla", "limit"): "sla-limit",
            ("sla", "warn"): "sla-warn"}


@dataclass(frozen=True)
class Side:
    """Where a change stands in one of the two files: a JSON pointer and its position. The
    value is there only when the changed thing exists in that file."""

    pointer: str
    file: str
    line: int
    column: int
    present: bool
    value: Any = None

    @property
    def at(self) -> str:
        """``file:line:column``."""
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Change:
    """One semantic change: its code (``sla-limit``, ``stage-added``, ``routing-changed``…), its
    kind (added, removed, changed), the section and item it is in (``subject``: an id, a key,
    or ``from → to`` for a move), the field inside the item (empty for the whole item) and
    where it stands in the old and the new file."""

    code: str
    kind: str
    section: str
    subject: str
    field: str
    old: Side
    new: Side

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; a side's ``value`` only when the thing is in that file."""
        def side(s: Side) -> dict[str, Any]:
            data: dict[str, Any] = {"pointer": s.pointer, "file": s.file, "line": s.line,
                                    "column": s.column}
            if s.present:
                data["value"] = s.value
            return data
        return {"code": self.code, "kind": self.kind, "section": self.section,
                "subject": self.subject, "field": self.field, "old": side(self.old),
                "new": side(self.new)}


@dataclass(frozen=True)
class RulesetDiff:
    """The changes between an old and a new ruleset, in section order."""

    old_file: str
    new_file: str
    old_id: str
    new_id: str
    changes: tuple[Change, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"old": {"file": self.old_file, "ruleset": self.old_id},
                "new": {"file": self.new_file, "ruleset": self.new_id},
                "changes": [c.to_dict() for c in self.changes]}


class _Doc:
    """One side: the raw data of the ruleset's document and its positions."""

    def __init__(self, ruleset: Ruleset) -> None:
        self.ruleset = ruleset
        document = load_document(ruleset.source)
        self.data: Mapping[str, Any] = document.data if isinstance(document.data, dict) else {}

    def side(self, pointer: str, present: bool, value: Any = None) -> Side:
        positions = self.ruleset.positions
        found = pointer
        while found and not positions.has(found):
            found = join("", *split(found)[:-1])
        where = positions.value(found) if present and not isinstance(value, dict | list) \
            else positions.key(found)
        # What is absent is placed at the nearest enclosing node that exists.
        return Side(pointer if present else found, self.ruleset.source.name, where.line,
                    where.column, present, value if present else None)


def diff_rulesets(old: CompiledRuleset, new: CompiledRuleset) -> RulesetDiff:
    """The semantic changes from ``old`` to ``new``."""
    a, b = _Doc(old.ruleset), _Doc(new.ruleset)
    changes: list[Change] = []
    sections = list(a.data) + [k for k in b.data if k not in a.data]
    for section in sections:
        if section == "transitions":
            changes.extend(_moves(old, new, a, b))
            continue
        changes.extend(_section(section, a, b))
    return RulesetDiff(old.ruleset.source.name, new.ruleset.source.name, old.id, new.id,
                       tuple(changes))


# -- sections ---------------------------------------------------------------------------------

def _section(section: str, a: _Doc, b: _Doc) -> Iterator[Change]:
    pointer = join("", section)
    old, new = a.data.get(section), b.data.get(section)
    in_old, in_new = section in a.data, section in b.data
    if not (in_old and in_new):
        # A collection one side lacks: its items are added or removed one by one.
        kind = type(new if in_new else old)
        if kind not in (list, dict):
            yield _change(section, section, "", a, b, pointer, pointer, in_old, in_new, old,
                          new)
            return
        old, new = (old if in_old else kind()), (new if in_new else kind())
    items = _items(section, old, new)
    if items is None:  # not a keyed collection: compare the section's values
        for field, op, np, o, n, po, pn in _values(old, new, pointer, pointer):
            yield _change(section, section, field, a, b, op, np, po, pn, o, n)
        return
    for subject, op, np, o, n, po, pn in items:
        if not (po and pn):
            yield _change(section, subject, "", a, b, op, np, po, pn, o, n)
            continue
        for field, fo, fn, vo, vn, fpo, fpn in _values(o, n, op, np):
            yield _change(section, subject, field, a, b, fo, fn, fpo, fpn, vo, vn)


_Item = tuple[str, str, str, Any, Any, bool, bool]


def _items(section: str, old: Any, new: Any) -> list[_Item] | None:
    """The items of a keyed section, matched: (subject, old pointer, new pointer, old value,
    new value, in old, in new) — or None when the section is not a keyed collection."""
    base = join("", section)
    if section in _KEYED_MAPS and isinstance(old, dict) and isinstance(new, dict):
        return [(str(k), join(base, k) if k in old else base, join(base, k) if k in new else base,
                 old.get(k), new.get(k), k in old, k in new)
                for k in list(old) + [k for k in new if k not in old]]
    old_ids, new_ids = _by_id(old), _by_id(new)
    if old_ids is None or new_ids is None:
        return None
    names = list(old_ids) + [k for k in new_ids if k not in old_ids]
    return [(k, join(base, old_ids[k][0]) if k in old_ids else base,
             join(base, new_ids[k][0]) if k in new_ids else base,
             old_ids.get(k, (0, None))[1], new_ids.get(k, (0, None))[1],
             k in old_ids, k in new_ids) for k in names]


def _by_id(value: Any) -> dict[str, tuple[int, Any]] | None:
    """A list of objects each with a unique ``id``, by id (index, item); None otherwise."""
    if not isinstance(value, list) or not all(isinstance(v, dict) and "id" in v for v in value):
        return None
    found = {str(v["id"]): (i, v) for i, v in enumerate(value)}
    return found if len(found) == len(value) else None


_Leaf = tuple[str, str, str, Any, Any, bool, bool]


def _values(old: Any, new: Any, op: str, np: str, field: str = "") -> Iterator[_Leaf]:
    """The differing leaves of two values: (field, old pointer, new pointer, old, new, in old,
    in new). Maps are compared key by key, lists of objects with ids id by id, other lists and
    scalars as values."""
    if old == new and type(old) is type(new):
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for key in list(old) + [k for k in new if k not in old]:
            sub = f"{field}/{key}" if field else str(key)
            po, pn = key in old, key in new
            yield from (_values(old.get(key), new.get(key), join(op, key), join(np, key), sub)
                        if po and pn else
                        [(sub, join(op, key) if po else op, join(np, key) if pn else np,
                          old.get(key), new.get(key), po, pn)])
        return
    old_ids, new_ids = _by_id(old), _by_id(new)
    if old_ids is not None and new_ids is not None and (old_ids or new_ids):
        for key in list(old_ids) + [k for k in new_ids if k not in old_ids]:
            sub = f"{field}[{key}]"
            po, pn = key in old_ids, key in new_ids
            o_at = join(op, old_ids[key][0]) if po else op
            n_at = join(np, new_ids[key][0]) if pn else np
            o, n = old_ids.get(key, (0, None))[1], new_ids.get(key, (0, None))[1]
            yield from (_values(o, n, o_at, n_at, sub) if po and pn
                        else [(sub, o_at, n_at, o, n, po, pn)])
        return
    yield field, op, np, old, new, True, True


def _change(section: str, subject: str, field: str, a: _Doc, b: _Doc, op: str, np: str,
            in_old: bool, in_new: bool, old: Any, new: Any) -> Change:
    kind = CHANGED if in_old and in_new else ADDED if in_new else REMOVED
    noun = NOUNS.get(section, section)
    code = _SPECIAL.get((section, field), f"{noun}-{kind}") if kind == CHANGED and field \
        else f"{noun}-{kind}"
    if field and kind != CHANGED:
        code = f"{noun}-changed"  # a field added to or removed from an item changes the item
    return Change(code, kind, section, subject, field, a.side(op, in_old, old),
                  b.side(np, in_new, new))


# -- moves ------------------------------------------------------------------------------------

#: A move's fields that are its guards; ``from`` and ``to`` are what names it.
_NAMING = ("from", "to")


def _moves(old: CompiledRuleset, new: CompiledRuleset, a: _Doc, b: _Doc) -> Iterator[Change]:
    """Moves added and removed (expanded, by the stages they join), and changes to the guards
    of a move both declare, once per pair of declarations."""
    olds = {(m.source, m.target): m for m in old.moves}
    news = {(m.source, m.target): m for m in new.moves}
    seen: set[tuple[str, str, str]] = set()
    for pair in list(olds) + [p for p in news if p not in olds]:
        o, n = olds.get(pair), news.get(pair)
        subject = f"{pair[0]} → {pair[1]}"
        if o is None or n is None:
            op = o.definition.path if o else "/transitions"
            np = n.definition.path if n else "/transitions"
            yield _change("transitions", subject, "", a, b, op, np, o is not None,
                          n is not None, _written(a, o), _written(b, n))
            continue
        op, np = o.definition.path, n.definition.path
        for field, fo, fn, vo, vn, po, pn in _values(_guards(a, o), _guards(b, n), op, np):
            if (op, np, field) in seen:
                continue
            seen.add((op, np, field))
            yield _change("transitions", _declared(o, n), field, a, b, fo, fn, po, pn, vo, vn)


def _written(doc: _Doc, move: Move | None) -> Any:
    if move is None:
        return None
    found: Any = doc.data
    for token in split(move.definition.path):
        found = found[int(token)] if isinstance(found, list) else found[token]
    return found


def _guards(doc: _Doc, move: Move) -> dict[str, Any]:
    written = _written(doc, move)
    return {k: v for k, v in written.items() if k not in _NAMING} \
        if isinstance(written, dict) else {}


def _declared(old: Move, new: Move) -> str:
    """A move as its declarations write it (``* → lost`` when a wildcard declares it)."""
    source = ANY_STAGE if old.definition.any_source and new.definition.any_source else old.source
    return f"{source} → {old.target}"


__all__ = ["ADDED", "CHANGED", "NOUNS", "REMOVED", "Change", "RulesetDiff", "Side",
           "diff_rulesets"]
