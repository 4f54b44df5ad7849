"""The example plugin on its own: each entry point does what its README says."""

from __future__ import annotations

from datetime import datetime
from importlib.metadata import entry_points

from pipeline_rules_example_plugin import divisible_by

from pipeline_rules.evaluate import Evaluator
from pipeline_rules.ruleset.catalog import load_ruleset_source
from pipeline_rules.ruleset.source import Source

RULES = """
version: 1
id: plugin-demo
plugins: [big-deals, divisible_by, slack]
stages:
  - {id: proposal}
  - {id: invoice}
  - {id: paid, terminal: won}
  - {id: lost, terminal: lost}
start: [{stage: proposal}]
transitions:
  - {from: proposal, to: invoice, when: {amount: {divisible_by: 1000}}}
  - {from: invoice, to: paid}
  - {from: "*", to: lost}
sla:
  - {id: invoice-stall, stage: invoice, limit: 1d, on_breach: [escalate]}
actions:
  escalate: {notify: owner, channel: slack}
"""
NOW = datetime.fromisoformat("2026-11-20T12:00:00+00:00")


def test_entry_points_are_registered() -> None:
    names = {ep.name for group in ("pipeline_rules.checks", "pipeline_rules.conditions",
                                   "pipeline_rules.actions")
             for ep in entry_points(group=group)}
    assert {"big-deals", "strict-amounts", "divisible_by", "slack"} <= names


def test_divisible_by() -> None:
    assert divisible_by(5000, 1000)
    assert not divisible_by(5500, 1000)
    assert not divisible_by("5000", 1000)
    assert not divisible_by(5000, 0)


def test_the_three_plugins_in_an_evaluation() -> None:
    evaluator = Evaluator(load_ruleset_source(Source("demo.yaml", RULES)))
    deal = {"id": "D", "stage": "invoice", "owner": "ann", "fields": {"amount": 2_000_000},
            "history": [{"stage": "proposal", "at": "2026-11-17T10:00:00+00:00"},
                        {"stage": "invoice", "at": "2026-11-18T10:00:00+00:00"}]}
    found = {f.code: f for f in evaluator.evaluate_one(deal, NOW)}
    assert found["big-deal-unassigned"].rule == "big-deals"
    assert found["big-deal-unassigned"].severity == "error"
    escalate = found["escalate"]
    assert escalate.details["slack"]["text"].startswith("<@ann> SLA 'invoice-stall' breached")
    odd = {**deal, "fields": {"amount": 2_000_500}}
    assert [f.code for f in evaluator.evaluate_one(odd, NOW)].count("illegal-transition") == 1
