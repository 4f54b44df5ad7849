"""Backtesting a regulation: what it would have raised over a past period.

The deals are read and parsed once. At each evaluation point ``t`` (from ``start`` to ``end``,
every ``every``) each deal is seen **as it stood at t** — its history up to ``t``, its pauses
as known then (a pause still running at ``t`` has no end yet) — and evaluated with the checks
that need nothing from the future: SLAs, history and reminders. Task checks are left out: a
deal's tasks carry no creation or completion times, so what was open at ``t`` is unknowable.
Events (meetings) are taken as known in advance.

An alert is counted once, at the first point that raises it: a violation is identified by (deal,
code, rule, when it began), an action by (deal, code, rule, due time) — the same identities the
evaluator's keys are built on, so a breach that lasts a month is one alert, not thirty. A deal is
evaluated from its first history entry until the first point after it closed.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pipeline_rules import i18n
from pipeline_rules.analytics.report import Backtest, Change, Tally
from pipeline_rules.deals import Item
from pipeline_rules.deals.model import Deal, Pause
from pipeline_rules.evaluate import Evaluator
from pipeline_rules.evaluate.context import Run
from pipeline_rules.evaluate.history import check_history
from pipeline_rules.evaluate.intake import Rejection, intake
from pipeline_rules.evaluate.reminders import check_reminders
from pipeline_rules.evaluate.sla import check_slas
from pipeline_rules.ruleset.compiled import CompiledRuleset
from pipeline_rules.ruleset.versions import Versions
from pipeline_rules.time.durations import format_seconds

Identity = tuple[str, str, str, str]  # deal, code, rule, when (ISO, UTC)
EXAMPLES = 3


def as_of(deal: Deal, moment: datetime, stamps: list[float] | None = None) -> Deal | None:
    """The deal as it stood at ``moment`` (None before its first history entry); ``stamps``
    are its history's timestamps when the caller has them."""
    if stamps is None:
        stamps = [h.at.timestamp() for h in deal.history]
    cut = bisect_right(stamps, moment.timestamp())
    if cut == 0:
        return None
    history = deal.history[:cut]
    pauses = tuple(Pause(p.start, p.end if p.end is not None and p.end <= moment else None,
                         p.reason) for p in deal.pauses if p.start <= moment)
    return Deal(deal.id, history[-1].stage, deal.source, deal.owner, deal.manager, deal.fields,
                history, (), deal.events, pauses)


@dataclass
class _Counts:
    seen: dict[Identity, str] = field(default_factory=dict)  # identity -> local time shown
    tally_code: Counter[str] = field(default_factory=Counter)
    tally_stage: defaultdict[str, Counter[str]] = field(
        default_factory=lambda: defaultdict(Counter))
    tally_owner: defaultdict[str, Counter[str]] = field(
        default_factory=lambda: defaultdict(Counter))
    tally_week: defaultdict[str, Counter[str]] = field(
        default_factory=lambda: defaultdict(Counter))

    #: Alerts already open at the first point (raised for a moment before it): the backlog the
    #: regulation finds, kept apart from the alerts the period raises.
    backlog: Counter[str] = field(default_factory=Counter)
    old: set[Identity] = field(default_factory=set)

    def tally(self) -> Tally:
        return Tally(dict(sorted(self.tally_code.items())),
                     {k: dict(v) for k, v in sorted(self.tally_stage.items())},
                     {k: dict(v) for k, v in sorted(self.tally_owner.items())},
                     {k: dict(v) for k, v in sorted(self.tally_week.items())})


def _points(start: datetime, end: datetime, every: timedelta) -> list[datetime]:
    if every <= timedelta(0):
        raise ValueError("the step must be longer than zero")
    if end < start:
        raise ValueError("the period ends before it starts")
    points, moment = [], start
    while moment <= end:
        points.append(moment)
        moment += every
    return points


def _closed_at(deal: Deal, compiled: CompiledRuleset) -> datetime | None:
    terminal = compiled.graph.terminal
    return next((h.at for h in deal.history if h.stage in terminal), None)


def _run(compiled: CompiledRuleset, deals: list[Deal], points: list[datetime],
         every: timedelta, versions: Versions | None = None,
         progress: Callable[[int], None] | None = None) -> _Counts:
    evaluator = Evaluator(compiled, versions=versions)
    counts = _Counts()
    spans = [(d, d.history[0].at, _closed_at(d, compiled), [h.at.timestamp() for h in d.history])
             for d in deals if d.history]
    zone = compiled.zone
    for number, point in enumerate(points, start=1):
        if progress is not None:
            progress(number)
        run = Run.start(compiled, evaluator.machine, point) if versions is None \
            else evaluator.run(point)  # each version's run, the one in force at the point's
        week = (point.astimezone(zone).date()
                - timedelta(days=point.astimezone(zone).weekday())).isoformat()
        for deal, first, closed, stamps in spans:
            if first > point or (closed is not None and closed <= point - every):
                continue
            view = as_of(deal, point, stamps)
            if view is None:
                continue
            if run.versions is not None:
                found = evaluator.by_versions(view, run, run.versions, tasks=False, actions=False,
                                              plugins=False)
            else:
                found = list(check_history(view, run))
                if view.stage not in compiled.graph.terminal:
                    found += list(check_slas(view, run)) + list(check_reminders(view, run))
            for finding in found:
                when = finding.due or finding.at
                identity = (finding.deal or "", finding.code, finding.rule or "",
                            when.astimezone(UTC).isoformat())
                if identity in counts.seen:
                    continue
                counts.seen[identity] = when.astimezone(zone).strftime("%Y-%m-%d %H:%M")
                if when < points[0]:
                    counts.backlog[finding.code] += 1
                    counts.old.add(identity)
                    continue
                counts.tally_code[finding.code] += 1
                counts.tally_stage[finding.stage or ""][finding.code] += 1
                counts.tally_owner[deal.owner or "(no owner)"][finding.code] += 1
                counts.tally_week[week][finding.code] += 1
    return counts


def _changes(base: _Counts, other: _Counts, lang: str = i18n.DEFAULT) -> tuple[Change, ...]:
    """The alerts the other ruleset raises and the base does not, and back; examples come
    from the period first, the backlog open at its start only when a change has no other."""
    added = set(other.seen) - set(base.seen)
    removed = set(base.seen) - set(other.seen)
    old = base.old | other.old
    groups: defaultdict[tuple[str, str], tuple[list[Identity], list[Identity]]] = \
        defaultdict(lambda: ([], []))
    for identity in sorted(added, key=lambda i: (i in old, i)):
        groups[(identity[1], identity[2])][0].append(identity)
    for identity in sorted(removed, key=lambda i: (i in old, i)):
        groups[(identity[1], identity[2])][1].append(identity)

    shown = {**base.seen, **other.seen}

    def example(identity: Identity) -> str:
        return i18n.render("backtest.example", {"deal": identity[0], "at": shown[identity]},
                           lang)

    return tuple(Change(code, rule or None, len(a), len(r),
                        tuple(example(i) for i in a[:EXAMPLES]),
                        tuple(example(i) for i in r[:EXAMPLES]))
                 for (code, rule), (a, r) in sorted(groups.items()))


def backtest(ruleset: CompiledRuleset, deals: Iterable[Item],
             start: datetime, end: datetime, every: timedelta,
             compare: CompiledRuleset | None = None, versions: Versions | None = None,
             compare_versions: Versions | None = None,
             progress: Callable[[int, int], None] | None = None,
             lang: str = i18n.DEFAULT) -> Backtest:
    """Replay ``ruleset`` (and ``compare``, if given) over [start, end] every ``every``; a
    ruleset kept in ``versions`` judges each point by the version in force then; ``progress``
    hears (points done, points in all) as the runs go; notes and examples are in ``lang``."""
    points = _points(start.astimezone(UTC), end.astimezone(UTC), every)
    parsed: list[Deal] = []
    bad = 0
    for item in deals:
        deal = intake(item, ruleset)
        if isinstance(deal, Rejection):
            bad += 1
        else:
            parsed.append(deal)
    runs = 2 if compare is not None else 1
    total = runs * len(points)

    def step(offset: int) -> Callable[[int], None] | None:
        return None if progress is None else (lambda done: progress(offset + done, total))

    base = _run(ruleset, parsed, points, every, versions, step(0))
    other = _run(compare, parsed, points, every, compare_versions, step(len(points))) \
        if compare is not None else None
    zone = ruleset.zone
    notes = tuple(i18n.render(f"backtest.note-{key}", {}, lang)
                  for key in ("once", "backlog", "tasks", "as-stood"))
    return Backtest(
        ruleset=ruleset.id, title=ruleset.ruleset.title or ruleset.id,
        start=start.astimezone(zone).isoformat(timespec="minutes"),
        end=end.astimezone(zone).isoformat(timespec="minutes"),
        every=format_seconds(every.total_seconds(), lang), points=len(points), deals=len(parsed),
        bad_records=bad, tally=base.tally(),
        compare_ruleset=compare.id if compare is not None else None,
        compare_tally=other.tally() if other is not None else None,
        changes=_changes(base, other, lang) if other is not None else (), notes=notes,
        backlog=dict(sorted(base.backlog.items())),
        compare_backlog=dict(sorted(other.backlog.items())) if other is not None else None)
