"""Compiled rulesets pickle: worker processes can be sent them instead of compiling again."""

from __future__ import annotations

import json
import pickle
from dataclasses import fields
from pathlib import Path

import pytest

from pipeline_rules.deals.model import parse_deal
from pipeline_rules.ruleset.catalog import load_ruleset
from pipeline_rules.ruleset.compiled import CompiledRuleset, compile_ruleset
from pipeline_rules.ruleset.conditions import compile_conditions
from pipeline_rules.ruleset.model import Condition
from pipeline_rules.ruleset.plugins import load_plugins

ROOT = Path(__file__).resolve().parent.parent

VALUES = (None, "", [], {}, 0, 5, 5.0, "5", " 5 ", True, False, "smb", [1], {"a": 1}, 5000,
          "2026-01-01", -1.5)
OPERANDS = {
    "eq": (5, "smb", True), "ne": (5, "smb", False), "in": (["smb", 5], [True], [[1], 3]),
    "not_in": (["smb", 5], [False]), "gt": (1000, "2026-01-01"), "gte": (5,), "lt": (5,),
    "lte": ("2026-01-01",), "exists": (True, False), "divisible_by": (1000, 5),
}


class _Deal:
    def __init__(self, value: object) -> None:
        self.fields = {} if value is None else {"amount": value}


@pytest.mark.parametrize("op", sorted(OPERANDS))
def test_every_condition_pickles_and_tests_the_same(op: str) -> None:
    operators = load_plugins(["divisible_by"]).conditions
    compiled = compile_conditions([Condition("amount", op, v, "") for v in OPERANDS[op]],
                                  operators)
    again = pickle.loads(pickle.dumps(compiled))
    assert again == compiled
    for before, after in zip(compiled, again, strict=True):
        assert [after.holds(_Deal(v)) for v in VALUES] == [before.holds(_Deal(v))
                                                           for v in VALUES]


def _equal(one: CompiledRuleset, other: CompiledRuleset) -> bool:
    """Equal values; a ruleset's source positions compare by identity, so its text stands in."""
    return all(getattr(one, f.name) == getattr(other, f.name)
               for f in fields(CompiledRuleset) if f.name != "ruleset") and all(
        getattr(one.ruleset, f.name) == getattr(other.ruleset, f.name)
        for f in fields(one.ruleset) if f.name != "positions")


def _sample() -> list[dict[str, object]]:
    lines = (ROOT / "examples" / "deals.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_a_compiled_ruleset_pickles_to_an_equal_value() -> None:
    compiled = compile_ruleset(load_ruleset(ROOT / "rulesets" / "b2b_sales.yaml"))
    again = pickle.loads(pickle.dumps(compiled))
    assert _equal(again, compiled)
    assert again.durations == compiled.durations and "5 business days" in again.durations
    assert [again.start_for(parse_deal(r, compiled.zone)) for r in _sample()] == [
        compiled.start_for(parse_deal(r, compiled.zone)) for r in _sample()]
