"""Compiled rulesets pickle: worker processes can be sent them instead of compiling again."""

from __future__ import annotations

import pickle

import pytest

from pipeline_rules.ruleset.conditions import compile_conditions
from pipeline_rules.ruleset.model import Condition
from pipeline_rules.ruleset.plugins import load_plugins

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
