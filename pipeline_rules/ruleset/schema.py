"""The ruleset JSON Schema: loading it, validating a document, and explaining its errors.

The schema checks a document's shape (types, allowed and required keys, fixed words). jsonschema's
messages talk about JSON; users edit YAML, so each error is turned into a problem at the
offending node with a plain message, and an unknown key or word gets the nearest known one as a
suggestion ("did you mean transitions?").
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

from pipeline_rules.i18n import Term
from pipeline_rules.ruleset.problems import Problem
from pipeline_rules.ruleset.source import join
from pipeline_rules.suggest import Suggestions

SCHEMAS = ("ruleset", "deal", "finding", "mapping")



def schema_text(name: str) -> str:
    """The JSON text of a packaged schema (``ruleset``)."""
    if name not in SCHEMAS:
        raise KeyError(name)
    return (Path(__file__).parent.parent / "schemas" / f"{name}.schema.json").read_text("utf-8")


@cache
def schema(name: str) -> Mapping[str, Any]:
    """A packaged schema, parsed."""
    loaded: dict[str, Any] = json.loads(schema_text(name))
    return loaded


_ANNOTATIONS = frozenset({"description", "examples", "default", "title", "$comment"})


def inline_refs(node: Any, defs: Mapping[str, Any]) -> Any:
    """The schema with every local ``$ref`` replaced by the definition it names.

    Validation gives the same verdicts; it is several times faster because jsonschema no
    longer resolves a reference at every node of a 10,000-transition document. A reference
    whose siblings would clash with the definition's own keywords keeps both, under ``allOf``.
    """
    if isinstance(node, list):
        return [inline_refs(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    result = {k: inline_refs(v, defs) for k, v in node.items() if k not in ("$ref", "$defs")}
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = inline_refs(defs[ref.removeprefix("#/$defs/")], defs)
        clash = (set(target) & set(result)) - _ANNOTATIONS
        if clash:
            return {**result, "allOf": [*result.get("allOf", []), target]}
        return {**target, **result}
    return result


@cache
def _validator(name: str) -> Any:
    # Imported here: jsonschema costs ~0.06 s at start-up and only this path needs it.
    from jsonschema import Draft202012Validator

    loaded = schema(name)
    return Draft202012Validator(inline_refs(loaded, loaded.get("$defs", {})))


def validate(data: object, name: str = "ruleset") -> list[Problem]:
    """Every schema problem of ``data``, one per node and cause, in document order (the
    entries of a long top-level list by kind: see :func:`_alike`)."""
    if data is None:
        return [Problem("schema.empty")]
    problems: dict[tuple[str, str, str], Problem] = {}
    # One suggester per list of known words: a document with thousands of unknown keys asks
    # for thousands of suggestions among the same few names.
    suggesters: dict[tuple[str, ...], Suggestions] = {}
    validator = _validator(name)
    reduced, members = _alike(data, validator.schema)
    for error in validator.iter_errors(reduced):
        found = list(_explain(error, suggesters))
        path = list(error.absolute_path)
        group = members.get(path[0]) if len(path) > 1 else None
        if group is None:
            copies = found
        else:
            prefix = join("", path[0], path[1])
            copies = [replace(p, path=join("", path[0], index) + p.path[len(prefix):])
                      for index in group[path[1]] for p in found]
        for problem in copies:
            problems.setdefault((problem.path, problem.message, str(problem.args)), problem)
    return list(problems.values())


#: Top-level lists shorter than this are validated entry by entry as they are.
ALIKE_MIN = 64
#: Keywords that look at more of a string than its type: a string under a schema with none of
#: them is valid exactly when any other string is.
_STRING_KEYWORDS = frozenset({"enum", "const", "pattern", "minLength", "maxLength", "format",
                              "oneOf", "anyOf", "allOf", "not", "if", "then", "else", "$ref",
                              "$dynamicRef", "contentEncoding", "contentMediaType"})
# Only keywords whose errors are explained without quoting the instance (see _explain).
_OBJECT_KEYWORDS = frozenset({"type", "properties", "required", "additionalProperties",
                              "dependentRequired", "minProperties"})
_ARRAY_KEYWORDS = frozenset({"type", "items", "minItems"})


def _alike(data: object, schema: Mapping[str, Any]) -> tuple[object, dict[str, list[list[int]]]]:
    """``data`` with each long top-level list cut to one entry per kind, and for each such list
    the indices each kept entry stands for.

    Two entries are of one kind when they differ only in strings whose value the schema does
    not look at (a stage's id, a move's ``from`` and ``to``: their type only), so they get the
    same errors at the same places inside them. jsonschema spends ~50 µs on each entry; a
    100,000-stage file has a handful of kinds.
    """
    properties = schema.get("properties", {})
    if not isinstance(data, dict) or not isinstance(properties, dict):
        return data, {}
    reduced = dict(data)
    members: dict[str, list[list[int]]] = {}
    for key, value in data.items():
        array = properties.get(key)
        if (not isinstance(value, list) or len(value) < ALIKE_MIN or not isinstance(array, dict)
                or set(array) - _ANNOTATIONS - _ARRAY_KEYWORDS
                or array.get("minItems", 0) > 1
                or not isinstance(array.get("items"), dict)):
            continue
        kinds: dict[str, int] = {}
        kept: list[object] = []
        groups: list[list[int]] = []
        for index, entry in enumerate(value):
            kind = repr(_blank(entry, array["items"]))
            at = kinds.setdefault(kind, len(kept))
            if at == len(kept):
                kept.append(entry)
                groups.append([])
            groups[at].append(index)
        reduced[key] = kept
        members[key] = groups
    return reduced, members


def _blank(instance: object, schema: object) -> object:
    """``instance`` with every string whose value ``schema`` ignores replaced by ''."""
    if not isinstance(schema, dict):
        return instance
    if isinstance(instance, str):
        return instance if schema.keys() & _STRING_KEYWORDS else ""
    if isinstance(instance, dict):
        if set(schema) - _ANNOTATIONS - _OBJECT_KEYWORDS:
            return instance
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        blanked: dict[object, object] = {}
        for key, value in instance.items():
            sub = properties.get(key, extra) if isinstance(properties, dict) else None
            blanked[key] = _blank(value, sub) if isinstance(sub, dict) else value
        return blanked
    if isinstance(instance, list):
        if set(schema) - _ANNOTATIONS - _ARRAY_KEYWORDS:
            return instance
        return [_blank(item, schema.get("items")) for item in instance]
    return instance


def _pointer(parts: Iterable[object]) -> str:
    return join("", *(p if isinstance(p, int) else str(p) for p in parts))


def _type_name(value: object) -> Term:
    for name, kind in (("boolean", bool), ("object", dict), ("array", list), ("string", str),
                       ("integer", int), ("number", float)):
        if isinstance(value, kind):
            return Term((f"type.{name}",))
    return Term(("type.null",))


def _required_branches(branches: Any) -> list[list[str]]:
    """The key sets of a ``oneOf`` whose branches only list required keys (else [])."""
    if not all(isinstance(b, dict) and set(b) == {"required"} for b in branches):
        return []
    return [list(b["required"]) for b in branches]


def _one_of_required(branches: Any, instance: dict[str, Any], path: str) -> Iterator[Problem]:
    """Explain "give exactly one of these groups of keys" in words."""
    groups = _required_branches(branches)
    options = Term(tuple(" + ".join(f"'{k}'" for k in group) for group in groups))
    complete = [g for g in groups if all(k in instance for k in g)]
    if len(complete) > 1:
        yield Problem("schema.one-of-many", {"options": options}, path=path)
    elif not complete and not any(k in instance for g in groups for k in g):
        yield Problem("schema.one-of-none", {"options": options}, path=path)
    # A group given in part is reported by dependentRequired ("'from' also needs 'to'").


def _suggest(suggesters: dict[tuple[str, ...], Suggestions], word: str,
             known: list[str]) -> str:
    key = tuple(known)
    suggest = suggesters.get(key)
    if suggest is None:
        suggest = suggesters[key] = Suggestions(known)
    return suggest(word)


def _durations(examples: list[Any]) -> bool:
    """Whether a schema node's examples are all durations (the node holds one)."""
    from pipeline_rules.time.durations import DurationError, parse_duration

    try:
        for example in examples:
            parse_duration(str(example))
    except DurationError:
        return False
    return True


def _explain(error: Any, suggesters: dict[tuple[str, ...], Suggestions]) -> Iterator[Problem]:
    path = _pointer(error.absolute_path)
    kind = error.validator
    instance = error.instance
    subschema = error.schema if isinstance(error.schema, dict) else {}
    if kind == "additionalProperties" and isinstance(instance, dict):
        known = list(subschema.get("properties", {}))
        for key in instance:
            if key not in known:
                suggestion = _suggest(suggesters, str(key), known)
                yield Problem("schema.unknown-key-suggest" if suggestion else "schema.unknown-key",
                              {"key": key, "suggestion": suggestion,
                               "known": ", ".join(known)},
                              path=join(path, key), at_key=True)
    elif kind == "required" and isinstance(instance, dict):
        for key in error.validator_value:
            if key not in instance:
                yield Problem("schema.required", {"key": key}, path=path, at_key=bool(path))
    elif kind == "type":
        expected = error.validator_value
        names = tuple(f"type.{t}" for t in (expected if isinstance(expected, list)
                                            else [expected]))
        key = "schema.top-level" if not path and expected == "object" else "schema.type"
        examples = subschema.get("examples")
        if expected == "string" and isinstance(instance, int | float) and \
                not isinstance(instance, bool) and examples and _durations(examples):
            # A bare number where text is expected is mostly a unit left out (limit: 60):
            # the schema's own examples show how it is written.
            yield Problem("schema.type-number", {
                "found": _type_name(instance),
                "examples": ", ".join(f"'{e}'" for e in examples)}, path=path)
            return
        yield Problem(key, {"expected": Term(names), "found": _type_name(instance)}, path=path)
    elif kind == "enum":
        allowed = [str(v) for v in error.validator_value]
        suggestion = _suggest(suggesters, str(instance), allowed)
        yield Problem("schema.enum-suggest" if suggestion else "schema.enum",
                      {"value": instance, "allowed": ", ".join(allowed),
                       "suggestion": suggestion}, path=path)
    elif kind == "const":
        expected = error.validator_value
        key = "schema.const" if type(instance) is type(expected) else "schema.const-type"
        yield Problem(key, {"value": instance, "expected": json.dumps(expected),
                            "found": _type_name(instance)}, path=path)
    elif kind == "oneOf" and _required_branches(error.validator_value) and \
            isinstance(instance, dict):
        yield from _one_of_required(error.validator_value, instance, path)
    elif kind in ("oneOf", "anyOf", "not"):
        description = subschema.get("description", "")
        yield Problem("schema.form", {"description": description or error.message}, path=path)
    elif kind == "dependentRequired":
        for key, needs in error.validator_value.items():
            if key in instance:
                for other in needs:
                    if other not in instance:
                        yield Problem("schema.depends", {"key": key, "other": other},
                                      path=join(path, key), at_key=True)
    elif kind == "minItems":
        yield Problem("schema.min-items", {"count": error.validator_value}, path=path)
    elif kind == "uniqueItems":
        yield Problem("schema.unique", {}, path=path)
    elif kind == "minProperties":
        yield Problem("schema.min-properties", {}, path=path)
    else:
        yield Problem("schema.generic", {"detail": error.message}, path=path)
