"""How a CRM's code uses the public API; type-checked with mypy --strict by test_public_typing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pipeline_rules
from pipeline_rules import (
    Decision,
    Evaluator,
    Finding,
    PipelineMachine,
    compile_ruleset,
    load_ruleset,
    parse_deal,
)


def on_stage_change(machine: PipelineMachine, record: dict[str, object], to: str) -> bool:
    deal = parse_deal(record, machine.compiled.zone)
    decision: Decision = machine.check(deal, to)
    return decision.allowed


def on_schedule(evaluator: Evaluator, records: list[dict[str, object]],
                now: datetime) -> Iterator[tuple[str, str | None]]:
    for finding in evaluator.evaluate(records, now):
        assert isinstance(finding, Finding)
        if finding.kind == "action" and finding.key is not None:
            yield finding.key, finding.notify


compiled = compile_ruleset(load_ruleset("rulesets/b2b_sales.yaml"))
allowed: bool = on_stage_change(PipelineMachine(compiled), {"id": "X", "stage": "meeting"},
                                "proposal")
version: str = pipeline_rules.__version__
