"""The state machine: every reason code, moves with overrides, replay, one shared machine."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from transitions import Machine

from pipeline_rules.deals.decode import parse_deal
from pipeline_rules.deals.model import Deal, HistoryEntry
from pipeline_rules.enforce.machine import (
    ILLEGAL_TRANSITION,
    MEMO_LIMIT,
    SKIPPED_STAGE,
    Guard,
    PipelineMachine,
    ReplayMemo,
    TransitionRejected,
    transition_table,
)
from pipeline_rules.ruleset.catalog import load_ruleset, load_ruleset_source
from pipeline_rules.ruleset.compiled import compile_ruleset
from pipeline_rules.ruleset.source import Source

ROOT = Path(__file__).resolve().parent.parent
AT = datetime(2026, 11, 20, 9, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def machine() -> PipelineMachine:
    return PipelineMachine(load_ruleset(ROOT / "rulesets" / "b2b_sales.yaml"))


@pytest.fixture(scope="module")
def sample(machine: PipelineMachine) -> dict[str, Deal]:
    lines = (ROOT / "examples" / "deals.jsonl").read_text(encoding="utf-8").splitlines()
    deals = [parse_deal(json.loads(line), machine.compiled.zone) for line in lines]
    return {d.id: d for d in deals}


def codes(machine: PipelineMachine, deal: Deal, to: str) -> list[str]:
    return [r.code for r in machine.check(deal, to).reasons]


def test_one_transitions_machine_with_final_ends_and_no_auto_transitions(
        machine: PipelineMachine) -> None:
    assert isinstance(machine.machine, Machine)
    assert machine.machine.models == []
    assert machine.machine.auto_transitions is False
    finals = {name for name, state in machine.machine.states.items() if state.final}
    assert finals == {"paid", "lost"}
    assert "to_paid" not in machine.machine.events


def test_the_table_is_what_the_transitions_machine_holds(machine: PipelineMachine) -> None:
    held: dict[tuple[str, str], list[list[object]]] = {}
    for event in machine.machine.events.values():
        for transitions in event.transitions.values():
            for transition in transitions:
                assert all(c.target for c in transition.conditions)
                held.setdefault((transition.source, transition.dest), []).append(
                    [c.func for c in transition.conditions])
    assert held.keys() == machine.table.keys()
    assert held.keys() == {(m.source, m.target) for m in machine.compiled.moves}
    for key, alternatives in machine.table.items():
        # the very guard objects the transitions machine calls, in the order it tries them
        assert [[id(g) for g in guards] for guards in alternatives] == [
            [id(f) for f in funcs] for funcs in held[key]]
        assert all(isinstance(g, Guard) for guards in alternatives for g in guards)
    assert transition_table(machine.machine) == machine.table


def test_a_table_takes_only_guards() -> None:
    foreign = Machine(model=None, states=["a", "b"], initial=None, auto_transitions=False,
                      transitions=[{"trigger": "go", "source": "a", "dest": "b",
                                    "conditions": [lambda event: True]}], send_event=True)
    with pytest.raises(TypeError, match="not a Guard"):
        transition_table(foreign)


def test_declared_move_is_allowed(machine: PipelineMachine, sample: dict[str, Deal]) -> None:
    decision = machine.check(sample["A-100"], "proposal")
    assert decision.allowed
    assert decision.to_dict() == {"deal": "A-100", "from": "meeting", "to": "proposal",
                                  "allowed": True, "reasons": []}


def test_not_declared_and_skips_stages(machine: PipelineMachine,
                                       sample: dict[str, Deal]) -> None:
    decision = machine.check(sample["A-100"], "paid")
    assert [r.code for r in decision.reasons] == ["not-declared", "skips-stages"]
    assert decision.reasons[1].stages == ("proposal", "invoice")
    assert decision.reasons[1].message() == "the move skips proposal, invoice"
    assert decision.reasons[0].message("ru") == "в регламенте нет перехода из 'meeting' в 'paid'"


def test_backward_move_is_not_declared_without_skips(machine: PipelineMachine,
                                                    sample: dict[str, Deal]) -> None:
    assert codes(machine, sample["A-100"], "qualification") == ["not-declared"]


def test_missing_field(machine: PipelineMachine, sample: dict[str, Deal]) -> None:
    deal = sample["A-100"]
    decision = machine.check(deal, "lost")
    assert [(r.code, r.field) for r in decision.reasons] == [("missing-field", "loss_reason")]
    with_reason = Deal(**{**_fields_of(deal), "fields": {"loss_reason": "budget"}})
    assert machine.check(with_reason, "lost").allowed


def test_empty_values_count_as_missing(machine: PipelineMachine,
                                       sample: dict[str, Deal]) -> None:
    deal = Deal(**{**_fields_of(sample["A-101"]), "fields": {"payment_date": ""}})
    assert codes(machine, deal, "paid") == ["missing-field"]


def test_terminal(machine: PipelineMachine, sample: dict[str, Deal]) -> None:
    decision = machine.check(sample["A-105"], "lost")
    assert [r.code for r in decision.reasons] == ["terminal"]
    assert decision.reasons[0].message() == "the deal is closed: it was won in 'paid'"


def test_unknown_target_and_unknown_current_stage(machine: PipelineMachine,
                                                  sample: dict[str, Deal]) -> None:
    decision = machine.check(sample["A-100"], "negotiation")
    assert [(r.code, r.field) for r in decision.reasons] == [("unknown-stage", "to")]
    stray = Deal(id="X", stage="negotiation")
    decision = machine.check(stray, "proposal")
    assert [(r.code, r.field) for r in decision.reasons] == [("unknown-stage", "stage")]


def test_new_deals_enter_the_stage_their_start_names(machine: PipelineMachine) -> None:
    cold = Deal(id="N-1", stage=None, source="cold")
    assert machine.check(cold, "find_dm").allowed
    decision = machine.check(cold, "request")
    assert [r.code for r in decision.reasons] == ["bad-start"]
    assert decision.reasons[0].message() == (
        "deals of start 'cold' begin in 'find_dm', not in 'request'")
    unknown = Deal(id="N-2", stage=None, source="partner")
    assert codes(machine, unknown, "request") == ["bad-start"]
    [reason] = machine.check(Deal(id="N-3", stage=None), "request").reasons
    assert reason.message() == "no start definition matches this deal (source (missing))"


def test_conditions_when_and_unless() -> None:
    text = """
version: 1
id: guarded
stages:
  - {id: proposal}
  - {id: discount_approval}
  - {id: invoice}
  - {id: paid, terminal: won}
  - {id: lost, terminal: lost}
start: [{stage: proposal}]
transitions:
  - {from: proposal, to: discount_approval, when: {discount: {gt: 10}}}
  - {from: proposal, to: invoice, unless: {discount: {gt: 10}, segment: smb}}
  - {from: discount_approval, to: invoice}
  - {from: invoice, to: paid}
  - {from: "*", to: lost}
"""
    machine = PipelineMachine(load_ruleset_source(Source("g.yaml", text)))
    big = Deal(id="D", stage="proposal", fields={"discount": 15, "segment": "smb"})
    small = Deal(id="D", stage="proposal", fields={"discount": "5", "segment": "smb"})
    assert machine.check(big, "discount_approval").allowed
    decision = machine.check(small, "discount_approval")
    assert [(r.code, r.field, r.message()) for r in decision.reasons] == [
        ("condition-failed", "discount", "the move needs discount > 10; the deal has '5'")]
    decision = machine.check(big, "invoice")
    assert [(r.code, r.message()) for r in decision.reasons] == [
        ("condition-failed", "the move is not allowed when discount > 10 and segment = smb")]
    assert machine.check(small, "invoice").allowed


def test_move_appends_history_through_the_machine(machine: PipelineMachine,
                                                  sample: dict[str, Deal]) -> None:
    deal = sample["A-100"]
    moved = machine.move(deal, "proposal", AT)
    assert moved.stage == "proposal"
    assert moved.history[-1] == HistoryEntry("proposal", AT)
    assert deal.stage == "meeting"  # deals are values: the original is unchanged
    assert machine.machine.models == []


def test_rejected_move_raises_with_reasons(machine: PipelineMachine,
                                           sample: dict[str, Deal]) -> None:
    with pytest.raises(TransitionRejected) as err:
        machine.move(sample["A-100"], "invoice", AT)
    assert [r.code for r in err.value.reasons] == ["not-declared", "skips-stages"]
    assert err.value.decision.from_stage == "meeting"


def test_override_is_recorded_for_audits(machine: PipelineMachine,
                                         sample: dict[str, Deal]) -> None:
    moved = machine.move(sample["A-100"], "invoice", AT,
                         override_reason="director approved prepayment")
    assert moved.history[-1] == HistoryEntry("invoice", AT, "director approved prepayment")
    [illegal] = [m for m in machine.replay(moved) if m.index == len(moved.history) - 1]
    assert illegal.kind == SKIPPED_STAGE
    assert illegal.override == "director approved prepayment"
    with pytest.raises(TransitionRejected):
        machine.move(sample["A-100"], "invoice", AT, override_reason="  ")
    with pytest.raises(TransitionRejected):
        machine.move(sample["A-100"], "nowhere", AT, override_reason="no override makes a stage")


def test_move_needs_an_aware_time(machine: PipelineMachine, sample: dict[str, Deal]) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        machine.move(sample["A-100"], "proposal", datetime(2026, 11, 20, 9, 5))


def test_replay_of_the_sample_deals(machine: PipelineMachine, sample: dict[str, Deal]) -> None:
    found = {deal_id: machine.replay(deal) for deal_id, deal in sample.items()}
    assert {k: v for k, v in found.items() if v}.keys() == {"A-104"}
    [skip] = found["A-104"]
    assert (skip.index, skip.from_stage, skip.to, skip.kind) == (1, "find_dm", "proposal",
                                                                 SKIPPED_STAGE)
    assert skip.skipped == ("qualification", "meeting")


def test_replay_flags_backward_moves_and_wrong_starts(machine: PipelineMachine) -> None:
    t = [datetime(2026, 11, d, 10, tzinfo=UTC) for d in (2, 3, 4, 5)]
    deal = Deal(id="B", stage="qualification", source="cold", history=(
        HistoryEntry("request", t[0]), HistoryEntry("qualification", t[1]),
        HistoryEntry("meeting", t[2]), HistoryEntry("qualification", t[3])))
    found = machine.replay(deal)
    assert [(m.index, m.kind, [r.code for r in m.reasons]) for m in found] == [
        (0, ILLEGAL_TRANSITION, ["bad-start"]),
        (3, ILLEGAL_TRANSITION, ["not-declared"]),
    ]
    assert found[1].to_dict()["from"] == "meeting"


def test_replay_memo_is_bounded_and_changes_no_verdict(machine: PipelineMachine) -> None:
    t = [datetime(2026, 11, d, 10, tzinfo=UTC) for d in (2, 3, 4)]
    deals = [Deal(id=f"M-{n}", stage="proposal", source=f"source-{n}", history=(
        HistoryEntry("find_dm", t[0]), HistoryEntry(f"ghost-{n}", t[1]),
        HistoryEntry("proposal", t[2]))) for n in range(MEMO_LIMIT + 300)]
    memo = ReplayMemo()
    remembered = [machine.replay(deal, memo) for deal in deals]
    assert remembered == [machine.replay(deal) for deal in deals]
    assert [len(m) for m in remembered[:1]] == [3]
    assert len(memo.starts) == MEMO_LIMIT and len(memo.firsts) <= MEMO_LIMIT
    assert len(memo.moves) == MEMO_LIMIT  # ghost stages fill it, then it stops growing


def test_one_machine_serves_many_threads(machine: PipelineMachine,
                                         sample: dict[str, Deal]) -> None:
    jobs = [(deal, to) for deal in sample.values() for to in
            ("find_dm", "request", "qualification", "meeting", "proposal", "invoice", "paid",
             "lost", "nowhere")] * 40
    expected = [machine.check(deal, to).to_dict() for deal, to in jobs]

    def work(job: tuple[Deal, str]) -> dict[str, object]:
        deal, to = job
        if machine.check(deal, to).allowed:
            assert machine.move(deal, to, AT).stage == to
        return machine.check(deal, to).to_dict()

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(work, jobs)) == expected
    assert machine.machine.models == []


def test_compiled_ruleset_is_accepted_and_shared() -> None:
    compiled = compile_ruleset(load_ruleset(ROOT / "rulesets" / "b2b_sales.yaml"))
    assert PipelineMachine(compiled).compiled is compiled


def _fields_of(deal: Deal) -> dict[str, object]:
    return {name: getattr(deal, name) for name in deal.__dataclass_fields__}
