"""The evaluator: deals and a moment in, violations and actions out.

``Evaluator(ruleset).evaluate(deals, now)`` is a lazy iterator of findings, in input order and,
within a deal, by time then code; ``evaluate_one(deal, now)`` is the same for one deal (a CRM
hook). Evaluation is a pure function of (ruleset, deals, now).

Check families, one module each: :mod:`.sla` (stage and span SLAs, warnings, escalations),
:mod:`.tasks`, :mod:`.history` (the state machine's replay), :mod:`.reminders`. Won and lost
deals get only the history check. Plugin checks (:mod:`.extensions`) run on every deal.

A record that cannot be evaluated — unreadable, no id, no stage, an unknown stage, a bad time,
a history out of order, an id seen before, or one the evaluation fails on — becomes one
``bad-record`` finding naming the record, and the run goes on (:mod:`.judge` says how, for this
evaluator and for every other way of evaluating).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pipeline_rules import i18n
from pipeline_rules.deals import Item, as_record
from pipeline_rules.deals.decode import decode_deal
from pipeline_rules.deals.model import Deal, Record
from pipeline_rules.deals.readers.jsonl import jsonl_record
from pipeline_rules.enforce.machine import PipelineMachine
from pipeline_rules.evaluate import reminders, sla, tasks
from pipeline_rules.evaluate.context import Run
from pipeline_rules.evaluate.extensions import enrich, plugin_change, run_checks
from pipeline_rules.evaluate.findings import Finding, bad_record, order_key
from pipeline_rules.evaluate.history import check_history
from pipeline_rules.evaluate.intake import Rejection, intake, stage_problem
from pipeline_rules.evaluate.reminders import check_reminders
from pipeline_rules.evaluate.sla import check_slas
from pipeline_rules.evaluate.tasks import check_tasks
from pipeline_rules.evaluate.wake import Wake, earliest
from pipeline_rules.ruleset.compiled import CompiledRuleset, compile_ruleset
from pipeline_rules.ruleset.model import Ruleset

if TYPE_CHECKING:
    from croniter import croniter

    from pipeline_rules.time.schedules import CronSchedule

Check = Callable[[Deal, Run], Iterable[Finding]]
NextChange = Callable[[Deal, Run], Wake | None]

#: Checks for open deals, in the order their findings are produced (then sorted by time).
OPEN_DEAL_CHECKS: tuple[Check, ...] = (check_slas, check_tasks, check_history, check_reminders)
CLOSED_DEAL_CHECKS: tuple[Check, ...] = (check_history,)
#: Each check's answer to "when do my findings next change by time alone" (see :mod:`.wake`);
#: a check missing here never changes by time (the history replay).
NEXT_CHANGE: dict[Check, NextChange] = {
    check_slas: sla.next_change,
    check_tasks: tasks.next_change,
    check_reminders: reminders.next_change,
}
#: How long a plugin check's findings are trusted to hold when it cannot say when they change
#: (a plugin check may offer ``next_change(deal, context) -> datetime | None`` instead).
PLUGIN_RECHECK = timedelta(hours=1)


class Evaluator:
    """Evaluates deals against one ruleset; one instance serves any number of runs, in any
    language (``lang`` is the language of runs that name none)."""

    def __init__(self, ruleset: Ruleset | CompiledRuleset, lang: str = i18n.DEFAULT,
                 horizon: timedelta = timedelta(0)) -> None:
        self.compiled = ruleset if isinstance(ruleset, CompiledRuleset) \
            else compile_ruleset(ruleset)
        self.machine = PipelineMachine(self.compiled)
        self.lang = lang
        self.horizon = horizon

    def run(self, now: datetime, lang: str | None = None,
            cursors: dict[CronSchedule, croniter] | None = None) -> Run:
        """The per-run context for evaluating at ``now``, messages in ``lang`` (``cursors``:
        see :meth:`Run.start`)."""
        return Run.start(self.compiled, self.machine, now, lang or self.lang, self.horizon,
                         cursors)

    def evaluate(self, deals: Iterable[Item], now: datetime,
                 lang: str | None = None) -> Iterator[Finding]:
        """Findings for every deal, lazily, in input order (messages in ``lang``)."""
        from pipeline_rules.evaluate.judge import Judge, Runs, judge_records
        from pipeline_rules.ruleset.catalog import catalog_of

        judge = Judge(catalog_of(self.compiled), self.horizon,
                      evaluators={self.compiled.id: self})
        runs = Runs(now, lang or self.lang)
        runs.of(self)  # a bad ``now`` is refused before the first deal
        records = (as_record(item, f"record {number}") for number, item in enumerate(deals, 1))
        for judged in judge_records(judge, records, runs):
            yield from judged.findings

    def evaluate_one(self, deal: Deal | Mapping[str, Any], now: datetime,
                     lang: str | None = None) -> list[Finding]:
        """Findings for one deal (a deal or its JSON-shaped record)."""
        return list(self.evaluate([deal], now, lang))

    def outcome(self, record: Record, run: Run) -> tuple[str | None, list[Finding]]:
        """Findings for one record, and its deal id when it was evaluated (None for a bad
        record). Duplicates are the caller's to judge."""
        deal = intake(record, self.compiled, run.lang)
        if isinstance(deal, Rejection):
            return None, [self.bad_record(run, deal.origin, deal.deal, deal.message, deal.path)]
        return deal.id, self.findings(deal, run)

    def line_outcome(self, line: bytes, run: Run, name: str, number: int
                     ) -> tuple[str | None, list[Finding]]:
        """:meth:`outcome` for line ``number`` of the JSON Lines input ``name``.

        Well-formed lines are decoded straight to deals (:mod:`~pipeline_rules.deals.decode`);
        the rest go the general way, which names what is wrong.
        """
        deal = decode_deal(line, self.compiled.zone)
        if deal is None:
            return self.outcome(jsonl_record(f"{name}:{number}", line), run)
        problem = stage_problem(deal, self.compiled, run.lang)
        if problem is not None:
            return None, [self.bad_record(run, f"{name}:{number}", deal.id, *problem)]
        return deal.id, self.findings(deal, run)

    def duplicate(self, run: Run, record: Record, deal_id: str) -> Finding:
        """The finding for a record whose deal id appeared earlier in the input."""
        message = i18n.render("bad-record.duplicate", {"deal": deal_id}, run.lang)
        return self.bad_record(run, record.origin, deal_id, message, "/id")

    def findings(self, deal: Deal, run: Run) -> list[Finding]:
        """Every finding for one well-formed deal, ordered by time, code and rule."""
        graph = self.compiled.graph
        checks = CLOSED_DEAL_CHECKS if deal.stage in graph.terminal else OPEN_DEAL_CHECKS
        found = [f for check in checks for f in check(deal, run)]
        if self.compiled.plugins.names:
            found = enrich(found + list(run_checks(deal, run)), deal, run)
        found.sort(key=order_key)
        return found

    def next_change(self, deal: Deal, run: Run) -> Wake | None:
        """When the findings of a well-formed deal next change with no new input: the earliest
        of its checks' candidates (None: never by time alone)."""
        graph = self.compiled.graph
        checks = CLOSED_DEAL_CHECKS if deal.stage in graph.terminal else OPEN_DEAL_CHECKS
        candidates = [NEXT_CHANGE[check](deal, run) for check in checks if check in NEXT_CHANGE]
        if self.compiled.plugins.checks:
            candidates.append(plugin_change(deal, run, PLUGIN_RECHECK))
        return earliest(candidates)

    def outcome_and_change(self, record: Record, run: Run
                           ) -> tuple[str | None, list[Finding], Wake | None]:
        """:meth:`outcome` and, for a deal that was evaluated, :meth:`next_change`."""
        deal = intake(record, self.compiled, run.lang)
        if isinstance(deal, Rejection):
            return None, [self.bad_record(run, deal.origin, deal.deal, deal.message,
                                          deal.path)], None
        return deal.id, self.findings(deal, run), self.next_change(deal, run)

    def bad_record(self, run: Run, origin: str, deal: str | None, reason: str,
                   path: str = "") -> Finding:
        """The finding for a record that could not be evaluated."""
        return bad_record(run.ruleset_id, run.local(run.now), origin, deal, reason, run.lang,
                          path)


__all__ = ["CLOSED_DEAL_CHECKS", "NEXT_CHANGE", "OPEN_DEAL_CHECKS", "Evaluator", "Record",
           "Wake"]
