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
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pipeline_rules import i18n
from pipeline_rules.deals import Item, as_record
from pipeline_rules.deals.decode import decode_deal, parse_deal
from pipeline_rules.deals.model import Deal, DealError, Record
from pipeline_rules.deals.readers.jsonl import jsonl_record
from pipeline_rules.enforce.machine import PipelineMachine
from pipeline_rules.evaluate import entry, pauses, reminders, sla, tasks
from pipeline_rules.evaluate.context import Run, RunShare, VersionRuns
from pipeline_rules.evaluate.entry import check_entry, stage_start
from pipeline_rules.evaluate.extensions import enrich, plugin_change, run_checks
from pipeline_rules.evaluate.findings import Finding, bad_record, order_key
from pipeline_rules.evaluate.history import check_history
from pipeline_rules.evaluate.intake import Rejection, intake, stage_problem
from pipeline_rules.evaluate.pauses import check_pauses
from pipeline_rules.evaluate.reminders import check_reminders
from pipeline_rules.evaluate.routing import route_findings
from pipeline_rules.evaluate.sla import check_slas
from pipeline_rules.evaluate.tasks import check_tasks
from pipeline_rules.evaluate.wake import Wake, earliest
from pipeline_rules.ruleset.compiled import CompiledRuleset, compile_ruleset
from pipeline_rules.ruleset.model import Condition, Ruleset
from pipeline_rules.ruleset.versions import Versions
from pipeline_rules.time.now import NowError, parse_now

Check = Callable[[Deal, Run], Iterable[Finding]]
NextChange = Callable[[Deal, Run], Wake | None]

#: Checks for open deals, in the order their findings are produced (then sorted by time).
OPEN_DEAL_CHECKS: tuple[Check, ...] = (check_slas, check_tasks, check_history, check_reminders,
                                       check_pauses, check_entry)
CLOSED_DEAL_CHECKS: tuple[Check, ...] = (check_history, check_entry)
#: Each check's answer to "when do my findings next change by time alone" (see :mod:`.wake`);
#: a check missing here never changes by time (the history replay).
NEXT_CHANGE: dict[Check, NextChange] = {
    check_slas: sla.next_change,
    check_tasks: tasks.next_change,
    check_reminders: reminders.next_change,
    check_pauses: pauses.next_change,
    check_entry: entry.next_change,
}
#: How long a plugin check's findings are trusted to hold when it cannot say when they change
#: (a plugin check may offer ``next_change(deal, context) -> datetime | None`` instead).
PLUGIN_RECHECK = timedelta(hours=1)


class Evaluator:
    """Evaluates deals against one ruleset; one instance serves any number of runs, in any
    language (``lang`` is the language of runs that name none)."""

    def __init__(self, ruleset: Ruleset | CompiledRuleset, lang: str = i18n.DEFAULT,
                 horizon: timedelta = timedelta(0), versions: Versions | None = None) -> None:
        if versions is not None:
            ruleset = versions.latest
        self.compiled = ruleset if isinstance(ruleset, CompiledRuleset) \
            else compile_ruleset(ruleset)
        self.machine = PipelineMachine(self.compiled)
        self.lang = lang
        self.horizon = horizon
        #: The ruleset's versions and an evaluator for each (None: not kept in versions).
        self.versions = versions
        self.by_version = tuple(Evaluator(c, lang, horizon) for c in versions.entries) \
            if versions is not None else ()
        self.same_moves = len({_moves_signature(c) for c in versions.entries}) == 1 \
            if versions is not None else True

    def run(self, now: datetime, lang: str | None = None,
            share: RunShare | None = None) -> Run:
        """The per-run context for evaluating at ``now``, messages in ``lang`` (for a ruleset
        kept in versions: the run of the version in force at ``now``, with every version's;
        ``share``: see :meth:`Run.start`)."""
        if self.versions is None:
            return Run.start(self.compiled, self.machine, now, lang or self.lang, self.horizon,
                             share)
        runs = tuple(e.run(now, lang or self.lang, share) for e in self.by_version)
        current = self.versions.index_at(now)
        run = runs[current]
        run.versions = VersionRuns(self.versions, runs, current, self.same_moves)
        return run

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
        deal = intake(record, run.compiled, run.lang)
        if isinstance(deal, Rejection):
            return None, [self.bad_record(run, deal.origin, deal.deal, deal.message, deal.path)]
        return deal.id, self.findings(deal, run)

    def line_outcome(self, line: bytes, run: Run, name: str, number: int
                     ) -> tuple[str | None, list[Finding]]:
        """:meth:`outcome` for line ``number`` of the JSON Lines input ``name``.

        Well-formed lines are decoded straight to deals (:mod:`~pipeline_rules.deals.decode`);
        the rest go the general way, which names what is wrong.
        """
        deal = decode_deal(line, run.compiled.zone)
        if deal is None:
            return self.outcome(jsonl_record(f"{name}:{number}", line), run)
        problem = stage_problem(deal, run.compiled, run.lang)
        if problem is not None:
            return None, [self.bad_record(run, f"{name}:{number}", deal.id, *problem)]
        return deal.id, self.findings(deal, run)

    def duplicate(self, run: Run, record: Record, deal_id: str) -> Finding:
        """The finding for a record whose deal id appeared earlier in the input."""
        message = i18n.render("bad-record.duplicate", {"deal": deal_id}, run.lang)
        return self.bad_record(run, record.origin, deal_id, message, "/id")

    def findings(self, deal: Deal, run: Run) -> list[Finding]:
        """Every finding for one well-formed deal, ordered by time, code and rule."""
        if run.versions is not None:
            return self.by_versions(deal, run, run.versions)
        return judged_by(deal, run)

    def by_versions(self, deal: Deal, run: Run, versions: VersionRuns, tasks: bool = True,
                    plugins: bool = True, actions: bool = True) -> list[Finding]:
        """:meth:`findings` of a ruleset kept in versions: each timer judged by the version in
        force when it began, moves (and the actions of a stage entry) by the one in force when
        they were made, task rules and reminders by the one in force at ``now`` (this run's).
        A backtest leaves out the task checks, the plugins' and the actions of entries, pause
        limits and routing (``tasks``, ``plugins``, ``actions``)."""
        rebased = rebased_at(deal, run)
        if isinstance(rebased, str):
            return [self.bad_record(run, deal.id, deal.id, rebased, REBASED_POINTER)]
        history = deal.history
        # Times only grow along a history, so no timer or move began under a version before
        # the one in force at its first entry. Most deals began under the version in force
        # now: that one version judges them all, as a ruleset of one version does. So does it
        # a closed deal whose moves every version judges alike, when no version acts on entries
        # (a closed deal has no timers) and its history is not older than every version.
        terminal = deal.stage in run.compiled.graph.terminal
        if not history or history[0].at >= versions.since or (
                terminal and versions.same_moves and not versions.entries_any
                and history[0].at >= versions.versions.instants[0]):
            return judged_by(deal, run, tasks, plugins, actions)
        found: list[Finding] = []
        current = versions.current
        first = history[0].at
        if not terminal:
            # Every timer begins at a history entry: only the versions in force from the
            # first entry to the last judge (and the one in force now, if none began).
            low = versions.index_for(first, rebased)
            if low == current:
                found.extend(check_slas(deal, run))
            else:
                high = versions.index_for(history[-1].at, rebased)
                for index in (*range(low, high + 1), *(() if high == current else (current,))):
                    found.extend(check_slas(deal, versions.runs[index],
                                            _picker(versions, rebased, index)))
            if tasks:
                found.extend(check_tasks(deal, run))
            found.extend(check_reminders(deal, run))
            if actions and versions.pauses_any and deal.pauses:
                # A pause limit is a timer that began when the pause did.
                for index in sorted({versions.index_for(p.start, rebased)
                                     for p in deal.pauses}):
                    found.extend(check_pauses(deal, versions.runs[index],
                                              _picker(versions, rebased, index)))
        low = current if versions.same_moves else versions.index_for(first)
        if low == current:
            found.extend(check_history(deal, run))
        else:
            for index in range(low, current + 1):
                found.extend(f for f in check_history(deal, versions.runs[index])
                             if versions.index_for(f.at) == index)
        if actions and versions.entries_any:
            entered = stage_start(deal)
            found.extend(check_entry(deal, run if entered is None
                                     else versions.runs[versions.index_for(entered, rebased)]))
        if first < versions.versions.instants[0]:
            found.append(before_versions(deal, versions.runs[0]))
        if plugins and run.compiled.plugins.names:
            found = enrich(found + list(run_checks(deal, run)), deal, run)
        if actions and found and run.compiled.directory.routes_any:
            found += route_findings(found, deal, run)
        found.sort(key=order_key)
        return found

    def next_change(self, deal: Deal, run: Run) -> Wake | None:
        """When the findings of a well-formed deal next change with no new input: the earliest
        of its checks' candidates (None: never by time alone)."""
        if run.versions is not None:
            return self.next_change_by_versions(deal, run, run.versions)
        graph = self.compiled.graph
        checks = CLOSED_DEAL_CHECKS if deal.stage in graph.terminal else OPEN_DEAL_CHECKS
        candidates = [NEXT_CHANGE[check](deal, run) for check in checks if check in NEXT_CHANGE]
        if self.compiled.plugins.checks:
            candidates.append(plugin_change(deal, run, PLUGIN_RECHECK))
        return earliest(candidates)

    def next_change_by_versions(self, deal: Deal, run: Run, versions: VersionRuns
                                ) -> Wake | None:
        """:meth:`next_change` of a ruleset kept in versions, by the version each check of
        :meth:`by_versions` uses: an SLA timer's and a pause limit's at its start, the entry
        actions' at the entry, task rules' and reminders' at ``now`` (and a deal judged by the
        version in force now alone, as :meth:`by_versions` judges it, by that version's every
        check). The next version's ``effective`` instant is a safe earlier bound (``exact``
        False): from then on it judges what ``now`` decides, which may or may not change a
        finding, and telling which would take a judgement at that instant."""
        rebased = rebased_at(deal, run)
        if isinstance(rebased, str):
            return None  # a bad record stays one
        candidates: list[Wake | None] = [
            next((Wake(at, exact=False) for at in versions.versions.instants if at > run.now),
                 None)]
        history = deal.history
        terminal = deal.stage in run.compiled.graph.terminal
        # The deals by_versions judges by the version in force now alone.
        if not history or history[0].at >= versions.since or (
                terminal and versions.same_moves and not versions.entries_any
                and history[0].at >= versions.versions.instants[0]):
            checks = CLOSED_DEAL_CHECKS if terminal else OPEN_DEAL_CHECKS
            candidates += [NEXT_CHANGE[check](deal, run) for check in checks
                           if check in NEXT_CHANGE]
            if run.compiled.plugins.checks:
                candidates.append(plugin_change(deal, run, PLUGIN_RECHECK))
            return earliest(candidates)
        current = versions.current
        if not terminal:
            low = versions.index_for(history[0].at, rebased)
            if low == current:
                candidates.append(sla.next_change(deal, run))
            else:
                high = versions.index_for(history[-1].at, rebased)
                for index in (*range(low, high + 1), *(() if high == current else (current,))):
                    candidates.append(sla.next_change(deal, versions.runs[index],
                                                      _picker(versions, rebased, index)))
            candidates.append(tasks.next_change(deal, run))
            candidates.append(reminders.next_change(deal, run))
            if versions.pauses_any and deal.pauses:
                for index in sorted({versions.index_for(p.start, rebased)
                                     for p in deal.pauses}):
                    candidates.append(pauses.next_change(deal, versions.runs[index],
                                                         _picker(versions, rebased, index)))
        if versions.entries_any:
            entered = stage_start(deal)
            candidates.append(entry.next_change(deal, run if entered is None else
                                                versions.runs[versions.index_for(entered,
                                                                                 rebased)]))
        if run.compiled.plugins.checks:
            candidates.append(plugin_change(deal, run, PLUGIN_RECHECK))
        return earliest(candidates)

    def outcome_and_change(self, record: Record, run: Run
                           ) -> tuple[str | None, list[Finding], Wake | None]:
        """:meth:`outcome` and, for a deal that was evaluated, :meth:`next_change`."""
        deal = intake(record, run.compiled, run.lang)
        if isinstance(deal, Rejection):
            return None, [self.bad_record(run, deal.origin, deal.deal, deal.message,
                                          deal.path)], None
        return deal.id, self.findings(deal, run), self.next_change(deal, run)

    def bad_record(self, run: Run, origin: str, deal: str | None, reason: str,
                   path: str = "") -> Finding:
        """The finding for a record that could not be evaluated."""
        return bad_record(run.ruleset_id, run.local(run.now), origin, deal, reason, run.lang,
                          path)


__all__ = ["CLOSED_DEAL_CHECKS", "NEXT_CHANGE", "OPEN_DEAL_CHECKS", "Evaluator", "Rebased",
           "Record", "Wake", "rebase"]


#: The deal field that re-bases a deal onto the version in force at the instant it holds.
REBASED_FIELD = "rebased_at"
REBASED_POINTER = f"/fields/{REBASED_FIELD}"


@dataclass(frozen=True)
class Rebased:
    """A deal re-based onto the version in force at an instant: the record with the re-basing
    in its fields, the version it is judged by from then, and its findings at that instant."""

    deal: dict[str, Any]
    #: The revision and effective instant of the version it was re-based onto.
    version: str | None
    effective: datetime | None
    findings: list[Finding]


def rebase(evaluator: Evaluator, deal: Mapping[str, Any], now: datetime,
           lang: str | None = None) -> Rebased:
    """``deal`` (its JSON-shaped record) re-based at ``now`` onto the version then in force:
    the record with ``fields.rebased_at`` set to ``now`` (which is what re-bases it, wherever it
    is judged after), and its findings at ``now``. A ruleset not kept in versions is its one
    version (the instant is recorded all the same, and counts if it is ever kept in versions).
    Raise :class:`DealError` naming the bad part of a deal the version cannot judge."""
    versions = evaluator.versions
    onto = versions.at(now) if versions is not None else evaluator.compiled
    said = lang or evaluator.lang
    parsed = parse_deal(deal, onto.zone)  # DealError for a deal that cannot be read
    problem = stage_problem(parsed, onto, said)
    if problem is not None:
        raise DealError(problem[0], problem[1])
    fields = deal.get("fields") or {}
    record = {**deal, "fields": {**fields, REBASED_FIELD: now.astimezone(onto.zone).isoformat()}}
    return Rebased(record, onto.revision, onto.effective,
                   evaluator.evaluate_one(record, now, said))


def judged_by(deal: Deal, run: Run, tasks: bool = True, plugins: bool = True,
              actions: bool = True) -> list[Finding]:
    """Every finding for one well-formed deal judged by the ruleset of ``run`` alone, ordered
    by time, code and rule (``tasks``, ``plugins``, ``actions``: as for
    :meth:`Evaluator.by_versions`)."""
    compiled = run.compiled
    checks = CLOSED_DEAL_CHECKS if deal.stage in compiled.graph.terminal else OPEN_DEAL_CHECKS
    if not (tasks and actions):
        left_out = (() if tasks else (check_tasks,)) + \
            (() if actions else (check_pauses, check_entry))
        checks = tuple(c for c in checks if c not in left_out)
    found = [f for check in checks for f in check(deal, run)]
    if plugins and compiled.plugins.names:
        found = enrich(found + list(run_checks(deal, run)), deal, run)
    if actions and found and compiled.directory.routes_any:
        found += route_findings(found, deal, run)
    found.sort(key=order_key)
    return found


def rebased_at(deal: Deal, run: Run) -> datetime | str | None:
    """When the deal was re-based onto the version then in force (its ``fields.rebased_at``),
    None when it was not, or why the field cannot be read."""
    value = deal.fields.get(REBASED_FIELD)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        return i18n.render("bad-record.rebased", {"pointer": REBASED_POINTER,
                                                  "detail": type(value).__name__}, run.lang)
    try:
        return parse_now(value, run.compiled.zone, REBASED_POINTER)
    except NowError as err:
        return i18n.render("bad-record.rebased", {"pointer": REBASED_POINTER,
                                                  "detail": err.message}, run.lang)


def before_versions(deal: Deal, first: Run) -> Finding:
    """The finding for a deal whose history begins before the first version took effect: what
    began then is judged by the first version, and the deal says so."""
    compiled = first.compiled
    return first.violation("before-versions", None, deal.id, deal.stage, deal.history[0].at,
                           {"at": first.time(deal.history[0].at), "ruleset": compiled.id,
                            "effective": compiled.ruleset.effective or "",
                            "version": compiled.revision or ""},
                           effective=compiled.ruleset.effective, version=compiled.revision)


def _moves_signature(compiled: CompiledRuleset) -> tuple[object, ...]:
    """What decides how a ruleset judges moves, without positions: stages, starts, moves."""
    def conditions(items: Iterable[Condition]) -> tuple[object, ...]:
        return tuple((c.field, c.op, repr(c.value)) for c in items)
    graph = compiled.graph
    return (tuple(graph.order), tuple(sorted(graph.terminal)),
            tuple((s.id, s.stage, conditions(s.definition.when)) for s in compiled.starts),
            tuple((m.source, m.target, m.require, conditions(m.definition.when),
                   conditions(m.definition.unless)) for m in compiled.moves))


def _picker(versions: VersionRuns, rebased: datetime | None, index: int
            ) -> Callable[[datetime | None], bool]:
    """Whether version ``index`` judges a timer that began at ``since``: what
    :meth:`VersionRuns.index_for` says, as a test of the instants the version is in force
    between (asked for every timer of every version a deal falls under)."""
    instants = versions.versions.instants
    current = versions.current
    low = instants[index] if index else None
    high = instants[index + 1] if index < current else None

    def pick(since: datetime | None) -> bool:
        if since is None:
            return index == current
        if rebased is not None and rebased > since:
            since = rebased
        return (low is None or since >= low) and (high is None or since < high)
    return pick
