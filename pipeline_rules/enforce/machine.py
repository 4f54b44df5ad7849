"""Enforcing stage moves with one shared ``transitions`` state machine per ruleset.

The machine holds the stages (terminal ones final) and every declared move as a transition whose
condition is a :class:`Guard` built from the YAML (``require``, ``when``, ``unless``). Deals are
never attached to it: the ``transitions`` maintainers' advice for many models is one machine and
plain data, and attaching a million deals would take hours and gigabytes of memory. So:

* :meth:`PipelineMachine.check` looks the move up in an index of the machine's own transitions,
  built once, and runs those transitions' conditions on the deal — no model is bound;
* :meth:`PipelineMachine.move` triggers the machine's event on a throw-away token holding the
  deal's stage, so the library itself performs an allowed move;
* :meth:`PipelineMachine.replay` judges each move of a history with the same decision function
  as ``check``, so the two agree by construction.

Nothing is mutated after construction, so one machine serves any number of threads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from transitions import Machine, State
from transitions.core import EventData

from pipeline_rules import i18n
from pipeline_rules.deals.model import Deal, HistoryEntry
from pipeline_rules.ruleset.compiled import CompiledRuleset, Move, compile_ruleset
from pipeline_rules.ruleset.conditions import field_value, is_missing, shown
from pipeline_rules.ruleset.graph import reach
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


class TransitionRejected(Exception):  # noqa: N818 - public API name (docs/api.md)
    """Raised by :meth:`PipelineMachine.move` for a refused move; carries the decision."""

    def __init__(self, decision: Decision) -> None:
        super().__init__("; ".join(r.message() for r in decision.reasons))
        self.decision = decision

    @property
    def reasons(self) -> tuple[Reason, ...]:
        """Why the move was refused."""
        return self.decision.reasons


class Guard:
    """The condition of one declared move: required fields and ``when``/``unless`` maps.

    ``transitions`` calls it with the event data (``send_event=True``); :meth:`reasons` explains
    a refusal with the same tests.
    """

    def __init__(self, move: Move) -> None:
        self.move = move
        self.trivial = not (move.require or move.when or move.unless)

    def __call__(self, event_data: EventData) -> bool:
        return self.passes(event_data.kwargs["deal"])

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


class _Token:
    """A stand-in model holding only a stage, so a shared machine can perform one move."""

    __slots__ = ("state",)

    def __init__(self, state: str) -> None:
        self.state = state


def _unguarded(transition: Any) -> bool:
    """Whether a transition's only conditions are guards that test nothing."""
    return all(isinstance(c.func, Guard) and c.func.trivial and c.target
               for c in transition.conditions)


def _trigger(stage: str) -> str:
    return f"enter:{stage}"


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
        # (source, dest) -> the machine's own transitions for that move, in declared order.
        self._index: dict[tuple[str, str], list[Any]] = {}
        for event in self.machine.events.values():
            for transitions in event.transitions.values():
                for transition in transitions:
                    key = (str(transition.source), str(transition.dest))
                    self._index.setdefault(key, []).append(transition)
        # Moves out of an open stage that some transition allows with no guard at all: the
        # common case, decided by one set lookup instead of running conditions.
        self._free = frozenset(
            key for key, transitions in self._index.items()
            if graph.is_open(key[0]) and any(_unguarded(t) for t in transitions))
        # The other declared moves out of open stages: their guards decide.
        self._guarded: dict[tuple[str | None, str], list[Any]] = {
            key: transitions for key, transitions in self._index.items()
            if graph.is_open(key[0]) and key not in self._free}
        self._reach: dict[str, frozenset[str]] = {}
        # Verdicts on moves that no deal field can change (see replay); filled lazily, and
        # concurrent fills store the same verdict.
        self._static: dict[tuple[str | None, str], tuple[Reason, ...]] = {}
        self._first: dict[tuple[str, str], tuple[Reason, ...]] = {}
        self._coreach: dict[str, frozenset[str]] = {}

    # -- judging ---------------------------------------------------------------------------

    def check(self, deal: Deal, to: str) -> Decision:
        """May ``deal`` move from its current stage to ``to``? A new deal (no stage) may enter
        only the stage its start definition names."""
        return Decision(deal.id, deal.stage, to, tuple(self._judge(deal, deal.stage, to)))

    def _judge(self, deal: Deal, current: str | None, to: str) -> list[Reason]:
        if (current, to) in self._free:
            return []
        candidates = self._guarded.get((current, to))
        if candidates is not None:
            return self._judge_guards(deal, candidates)
        graph = self.compiled.graph
        if to not in graph.index:
            return [Reason(UNKNOWN_STAGE, "reason.unknown-target", {"stage": to}, field="to")]
        if current is None:
            return self._judge_start(deal, to)
        if current not in graph.index:
            return [Reason(UNKNOWN_STAGE, "reason.unknown-current", {"stage": current},
                           field="stage")]
        if current in graph.terminal:
            kind = "won" if current in graph.won else "lost"
            return [Reason(TERMINAL, f"reason.terminal-{kind}", {"stage": current},
                           stages=(current,))]
        candidates = self._index.get((current, to))
        if not candidates:
            reasons = [Reason(NOT_DECLARED, "reason.not-declared", {"from": current, "to": to},
                              stages=(current, to))]
            skipped = self.skipped(current, to)
            if skipped:
                reasons.append(Reason(SKIPS_STAGES, "reason.skips-stages",
                                      {"stages": ", ".join(skipped)}, stages=skipped))
            return reasons
        return self._judge_guards(deal, candidates)

    @staticmethod
    def _judge_guards(deal: Deal, candidates: list[Any]) -> list[Reason]:
        """Run the conditions of the machine's transitions for a move; explain if all refuse.

        The condition callables are our guards; they are called on the deal directly, as
        ``Condition.check`` would through an ``EventData`` (which costs twice the test itself
        and is what :meth:`move` goes through when it triggers the event).
        """
        found: list[Reason] = []
        for transition in candidates:
            failing = [c for c in transition.conditions if c.func.passes(deal) != c.target]
            if not failing:
                return []
            for condition in failing:
                found.extend(r for r in condition.func.reasons(deal) if r not in found)
        return found

    def _judge_start(self, deal: Deal, to: str) -> list[Reason]:
        start = self.compiled.start_for(deal)
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
        graph = self.compiled.graph
        ahead = self._reach_from(current)
        if to not in ahead or to == current:
            return ()
        between = (ahead & self._reach_to(to)) - {current, to}
        return tuple(sorted((s for s in between if graph.is_open(s)),
                            key=graph.index.__getitem__))

    def _reach_from(self, stage: str) -> frozenset[str]:
        # Filled lazily; concurrent fills compute the same set, so the race is harmless.
        found = self._reach.get(stage)
        if found is None:
            found = self._reach[stage] = reach([stage], self.compiled.graph.successors)
        return found

    def _reach_to(self, stage: str) -> frozenset[str]:
        found = self._coreach.get(stage)
        if found is None:
            found = self._coreach[stage] = reach([stage], self.compiled.graph.predecessors)
        return found

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

    def replay(self, deal: Deal) -> list[IllegalMove]:
        """Every move in the deal's history that the regulation refuses, in order.

        Each move is judged as :meth:`check` would have judged it at the time, against the
        deal's current fields (histories carry no field snapshots). The first entry is judged
        against the start definitions. Forced (override) moves are reported too, marked.
        """
        free = self._free
        guarded = self._guarded
        static = self._static
        found: list[IllegalMove] = []
        previous: str | None = None
        for index, entry in enumerate(deal.history):
            stage = entry.stage
            # The set lookup is _judge's own first step, inlined: replay runs it per move.
            if (previous, stage) not in free:
                key = (previous, stage)
                if previous is None:
                    reasons = self._judge_first(deal, stage)
                elif key in guarded:
                    reasons = self._judge_guards(deal, guarded[key])
                else:
                    # Neither a first entry nor a guarded move: the verdict depends on the
                    # two stages alone, and replays meet the same few pairs again and again.
                    cached = static.get(key)
                    if cached is None:
                        cached = static[key] = tuple(self._judge(deal, previous, stage))
                    reasons = list(cached)
                if reasons:
                    found.append(self._classify(index, previous, entry, reasons))
            previous = stage
        return found

    def _judge_first(self, deal: Deal, stage: str) -> list[Reason]:
        """:meth:`_judge` of a first history entry: the verdict depends on the start definition
        the deal matches and the stage, so it is remembered per pair."""
        start = self.compiled.start_for(deal) if stage in self.compiled.graph.index else None
        if start is None:
            return self._judge(deal, None, stage)
        key = (start.id, stage)
        cached = self._first.get(key)
        if cached is None:
            cached = self._first[key] = tuple(self._judge(deal, None, stage))
        return list(cached)

    def _classify(self, index: int, previous: str | None, entry: HistoryEntry,
                  reasons: Sequence[Reason]) -> IllegalMove:
        skipped = next((r.stages for r in reasons if r.code == SKIPS_STAGES), ())
        kind = SKIPPED_STAGE if skipped else ILLEGAL_TRANSITION
        return IllegalMove(index, previous, entry.stage, entry.at, kind, tuple(reasons),
                           skipped, entry.override)


__all__ = ["REASON_CODES", "Decision", "IllegalMove", "PipelineMachine", "Reason",
           "TransitionRejected"]
