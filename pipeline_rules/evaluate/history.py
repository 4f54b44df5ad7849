"""History checks: the state machine's replay of each deal's stage history.

Every illegal move becomes a violation dated when the move was made: ``skipped-stage`` for a
forward jump over stages of the main path, ``illegal-transition`` for anything else. A move
forced with an override is reported too, with the override's reason, so audits see it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pipeline_rules.deals.model import Deal
from pipeline_rules.enforce.machine import SKIPPED_STAGE
from pipeline_rules.evaluate.context import Run
from pipeline_rules.evaluate.findings import Finding


def check_history(deal: Deal, run: Run) -> Iterator[Finding]:
    """A finding per illegal move in the deal's history."""
    for move in run.replay(deal):
        details: dict[str, Any] = {"from": move.from_stage, "to": move.to, "index": move.index,
                                   "reasons": [r.code for r in move.reasons]}
        if move.override is not None:
            details["override"] = move.override
        args = {"from": move.from_stage or "—", "to": move.to, "at": run.time(move.at)}
        if move.kind == SKIPPED_STAGE:
            details["skipped"] = list(move.skipped)
            args["skipped"] = ", ".join(move.skipped)
        else:
            args["reasons"] = "; ".join(r.message(run.lang) for r in move.reasons)
        yield run.violation(move.kind, "transitions", deal.id, deal.stage, move.at, args,
                            **details)
