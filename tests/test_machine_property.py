"""check, move, replay and the ``transitions`` machine agree, on random rulesets and deals.

Replay flags exactly the moves that check refuses, each classified as a skip exactly when check
reports skipped stages; out of an open stage, check allows exactly the moves the ``transitions``
machine performs when its event is triggered; move performs exactly what check allows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import yaml
from hypothesis import event, given, settings
from hypothesis import strategies as st
from transitions import MachineError

from pipeline_rules.deals.model import Deal, HistoryEntry
from pipeline_rules.enforce.machine import SKIPPED_STAGE, PipelineMachine, TransitionRejected
from pipeline_rules.ruleset.catalog import load_ruleset_source
from pipeline_rules.ruleset.source import Source

FIELDS = ("amount", "loss_reason", "segment")


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[PipelineMachine, Deal]:
    size = draw(st.integers(2, 6))
    stages = [f"s{i}" for i in range(size)]
    every = [*stages, "won", "lost"]
    moves = []
    for _ in range(draw(st.integers(1, size * 3))):
        source = draw(st.sampled_from([*stages, "*"]))
        target = draw(st.sampled_from(every))
        if source == target:
            continue
        move: dict[str, object] = {"from": source, "to": target}
        if draw(st.booleans()):
            move["require"] = draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=2,
                                            unique=True))
        if draw(st.integers(0, 3)) == 0:
            move["when"] = {"segment": draw(st.sampled_from(["smb", ["smb", "ent"]]))}
        if draw(st.integers(0, 3)) == 0:
            move["unless"] = {"amount": {"gt": 1000}}
        moves.append(move)
    starts = draw(st.lists(st.sampled_from(stages), min_size=1, max_size=2, unique=True))
    data = {
        "version": 1, "id": "random",
        "stages": [{"id": s} for s in stages]
        + [{"id": "won", "terminal": "won"}, {"id": "lost", "terminal": "lost"}],
        "start": [{"id": f"st{i}", "stage": s, "when": {"source": f"src{i}"}}
                  for i, s in enumerate(starts)],
        "transitions": moves,
    }
    ruleset = load_ruleset_source(Source("random.yaml", yaml.safe_dump(data, sort_keys=False)))
    fields = {f: draw(st.sampled_from(["", "x", 5, 5000])) for f in FIELDS
              if draw(st.booleans())}
    path = draw(st.lists(st.sampled_from([*every, "ghost"]), min_size=1, max_size=8))
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    history = tuple(HistoryEntry(s, t0 + timedelta(days=i)) for i, s in enumerate(path))
    source = draw(st.sampled_from(["src0", "src1", "other"]))
    deal = Deal(id="D", stage=path[-1], source=source, fields=fields, history=history)
    return PipelineMachine(ruleset), deal


@settings(max_examples=400, deadline=None)
@given(scenarios())
def test_replay_flags_exactly_what_check_refuses(scenario: tuple[PipelineMachine, Deal]) -> None:
    machine, deal = scenario
    flagged = {m.index: m for m in machine.replay(deal)}
    for i, entry in enumerate(deal.history):
        before = Deal(id=deal.id, stage=deal.history[i - 1].stage if i else None,
                      source=deal.source, fields=deal.fields, history=deal.history[:i])
        decision = machine.check(before, entry.stage)
        assert (i in flagged) == (not decision.allowed), (i, entry, decision)
        if i in flagged:
            assert flagged[i].reasons == decision.reasons
            skips = [r for r in decision.reasons if r.code == "skips-stages"]
            assert (flagged[i].kind == SKIPPED_STAGE) == bool(skips)


class _Token:
    """A model the transitions machine can move, holding only a stage."""

    def __init__(self, state: str) -> None:
        self.state = state


def performed_by_transitions(machine: PipelineMachine, deal: Deal, to: str) -> bool:
    """Whether the ``transitions`` machine itself moves a deal in ``deal.stage`` to ``to``."""
    event = machine.machine.events.get(f"enter:{to}")
    if event is None or deal.stage is None:
        return False
    token = _Token(deal.stage)
    try:
        return bool(event.trigger(token, deal=deal)) and token.state == to
    except MachineError:  # no transition for this event out of that stage
        return False


@settings(max_examples=400, deadline=None)
@given(scenarios(), st.data())
def test_move_check_and_the_transitions_machine_agree(scenario: tuple[PipelineMachine, Deal],
                                                      data: st.DataObject) -> None:
    machine, deal = scenario
    graph = machine.compiled.graph
    anywhere = st.tuples(st.sampled_from([None, *graph.order, "ghost"]),
                         st.sampled_from([*graph.order, "ghost"]))
    declared = sorted(machine.table)
    stage, to = data.draw(st.one_of(st.sampled_from(declared), anywhere) if declared
                          else anywhere)
    now = Deal(id=deal.id, stage=stage, source=deal.source, fields=deal.fields)
    decision = machine.check(now, to)
    out_of = ("no stage" if stage is None else "an open stage" if graph.is_open(stage)
              else "a closed or unknown stage")
    event(f"{'allowed' if decision.allowed else 'refused'}, "
          f"{'declared' if (stage, to) in machine.table else 'undeclared'} move out of {out_of}")
    if stage is not None and graph.is_open(stage):
        assert performed_by_transitions(machine, now, to) == decision.allowed
    at = datetime(2026, 2, 1, tzinfo=UTC)
    if decision.allowed:
        moved = machine.move(now, to, at)
        assert (moved.stage, moved.history[-1]) == (to, HistoryEntry(to, at))
    else:
        with pytest.raises(TransitionRejected) as err:
            machine.move(now, to, at)
        assert err.value.decision == decision
    assert machine.machine.models == []
