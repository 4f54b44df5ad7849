"""Compiled rulesets, machines and evaluators pickle, and judge the same once unpickled: worker
processes can be sent them instead of compiling again."""

from __future__ import annotations

import json
import pickle
from concurrent.futures import ProcessPoolExecutor
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline_rules.deals.decode import parse_deal
from pipeline_rules.deals.model import Deal, HistoryEntry
from pipeline_rules.enforce.machine import Decision, PipelineMachine
from pipeline_rules.evaluate import Evaluator
from pipeline_rules.ruleset.catalog import load_ruleset, load_ruleset_source
from pipeline_rules.ruleset.compiled import CompiledRuleset, compile_ruleset
from pipeline_rules.ruleset.conditions import compile_conditions
from pipeline_rules.ruleset.model import Condition
from pipeline_rules.ruleset.plugins import load_plugins
from pipeline_rules.ruleset.source import Source

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime.fromisoformat("2026-11-20T09:05:00+03:00")
PLUGGED = """
version: 1
id: plugged
plugins: [big-deals, divisible_by, slack]
stages:
  - {id: proposal}
  - {id: invoice}
  - {id: paid, terminal: won}
  - {id: lost, terminal: lost}
start: [{stage: proposal}]
transitions:
  - {from: proposal, to: invoice, when: {amount: {divisible_by: 1000}}}
  - {from: invoice, to: paid, unless: {amount: {lt: 1}}}
  - {from: "*", to: lost, require: [loss_reason]}
"""

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


def _questions(machine: PipelineMachine) -> list[tuple[Deal, str]]:
    zone = machine.compiled.zone
    deals = [parse_deal(record, zone) for record in _sample()]
    at = datetime(2026, 11, 2, 10, tzinfo=UTC)
    deals += [Deal("N", None, source="cold"), Deal("P", "proposal", fields={"amount": 5000}),
              Deal("Q", "proposal", fields={"amount": 5500, "loss_reason": "price"},
                   history=(HistoryEntry("proposal", at), HistoryEntry("paid", at)))]
    return [(deal, to) for deal in deals for to in (*machine.compiled.graph.order, "nowhere")]


@pytest.mark.parametrize("ruleset", ["b2b", "plugged"])
def test_a_machine_pickles_as_its_compiled_ruleset_and_decides_the_same(ruleset: str) -> None:
    compiled = compile_ruleset(load_ruleset(ROOT / "rulesets" / "b2b_sales.yaml")
                               if ruleset == "b2b"
                               else load_ruleset_source(Source("plugged.yaml", PLUGGED)))
    machine = PipelineMachine(compiled)
    again = pickle.loads(pickle.dumps(machine))
    assert _equal(again.compiled, compiled) and again.table == machine.table
    assert again.machine is not machine.machine and again.machine.models == []
    questions = _questions(machine)
    assert [again.check(d, to) for d, to in questions] == [machine.check(d, to)
                                                            for d, to in questions]
    assert [again.replay(d) for d, _ in questions] == [machine.replay(d) for d, _ in questions]
    allowed = [(d, to) for d, to in questions if machine.check(d, to).allowed]
    assert allowed and [again.move(d, to, NOW) for d, to in allowed] == [
        machine.move(d, to, NOW) for d, to in allowed]


def test_a_compiled_ruleset_pickles_to_an_equal_value() -> None:
    compiled = compile_ruleset(load_ruleset(ROOT / "rulesets" / "b2b_sales.yaml"))
    again = pickle.loads(pickle.dumps(compiled))
    assert _equal(again, compiled)
    assert again.durations == compiled.durations and "5 business days" in again.durations
    assert [again.start_for(parse_deal(r, compiled.zone)) for r in _sample()] == [
        compiled.start_for(parse_deal(r, compiled.zone)) for r in _sample()]


def test_an_evaluator_pickles_and_finds_the_same() -> None:
    evaluator = Evaluator(load_ruleset(ROOT / "rulesets" / "b2b_sales.yaml"), lang="ru")
    again = pickle.loads(pickle.dumps(evaluator))
    assert again.machine.compiled is again.compiled  # one compiled ruleset, shared as before
    assert list(again.evaluate(_sample(), NOW)) == list(evaluator.evaluate(_sample(), NOW))


def _decide(machine: PipelineMachine, questions: list[tuple[Deal, str]]) -> list[Decision]:
    return [machine.check(deal, to) for deal, to in questions]


def test_a_process_pool_can_be_sent_the_machine() -> None:
    machine = PipelineMachine(load_ruleset(ROOT / "rulesets" / "b2b_sales.yaml"))
    questions = _questions(machine)
    with ProcessPoolExecutor(max_workers=1) as pool:
        assert pool.submit(_decide, machine, questions).result() == _decide(machine, questions)
