"""The ruleset JSON Schema: loading it, validating a document, and explaining its errors.

The schema checks a document's shape (types, allowed and required keys, fixed words). jsonschema's
messages talk about JSON; users edit YAML, so each error is turned into a problem at the
offending node with a plain message, and an unknown key or word gets the nearest known one as a
suggestion ("did you mean transitions?").
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from pipeline_rules.i18n import Term
from pipeline_rules.ruleset.problems import Problem
from pipeline_rules.ruleset.source import join
from pipeline_rules.suggest import nearest

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
    """Every schema problem of ``data``, one per node and cause, in document order."""
    if data is None:
        return [Problem("schema.empty")]
    problems: dict[tuple[str, str, str], Problem] = {}
    for error in _validator(name).iter_errors(data):
        for problem in _explain(error):
            problems.setdefault((problem.path, problem.message, str(problem.args)), problem)
    return list(problems.values())


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


def _durations(examples: list[Any]) -> bool:
    """Whether a schema node's examples are all durations (the node holds one)."""
    from pipeline_rules.time.durations import DurationError, parse_duration

    try:
        for example in examples:
            parse_duration(str(example))
    except DurationError:
        return False
    return True


def _explain(error: Any) -> Iterator[Problem]:
    path = _pointer(error.absolute_path)
    kind = error.validator
    instance = error.instance
    subschema = error.schema if isinstance(error.schema, dict) else {}
    if kind == "additionalProperties" and isinstance(instance, dict):
        known = list(subschema.get("properties", {}))
        for key in instance:
            if key not in known:
                suggestion = nearest(str(key), known)
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
        suggestion = nearest(str(instance), allowed)
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
