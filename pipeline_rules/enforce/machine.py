"""Enforcing stage moves with one shared ``transitions`` state machine per ruleset.

The machine holds the stages (terminal ones final) and every declared move as a transition whose
condition is a :class:`Guard` built from the YAML (``require``, ``when``, ``unless``). Deals are
never attached to it: the ``transitions`` maintainers' advice for many models is one machine and
plain data, and attaching a million deals would take hours and gigabytes (``add_model`` grows
quadratically with the number of models). Once per ruleset, the machine's own transitions are
read back into a plain table, (source, dest) → the guards of each transition for that move
(:func:`transition_table`), and:

* :meth:`PipelineMachine.check` decides from that table, running the guards on the deal with no
  model bound; the table is what the ``transitions`` machine holds, so the two agree by
  construction;
* :meth:`PipelineMachine.move` triggers the machine's event on a throw-away token holding the
  deal's stage, so the library itself performs an allowed move;
* :meth:`PipelineMachine.replay` judges each move of a history with the same decision function
  as ``check``; verdicts that depend on the stages alone are remembered in a :class:`ReplayMemo`
  that the caller keeps for one run (an evaluation run holds one).

Nothing is mutated after construction, so one machine serves any number of threads. It pickles
as its compiled ruleset, and the ``transitions`` machine and the table are rebuilt from it where
it is unpickled, so process pools can be sent the machine itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from transitions import Machine, State
from transitions.core import EventData

from pipeline_rules import i18n
from pipeline_rules.deals.model import Deal, HistoryEntry
from pipeline_rules.ruleset.compiled import CompiledRuleset, Move, Start, compile_ruleset
from pipeline_rules.ruleset.conditions import field_value, is_missing, shown
from pipeline_rules.ruleset.graph import StageGraph
from pipeline_rules.ruleset.model import Ruleset

#: Reason codes (contract): why a move is refused.
NOT_DECLARED = "not-declared"
SKIPS_STAGES = "skips-stages"
MISSING_FIELD = "missing-field"
CONDITION_FAILED = "condition-failed"
TERMINAL = "terminal"
UNKNOWN_STAGE = "unknown-stage"
BAD_START = "bad-start"
REASON_CODES = (NOT_DECLARED, SKIPS_STAGES, MISSING_FIELD, CONDITION_FAILED, TERMINAL,
                UNKNOWN_STAGE, BAD_START)

#: Kinds of illegal moves found by replay (they are also evaluator violation codes).
SKIPPED_STAGE = "skipped-stage"
ILLEGAL_TRANSITION = "illegal-transition"

#: Entries a :class:`ReplayMemo` keeps in each of its maps: a bound, so a run over millions of
#: deals with ever new field values or stage names stays flat.
MEMO_LIMIT = 4096


@dataclass(frozen=True)
class Reason:
    """Why a move is refused: a stable code, the field or stages involved, and a message."""

    code: str
    key: str
    args: dict[str, Any] = field(default_factory=dict)
    field: str | None = None
    stages: tuple[str, ...] = ()

    def message(self, lang: str = i18n.DEFAULT) -> str:
        """The reason in words, in ``lang``."""
        return i18n.render(self.key, self.args, lang)

    def to_dict(self, lang: str = i18n.DEFAULT) -> dict[str, Any]:
        """JSON-ready form."""
        data: dict[str, Any] = {"code": self.code, "message": self.message(lang)}
        if self.field is not None:
            data["field"] = self.field
        if self.stages:
            data["stages"] = list(self.stages)
        return data


@dataclass(frozen=True)
class Decision:
    """The answer to "may this deal move there?"."""

    deal: str
    from_stage: str | None
    to: str
    reasons: tuple[Reason, ...]

    @property
    def allowed(self) -> bool:
        """Whether the move is allowed (no reasons against it)."""
        return not self.reasons

    def to_dict(self, lang: str = i18n.DEFAULT) -> dict[str, Any]:
        """JSON-ready form."""
        return {"deal": self.deal, "from": self.from_stage, "to": self.to,
                "allowed": self.allowed, "reasons": [r.to_dict(lang) for r in self.reasons]}


@dataclass(frozen=True)
class IllegalMove:
    """A move in a deal's history that the regulation refuses."""

    index: int
    from_stage: str | None
    to: str
    at: datetime
    kind: str
    reasons: tuple[Reason, ...]
    skipped: tuple[str, ...] = ()
    override: str | None = None

    def to_dict(self, lang: str = i18n.DEFAULT) -> dict[str, Any]:
        """JSON-ready form."""
        data: dict[str, Any] = {
            "index": self.index, "from": self.from_stage, "to": self.to,
            "at": self.at.isoformat(), "kind": self.kind,
            "reasons": [r.to_dict(lang) for r in self.reasons]}
        if self.skipped:
            data["skipped"] = list(self.skipped)
        if self.override is not None:
            data["override"] = self.override
        return data


class TransitionRejected(Exception):  # noqa: N818 - a documented public name
    """Raised by :meth:`PipelineMachine.move` for a refused move; carries the decision."""

    def __init__(self, decision: Decision) -> None:
        super().__init__("; ".join(r.message() for r in decision.reasons))
        self.decision = decision

    @property
    def reasons(self) -> tuple[Reason, ...]:
        """Why the move was refused."""
        return self.decision.reasons


@dataclass(frozen=True)
class Guard:
    """The condition of one declared move: required fields and ``when``/``unless`` maps.

    ``transitions`` calls it with the event data (``send_event=True``); checks and replays call
    :meth:`passes` on the deal, and :meth:`reasons` explains a refusal with the same tests.
    """

    move: Move

    def __call__(self, event_data: EventData) -> bool:
        """Whether the deal the event was triggered with meets the guard."""
        return self.passes(event_data.kwargs["deal"])

    @property
    def trivial(self) -> bool:
        """Whether the guard tests nothing (the move has no ``require``, ``when`` or ``unless``)."""
        move = self.move
        return not (move.require or move.when or move.unless)

    def passes(self, deal: Deal) -> bool:
        """Whether the deal meets every guard of the move."""
        move = self.move
        for name in move.require:
            if is_missing(field_value(deal, name)):
                return False
        for condition in move.when:
            if not condition.holds(deal):
                return False
        return not (move.unless and all(c.holds(deal) for c in move.unless))

    def reasons(self, deal: Deal) -> list[Reason]:
        """Every guard this deal fails, as reasons."""
        move = self.move
        found = [Reason(MISSING_FIELD, "reason.missing-field", {"field": f, "to": move.target},
                        field=f)
                 for f in move.require if is_missing(field_value(deal, f))]
        found += [Reason(CONDITION_FAILED, "reason.condition-failed",
                         {"condition": c.describe(), "actual": shown(field_value(deal, c.field))},
                         field=c.field)
                  for c in move.when if not c.holds(deal)]
        if move.unless and all(c.holds(deal) for c in move.unless):
            found.append(Reason(CONDITION_FAILED, "reason.unless-matched",
                                {"condition": " and ".join(c.describe() for c in move.unless)},
                                field=move.unless[0].field))
        return found


#: (source, dest) → for each transition the machine holds for that move, in the order the
#: machine tries them, the guards that must all pass for it.
Table = Mapping[tuple[str, str], tuple[tuple[Guard, ...], ...]]


def transition_table(machine: Machine) -> Table:
    """The moves a ``transitions`` machine holds, read from its events, as plain data."""
    table: dict[tuple[str, str], list[tuple[Guard, ...]]] = {}
    for event in machine.events.values():
        for transitions in event.transitions.values():
            for transition in transitions:
                guards = []
                for condition in transition.conditions:
                    if not (isinstance(condition.func, Guard) and condition.target):
                        raise TypeError(f"transition {transition.source} -> {transition.dest} "
                                        f"has a condition that is not a Guard: "
                                        f"{condition.func!r}")
                    guards.append(condition.func)
                key = (str(transition.source), str(transition.dest))
                table.setdefault(key, []).append(tuple(guards))
    return {key: tuple(alternatives) for key, alternatives in table.items()}


@dataclass
class ReplayMemo:
    """What the replays of one run remember: verdicts that depend on the stages alone, and the
    start definition per value of the fields start conditions read (usually the lead source).

    Replaying a million histories meets the same few of each again and again. Keep one per run
    and machine; each map stops growing at :data:`MEMO_LIMIT` entries.
    """

    starts: dict[tuple[object, ...], Start | None] = field(default_factory=dict)
    firsts: dict[tuple[str, str], tuple[Reason, ...]] = field(default_factory=dict)
    moves: dict[tuple[str, str], tuple[Reason, ...]] = field(default_factory=dict)


class _Token:
    """A stand-in model holding only a stage, so a shared machine can perform one move."""

    __slots__ = ("state",)

    def __init__(self, state: str) -> None:
        self.state = state


def _trigger(stage: str) -> str:
    return f"enter:{stage}"


def _closures(graph: StageGraph) -> tuple[dict[str, int], dict[str, int]]:
    """For each stage, the stages reachable from it and those it is reachable from (itself
    included), as bit masks over ``graph.order``.

    One pass each way over the strongly connected components, whose ids are in reverse
    topological order: linear in stages and moves (times the mask width), so cheap enough to do
    for every machine rather than per question.
    """
    component = graph.component
    count = len(set(component.values()))
    members = [0] * count
    later: list[set[int]] = [set() for _ in range(count)]
    earlier: list[set[int]] = [set() for _ in range(count)]
    for bit, stage in enumerate(graph.order):
        members[component[stage]] |= 1 << bit
        for target in graph.successors[stage]:
            if component[target] != component[stage]:
                later[component[stage]].add(component[target])
                earlier[component[target]].add(component[stage])
    ahead = [0] * count
    for c in range(count):  # a component's successors have smaller ids
        ahead[c] = members[c]
        for d in later[c]:
            ahead[c] |= ahead[d]
    behind = [0] * count
    for c in reversed(range(count)):
        behind[c] = members[c]
        for d in earlier[c]:
            behind[c] |= behind[d]
    return ({s: ahead[component[s]] for s in graph.order},
            {s: behind[component[s]] for s in graph.order})


class PipelineMachine:
    """One ``transitions.Machine`` per ruleset that judges, performs and replays stage moves."""

    def __init__(self, ruleset: Ruleset | CompiledRuleset) -> None:
        compiled = ruleset if isinstance(ruleset, CompiledRuleset) else compile_ruleset(ruleset)
        self.compiled = compiled
        graph = compiled.graph
        self.machine = Machine(
            model=None,
            states=[State(s, final=s in graph.terminal) for s in graph.order],
            initial=None,
            transitions=[{"trigger": _trigger(m.target), "source": m.source, "dest": m.target,
                          "conditions": [Guard(m)]} for m in compiled.moves],
            auto_transitions=False,
            send_event=True,
        )
        #: What check and replay consult: the machine's own transitions, as plain data.
        self.table = transition_table(self.machine)
        # Moves out of an open stage that some transition allows with no guard at all: the
        # common case, decided by one set lookup instead of running guards.
        self._free = frozenset(
            key for key, alternatives in self.table.items()
            if graph.is_open(key[0]) and any(all(g.trivial for g in guards)
                                             for guards in alternatives))
        # The other declared moves out of open stages: their guards decide.
        self._guarded: dict[tuple[str | None, str], tuple[tuple[Guard, ...], ...]] = {
            key: alternatives for key, alternatives in self.table.items()
            if graph.is_open(key[0]) and key not in self._free}
        self._ahead, self._behind = _closures(graph)
        self._open = sum(1 << bit for bit, s in enumerate(graph.order) if graph.is_open(s))
        self._start_fields = tuple(dict.fromkeys(c.field for s in compiled.starts
                                                 for c in s.when))

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Pickled as the compiled ruleset alone: unpickling builds the transitions machine again
        # (a fraction of a millisecond) and reads the table back from it, so the table is always
        # the one the machine in that process holds.
        return (type(self), (self.compiled,))

    # -- judging ---------------------------------------------------------------------------

    def check(self, deal: Deal, to: str) -> Decision:
        """May ``deal`` move from its current stage to ``to``? A new deal (no stage) may enter
        only the stage its start definition names."""
        return Decision(deal.id, deal.stage, to, tuple(self._judge(deal, deal.stage, to)))

    def _judge(self, deal: Deal, current: str | None, to: str) -> list[Reason]:
        if (current, to) in self._free:
            return []
        alternatives = self._guarded.get((current, to))
        if alternatives is not None:
            return self._judge_guards(deal, alternatives)
        graph = self.compiled.graph
        if to not in graph.index:
            return [Reason(UNKNOWN_STAGE, "reason.unknown-target", {"stage": to}, field="to")]
        if current is None:
            return self._start_reasons(deal, self.compiled.start_for(deal), to)
        if current not in graph.index:
            return [Reason(UNKNOWN_STAGE, "reason.unknown-current", {"stage": current},
                           field="stage")]
        if current in graph.terminal:
            kind = "won" if current in graph.won else "lost"
            return [Reason(TERMINAL, f"reason.terminal-{kind}", {"stage": current},
                           stages=(current,))]
        alternatives = self.table.get((current, to))
        if not alternatives:
            reasons = [Reason(NOT_DECLARED, "reason.not-declared", {"from": current, "to": to},
                              stages=(current, to))]
            skipped = self.skipped(current, to)
            if skipped:
                reasons.append(Reason(SKIPS_STAGES, "reason.skips-stages",
                                      {"stages": ", ".join(skipped)}, stages=skipped))
            return reasons
        return self._judge_guards(deal, alternatives)

    @staticmethod
    def _judge_guards(deal: Deal, alternatives: tuple[tuple[Guard, ...], ...]) -> list[Reason]:
        """Run the guards of the machine's transitions for a move as the machine tries them
        (the first transition whose guards all pass performs it); explain if all refuse."""
        found: list[Reason] = []
        for guards in alternatives:
            failing = [g for g in guards if not g.passes(deal)]
            if not failing:
                return []
            for guard in failing:
                found.extend(r for r in guard.reasons(deal) if r not in found)
        return found

    @staticmethod
    def _start_reasons(deal: Deal, start: Start | None, to: str) -> list[Reason]:
        """Why a new deal matching ``start`` may not enter ``to`` (a known stage)."""
        if start is None:
            return [Reason(BAD_START, "reason.no-start",
                           {"source": shown(field_value(deal, "source"))},
                           field="source")]
        if start.stage != to:
            return [Reason(BAD_START, "reason.bad-start",
                           {"start": start.id, "expected": start.stage, "to": to},
                           field="source", stages=(start.stage,))]
        return []

    def skipped(self, current: str, to: str) -> tuple[str, ...]:
        """Open stages a jump from ``current`` to a later stage ``to`` passes over, in order.

        A jump is forward when the target is reachable from the current stage through declared
        moves; the stages skipped are those on some path between the two.
        """
        index = self.compiled.graph.index
        if current == to or current not in index or to not in index:
            return ()
        ahead = self._ahead[current]
        if not ahead >> index[to] & 1:
            return ()
        between = ahead & self._behind[to] & self._open
        between &= ~(1 << index[current] | 1 << index[to])
        order = self.compiled.graph.order
        found = []
        while between:  # lowest bit first: the stages come out in declared order
            lowest = between & -between
            found.append(order[lowest.bit_length() - 1])
            between ^= lowest
        return tuple(found)

    # -- acting ----------------------------------------------------------------------------

    def move(self, deal: Deal, to: str, at: datetime,
             override_reason: str | None = None) -> Deal:
        """The deal after moving to ``to`` at ``at``; raise :class:`TransitionRejected` if the
        regulation refuses, unless ``override_reason`` says why it must happen anyway (the
        history records the override for audits)."""
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("'at' must be a timezone-aware datetime")
        decision = self.check(deal, to)
        if not decision.allowed:
            if override_reason is None or not override_reason.strip():
                raise TransitionRejected(decision)
            if any(r.code == UNKNOWN_STAGE for r in decision.reasons):
                raise TransitionRejected(decision)  # no override can create a stage
            return deal.moved(HistoryEntry(to, at, override_reason.strip()))
        if deal.stage is not None:
            token = _Token(deal.stage)
            performed = self.machine.events[_trigger(to)].trigger(token, deal=deal)
            if not performed or token.state != to:  # pragma: no cover - check() said yes
                raise RuntimeError(f"machine refused an allowed move {deal.stage} -> {to}")
        return deal.moved(HistoryEntry(to, at))

    # -- auditing --------------------------------------------------------------------------

    def replay(self, deal: Deal, memo: ReplayMemo | None = None) -> list[IllegalMove]:
        """Every move in the deal's history that the regulation refuses, in order.

        Each move is judged as :meth:`check` would have judged it at the time, against the
        deal's current fields (histories carry no field snapshots). The first entry is judged
        against the start definitions. Forced (override) moves are reported too, marked.
        Replaying many deals, pass the same ``memo`` to each (one per run).
        """
        free = self._free
        guarded = self._guarded
        verdicts = memo.moves if memo is not None else None
        found: list[IllegalMove] = []
        previous: str | None = None
        history = deal.history
        start = deal.undated_start
        if start is not None and history and history[0].stage != start:
            # The undated start is the first entry, judged against the start definitions and
            # reported (if refused) at the first dated entry, the latest it can have been made.
            first = self._judge_first(deal, start, memo)
            if first:
                found.append(self._classify(-1, None, HistoryEntry(start, history[0].at),
                                            first))
            previous = start
        for index, entry in enumerate(history):
            stage = entry.stage
            # The set lookup is _judge's own first step, inlined: replay runs it per move.
            if (previous, stage) not in free:
                reasons: Sequence[Reason]
                if previous is None:
                    reasons = self._judge_first(deal, stage, memo)
                elif (previous, stage) in guarded:
                    reasons = self._judge_guards(deal, guarded[previous, stage])
                else:
                    # Neither a first entry nor a guarded move: the verdict depends on the
                    # two stages alone, and replays meet the same few pairs again and again.
                    key = (previous, stage)
                    cached = verdicts.get(key) if verdicts is not None else None
                    if cached is None:
                        cached = tuple(self._judge(deal, previous, stage))
                        if verdicts is not None and len(verdicts) < MEMO_LIMIT:
                            verdicts[key] = cached
                    reasons = cached
                if reasons:
                    found.append(self._classify(index, previous, entry, reasons))
            previous = stage
        return found

    def _judge_first(self, deal: Deal, stage: str, memo: ReplayMemo | None) -> Sequence[Reason]:
        """:meth:`_judge` of a first history entry: the verdict depends on the start definition
        the deal matches and the stage, so it is remembered per pair."""
        if stage not in self.compiled.graph.index:
            return self._judge(deal, None, stage)
        if memo is None:
            return self._start_reasons(deal, self.compiled.start_for(deal), stage)
        start = self._start_for(deal, memo)
        if start is None:
            return self._start_reasons(deal, None, stage)  # names the deal's source
        key = (start.id, stage)
        cached = memo.firsts.get(key)
        if cached is None:
            cached = tuple(self._start_reasons(deal, start, stage))
            if len(memo.firsts) < MEMO_LIMIT:
                memo.firsts[key] = cached
        return cached

    def _start_for(self, deal: Deal, memo: ReplayMemo) -> Start | None:
        """The deal's start definition, remembered by the values its conditions read."""
        try:
            key = tuple([field_value(deal, f) for f in self._start_fields])
            return memo.starts[key]
        except (KeyError, TypeError):  # not seen yet, or an unhashable value (a list)
            pass
        found = self.compiled.start_for(deal)
        with contextlib.suppress(TypeError):
            if len(memo.starts) < MEMO_LIMIT:
                memo.starts[key] = found
        return found

    def _classify(self, index: int, previous: str | None, entry: HistoryEntry,
                  reasons: Sequence[Reason]) -> IllegalMove:
        skipped = next((r.stages for r in reasons if r.code == SKIPS_STAGES), ())
        kind = SKIPPED_STAGE if skipped else ILLEGAL_TRANSITION
        return IllegalMove(index, previous, entry.stage, entry.at, kind, tuple(reasons),
                           skipped, entry.override)


__all__ = ["MEMO_LIMIT", "REASON_CODES", "Decision", "Guard", "IllegalMove", "PipelineMachine",
           "Reason", "ReplayMemo", "Table", "TransitionRejected", "transition_table"]
