"""The ruleset JSON Schema file: valid, documented for editors, shape-only, and it accepts every
shipped ruleset while refusing documents of the wrong shape."""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import SHARED
from jsonschema import Draft202012Validator

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_PATH = ROOT / "schemas" / "ruleset.schema.json"
RULESETS = sorted((ROOT / "rulesets").glob("*.yaml"))
SHIPPED = {"b2b_sales.yaml", "inbound_only.yaml", "cold_only.yaml", "manufacturing.yaml",
           "retail.yaml"}
SCHEMA_LINE = "# yaml-language-server: $schema=../schemas/ruleset.schema.json"
REFERENCE = SHARED / "examples" / "b2b_sales.yaml"

# Keywords whose value is one subschema, a mapping of subschemas, or a list of subschemas.
ONE = ("additionalProperties", "items", "not", "if", "then", "else", "contains",
       "propertyNames", "unevaluatedProperties", "unevaluatedItems")
MAPPING = ("properties", "$defs", "dependentSchemas", "patternProperties")
LIST = ("anyOf", "oneOf", "allOf", "prefixItems")

# Keywords that check values; the linter owns those checks and gives better messages.
VALUE_KEYWORDS = {"pattern", "format", "patternProperties", "contentEncoding",
                  "contentMediaType"}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(schema)


def as_text(value: Any) -> Any:
    """Turn PyYAML's dates and timestamps back into ISO text, as the project's loader keeps them."""
    if isinstance(value, dt.date):  # datetime is a subclass of date
        return value.isoformat()
    if isinstance(value, dict):
        return {key: as_text(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_text(item) for item in value]
    return value


def load(path: Path) -> Any:
    return as_text(yaml.safe_load(path.read_text(encoding="utf-8")))


def walk(node: Any, pointer: str = "#") -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Yield (pointer, keyword that holds it, subschema) for the node and every subschema in it."""
    yield from _walk(node, pointer, "")


def _walk(node: Any, pointer: str, via: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    if not isinstance(node, dict):  # boolean schemas such as additionalProperties: false
        return
    yield pointer, via, node
    for keyword in ONE:
        if keyword in node:
            yield from _walk(node[keyword], f"{pointer}/{keyword}", keyword)
    for keyword in MAPPING:
        for name, sub in node.get(keyword, {}).items():
            yield from _walk(sub, f"{pointer}/{keyword}/{name}", keyword)
    for keyword in LIST:
        for index, sub in enumerate(node.get(keyword, [])):
            yield from _walk(sub, f"{pointer}/{keyword}/{index}", keyword)


def is_pure_ref(node: dict[str, Any]) -> bool:
    return set(node) == {"$ref"}


def needs_docs(via: str, node: dict[str, Any]) -> bool:
    """Which subschemas must carry a description and examples.

    Required: every property (under `properties`, at every level, $ref or not: the editor shows
    the property's own help), every `$defs` entry, and every map value schema that is not a
    plain $ref. The root needs a description only (the shipped rulesets are its examples).
    Exempt, as their help would only repeat the parent's: `items` of an array, the branches of
    anyOf/oneOf/allOf/not, the value of propertyNames, and a plain `$ref` (its target in `$defs`
    is documented).
    """
    if via in ("properties", "$defs"):
        return True
    if via == "additionalProperties":
        return not is_pure_ref(node)
    return False


# --- the schema file itself ------------------------------------------------------------------

def test_schema_is_a_valid_draft_2020_12_schema(schema: dict[str, Any]) -> None:
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "https://pipeline-rules.dev/schemas/ruleset.schema.json"
    assert schema["title"]
    assert schema["description"]


def test_shared_parts_live_in_defs(schema: dict[str, Any]) -> None:
    for name in ("condition", "duration", "stageId", "date", "notifyTarget"):
        assert name in schema["$defs"], name


def test_every_property_has_a_description_and_examples(schema: dict[str, Any]) -> None:
    missing = []
    for pointer, via, node in walk(schema):
        if not needs_docs(via, node):
            continue
        description = node.get("description")
        if not (isinstance(description, str) and description.strip() == description
                and description):
            missing.append(f"{pointer}: description")
        examples = node.get("examples")
        if not (isinstance(examples, list) and 1 <= len(examples) <= 3):
            missing.append(f"{pointer}: examples (1 to 3)")
    assert not missing, "\n".join(missing)


def test_every_example_fits_its_own_schema(schema: dict[str, Any]) -> None:
    wrong = []
    for pointer, _via, node in walk(schema):
        if "examples" not in node or pointer == "#":
            continue
        # Wrap the subschema so that its "#/$defs/..." references still resolve.
        wrapped = {**node, "$defs": schema["$defs"]}
        check = Draft202012Validator(wrapped)
        for example in node["examples"]:
            for error in check.iter_errors(example):
                wrong.append(f"{pointer}: {example!r}: {error.message}")
    assert not wrong, "\n".join(wrong)


def test_every_object_closes_or_types_its_keys(schema: dict[str, Any]) -> None:
    # Fixed-key objects say additionalProperties: false; maps keyed by user names (calendars,
    # actions, tasks.max_gap, condition maps, lint.rules) give their values a schema instead,
    # as do condition operator objects (plugins add operators; the linter checks them).
    loose = [pointer for pointer, _via, node in walk(schema)
             if node.get("type") == "object" and "additionalProperties" not in node]
    assert not loose, loose
    for pointer, _via, node in walk(schema):
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            kinds = node.get("type")
            assert kinds == "object" or (isinstance(kinds, list) and "object" in kinds), pointer


def test_schema_checks_shape_not_values(schema: dict[str, Any]) -> None:
    found = [f"{pointer}: {keyword}" for pointer, _via, node in walk(schema)
             for keyword in VALUE_KEYWORDS & set(node)]
    assert not found, found


# --- the shipped rulesets --------------------------------------------------------------------

def test_all_shipped_rulesets_are_present() -> None:
    assert {path.name for path in RULESETS} >= SHIPPED


@pytest.mark.parametrize("path", RULESETS, ids=lambda path: path.name)
def test_ruleset_validates(path: Path, validator: Draft202012Validator) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == SCHEMA_LINE
    assert lines[1].startswith("# ")
    errors = [f"/{'/'.join(map(str, error.absolute_path))}: {error.message}"
              for error in validator.iter_errors(load(path))]
    assert not errors, "\n".join(errors)


@pytest.mark.skipif(not REFERENCE.exists(),
                    reason="needs ../shared/examples/b2b_sales.yaml, the reference regulation "
                           "it compares the bundled copy with (CI has it)")
def test_b2b_sales_is_the_reference_with_the_schema_line() -> None:
    shipped = (ROOT / "rulesets" / "b2b_sales.yaml").read_bytes()
    assert shipped == SCHEMA_LINE.encode() + b"\n" + REFERENCE.read_bytes()


# --- documents of the wrong shape ------------------------------------------------------------

@pytest.fixture
def reference() -> dict[str, Any]:
    return copy.deepcopy(load(ROOT / "rulesets" / "b2b_sales.yaml"))


def _misspelt_key(doc: dict[str, Any]) -> None:
    doc["transitons"] = doc.pop("transitions")


def _stage_without_id(doc: dict[str, Any]) -> None:
    del doc["stages"][0]["id"]


def _sla_with_stage_and_span(doc: dict[str, Any]) -> None:
    doc["sla"][0].update({"from": "start", "to": "end"})


def _sla_with_stage_and_from(doc: dict[str, Any]) -> None:
    doc["sla"][0]["from"] = "start"


def _sla_with_neither(doc: dict[str, Any]) -> None:
    del doc["sla"][0]["stage"]


def _sla_with_from_only(doc: dict[str, Any]) -> None:
    del doc["sla"][3]["to"]


def _terminal_maybe(doc: dict[str, Any]) -> None:
    doc["stages"][6]["terminal"] = "maybe"


def _operator_greater(doc: dict[str, Any]) -> None:
    doc["start"][0]["when"] = {"amount": {"greater": 100000}}


def _empty_operator(doc: dict[str, Any]) -> None:
    doc["transitions"][0]["when"] = {"amount": {}}


def _version_two(doc: dict[str, Any]) -> None:
    doc["version"] = 2


def _no_stages(doc: dict[str, Any]) -> None:
    doc["stages"] = []


def _weekday_spelt_out(doc: dict[str, Any]) -> None:
    doc["calendars"]["workdays"]["week"][0] = "monday"


def _warn_hundred(doc: dict[str, Any]) -> None:
    doc["sla"][0]["warn"] = [50, 100]


def _notify_boss(doc: dict[str, Any]) -> None:
    doc["actions"]["escalate"]["notify"] = "boss"


def _lint_severity_fatal(doc: dict[str, Any]) -> None:
    doc["lint"] = {"rules": {"gap-stage": "fatal"}}


def _unknown_action_key(doc: dict[str, Any]) -> None:
    doc["actions"]["escalate"]["to"] = "manager"


BROKEN: list[tuple[Callable[[dict[str, Any]], None], tuple[str | int, ...]]] = [
    (_misspelt_key, ()),
    (_stage_without_id, ("stages", 0)),
    (_sla_with_stage_and_span, ("sla", 0)),
    (_sla_with_stage_and_from, ("sla", 0)),
    (_sla_with_neither, ("sla", 0)),
    (_sla_with_from_only, ("sla", 3)),
    (_terminal_maybe, ("stages", 6, "terminal")),
    (_empty_operator, ("transitions", 0, "when", "amount")),
    (_version_two, ("version",)),
    (_no_stages, ("stages",)),
    (_weekday_spelt_out, ("calendars", "workdays", "week", 0)),
    (_warn_hundred, ("sla", 0, "warn", 1)),
    (_notify_boss, ("actions", "escalate", "notify")),
    (_lint_severity_fatal, ("lint", "rules", "gap-stage")),
    (_unknown_action_key, ("actions", "escalate")),
]


@pytest.mark.parametrize(("breaks", "where"), BROKEN, ids=[f.__name__[1:] for f, _ in BROKEN])
def test_broken_document_fails_where_it_is_broken(
    breaks: Callable[[dict[str, Any]], None], where: tuple[str | int, ...],
    reference: dict[str, Any], validator: Draft202012Validator,
) -> None:
    assert validator.is_valid(reference)
    breaks(reference)
    paths = [tuple(error.absolute_path) for error in validator.iter_errors(reference)]
    assert paths, "the broken document validated"
    assert where in paths, paths


# --- values are the linter's business --------------------------------------------------------

def _odd_values(doc: dict[str, Any]) -> None:
    # An unknown condition operator may be a plugin's: the linter's unknown-operator rule
    # decides, knowing which plugins the ruleset enables.
    _operator_greater(doc)
    doc["timezone"] = "Mars/Olympus_Mons"
    doc["calendars"]["workdays"]["hours"] = ["25:00-26:00"]
    doc["calendars"]["workdays"]["holidays"] = {"country": "XX", "dates": ["2026-13-45"]}
    doc["stages"][0]["id"] = "Meeting Scheduled"
    doc["sla"][0]["limit"] = "soon"
    doc["sla"][0]["warn"] = [80, 50]
    doc["schedule"]["evaluate"] = "every day"
    doc["tasks"]["max_gap"]["no_such_stage"] = "a while"


def _minimal(doc: dict[str, Any]) -> None:
    for key in list(doc):
        if key not in ("version", "id", "stages"):
            del doc[key]
    doc["stages"] = [{"id": "open"}]


def _span_between_stages(doc: dict[str, Any]) -> None:
    doc["sla"].append({"id": "proposal-to-paid", "from": "proposal", "to": "paid",
                       "limit": "15 business days", "calendar": "workdays", "pausable": True})


def _all_condition_forms(doc: dict[str, Any]) -> None:
    doc["transitions"][0]["when"] = {
        "source": "cold", "owner": ["ivanov", "petrova"], "amount": {"gte": 1000, "lt": 5e6},
        "region": {"not_in": ["KZ"]}, "signed": {"gt": "2026-01-01"}, "vip": True,
        "discount": {"exists": False}, "stage": {"ne": "lost", "eq": "find_dm", "in": ["find_dm"]},
    }
    doc["transitions"][0]["unless"] = {"blacklisted": True}


@pytest.mark.parametrize("changes", [_odd_values, _minimal, _span_between_stages,
                                     _all_condition_forms], ids=lambda f: f.__name__[1:])
def test_well_shaped_documents_pass(
    changes: Callable[[dict[str, Any]], None], reference: dict[str, Any],
    validator: Draft202012Validator,
) -> None:
    changes(reference)
    errors = [error.message for error in validator.iter_errors(reference)]
    assert not errors, errors
