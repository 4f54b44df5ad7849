"""Analysing stage histories: where deals stall, how long stages take, what SLA limits fit.

One streaming pass over the deals, in constant memory (quantiles come from
:class:`~.sketch.QuantileSketch`, within 0.5 % relative error). Definitions:

* a **visit** is one entry into a stage; a deal re-entering a stage makes another visit;
* a visit is **completed** when the deal left the stage; its **dwell** is the time from entering
  to leaving, wall-clock and working time on the ruleset's calendar (the stage SLA's calendar,
  else the ruleset's only calendar); open deals' current visits are reported as **ages**;
* leaving **forward** means to a stage declared later (or to won), **back** to one declared
  earlier, **lost** to a lost stage;
* an SLA is **breached** by a visit (completed or ongoing) whose dwell exceeds the limit, counted
  the way the evaluator counts it (working time against N working days' worth of hours);
* the **suggested limit** is the p80 dwell of completed visits, rounded up to a readable
  duration (business days or hours when the stage is timed on a calendar);
* **cycle length** runs from a deal's first history entry to its won (or lost) entry; deals are
  grouped by the start definition their fields select, by owner, by the month their cycle
  started (the trend) and, asked, by any field; the **suggested whole-cycle limit** is the p80
  of the closed deals' cycles, rounded up like the stages' ones;
* a first stage the source gives no date for (``undated_start``) counts as entered (and as still
  there for a deal with no dated stage), with no dwell or age; such a deal's cycle is counted
  from its first dated stage.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pipeline_rules.analytics.report import GroupStats, Quantiles, Report, StageStats, Stall
from pipeline_rules.analytics.sketch import QuantileSketch
from pipeline_rules.analytics.split import SideValues, Splitter
from pipeline_rules.deals import Item
from pipeline_rules.deals.model import Deal
from pipeline_rules.evaluate.intake import Rejection, intake
from pipeline_rules.ruleset.compiled import CompiledRuleset, compile_ruleset
from pipeline_rules.ruleset.conditions import field_value, is_missing
from pipeline_rules.ruleset.model import Ruleset, SlaDef
from pipeline_rules.ruleset.versions import Versions
from pipeline_rules.time.calendars import BusinessCalendar
from pipeline_rules.time.durations import DurationKind, format_seconds
from pipeline_rules.time.working import (
    business_days_seconds,
    civil_seconds,
    counted_seconds,
    working_time,
)

NO_START = "(no start matches)"
#: ``now`` this long (seconds) after the latest time in the data is worth a warning.
STALE_AFTER = 30 * 86400
NO_OWNER = "(no owner)"
NO_VALUE = "(none)"
#: Field names remembered to say what there is when ``--by`` names a field no deal has.
FIELDS_LISTED = 50


def quantiles(sketch: QuantileSketch) -> Quantiles:
    """The summary of a sketch."""
    return Quantiles(sketch.count, sketch.quantile(0.5), sketch.quantile(0.75),
                     sketch.quantile(0.8), sketch.quantile(0.9))


@dataclass
class _Stage:
    entered: int = 0
    moved_on: int = 0
    went_back: int = 0
    lost: int = 0
    still_there: int = 0
    breached: int = 0
    timed: int = 0  # visits the SLA judged (completed or ongoing)
    wall: QuantileSketch = field(default_factory=QuantileSketch)
    working: QuantileSketch = field(default_factory=QuantileSketch)
    age: QuantileSketch = field(default_factory=QuantileSketch)


@dataclass
class _Group:
    deals: int = 0
    won: int = 0
    lost: int = 0
    open: int = 0
    cycle_won: QuantileSketch = field(default_factory=QuantileSketch)
    cycle_closed: QuantileSketch = field(default_factory=QuantileSketch)

    def count(self, deal: Deal, outcome: str, cycle: float | None) -> None:
        self.deals += 1
        if outcome == "won":
            self.won += 1
        elif outcome == "lost":
            self.lost += 1
        else:
            self.open += 1
        if cycle is not None:
            self.cycle_closed.add(cycle)
            if outcome == "won":
                self.cycle_won.add(cycle)

    def stats(self, key: str) -> GroupStats:
        closed = self.won + self.lost
        return GroupStats(key, self.deals, self.won, self.lost, self.open,
                          self.won / closed if closed else None, quantiles(self.cycle_won),
                          quantiles(self.cycle_closed))


@dataclass(frozen=True)
class _Timing:
    """How one stage is measured: the calendar for working dwell, and its SLA (if any) with
    the budget in seconds and whether that budget is working time."""

    calendar: BusinessCalendar | None
    sla: SlaDef | None = None
    budget: float | None = None
    working_budget: bool = False


class Analysis:
    """The accumulators of one analysis; feed deals with :meth:`add`, then :meth:`report`."""

    def __init__(self, ruleset: Ruleset | CompiledRuleset, now: datetime | None = None,
                 versions: Versions | None = None, by: str | None = None,
                 split: datetime | None = None) -> None:
        self.now = (now or datetime.now(UTC)).astimezone(UTC)
        if versions is not None:  # the report is of the version in force at ``now``
            ruleset = versions.at(self.now)
        self.compiled = ruleset if isinstance(ruleset, CompiledRuleset) \
            else compile_ruleset(ruleset)
        graph = self.compiled.graph
        self.stages = {s: _Stage() for s in graph.order}
        self.by_start: dict[str, _Group] = {}
        self.by_owner: dict[str, _Group] = {}
        self.by = by  # a deal field (or owner, source, manager) to group deals by
        self.by_field: dict[str, _Group] = {}
        self.by_month: dict[str, _Group] = {}  # month of the cycle's first dated entry
        self.fields_seen: set[str] = set()  # for a --by no deal has: what there is
        self.cycles = QuantileSketch()  # closed deals' whole cycles
        self.splitter = Splitter(split) if split is not None else None
        self.undated_deals = 0  # deals with no dated stage: in no month
        self.deals = 0
        self.bad_records = 0
        self.latest: datetime | None = None  # the latest time in the data
        rs = self.compiled.ruleset
        default = self.compiled.calendar(rs.calendar_name(None))
        self.default_calendar = default
        self.timing = {stage: self._timing(stage) for stage in graph.order}
        #: With versions: each stage visit is timed by the version in force when it began.
        self.versions = versions
        self.timings = tuple({stage: self._timing(stage, each) for stage in graph.order}
                             for each in versions.entries) if versions is not None else ()

    def _timing(self, stage: str, compiled: CompiledRuleset | None = None) -> _Timing:
        compiled = compiled or self.compiled
        rs = compiled.ruleset
        default = compiled.calendar(rs.calendar_name(None))
        sla = next((s for s in rs.slas if s.stage is not None and s.stage.name == stage), None)
        if sla is None:
            return _Timing(default)
        limit = compiled.duration(sla.limit)
        if not limit.is_business:
            return _Timing(default, sla, float(limit.amount))
        calendar = compiled.calendar(rs.calendar_name(sla.calendar))
        budget = counted_seconds(limit, calendar) if calendar is not None \
            else float(limit.amount)
        return _Timing(calendar, sla, budget, working_budget=True)

    def add(self, item: Item) -> None:
        """Count one deal (a Deal, its JSON-shaped record, a reader record or a raw line)."""
        deal = intake(item, self.compiled)
        if isinstance(deal, Rejection):
            self.bad_records += 1
        else:
            self._count(deal)

    def _count(self, deal: Deal) -> None:
        graph = self.compiled.graph
        history = deal.history
        self.deals += 1
        if history and (self.latest is None or history[-1].at > self.latest):
            self.latest = history[-1].at
        undated = deal.undated_start
        if undated is not None and undated in self.stages and (
                not history or history[0].stage != undated):
            self._count_undated(undated, history[0].stage if history else None)
        side = (self.splitter.side(history[0].at)
                if self.splitter is not None and history else None)
        for i, entry in enumerate(history):
            stage = entry.stage
            acc = self.stages[stage]
            acc.entered += 1
            if stage in graph.terminal:
                continue
            timing = self.timing[stage] if self.versions is None \
                else self.timings[self.versions.index_at(entry.at)][stage]
            if i + 1 < len(history):
                following = history[i + 1]
                wall = self._wall(deal, entry.at, following.at)
                acc.wall.add(wall)
                working = None
                if timing.calendar is not None:
                    working = working_time(timing.calendar, entry.at,
                                           following.at).total_seconds()
                    acc.working.add(working)
                target = following.stage
                if target in graph.lost:
                    acc.lost += 1
                elif target in graph.won or graph.index[target] > graph.index[stage]:
                    acc.moved_on += 1
                else:
                    acc.went_back += 1
                _visit(side, stage, wall, self._judge(acc, timing, wall, working))
            else:
                acc.still_there += 1
                age = self._wall(deal, entry.at, self.now)
                acc.age.add(age)
                working = (working_time(timing.calendar, entry.at, self.now).total_seconds()
                           if timing.calendar is not None and timing.working_budget else None)
                _visit(side, stage, None, self._judge(acc, timing, age, working))
        outcome = ("won" if deal.stage in graph.won else
                   "lost" if deal.stage in graph.lost else "open")
        cycle = (self._wall(deal, history[0].at, history[-1].at)
                 if outcome != "open" and history else None)
        start = self.compiled.start_for(deal)
        self.by_start.setdefault(start.id if start else NO_START, _Group()).count(
            deal, outcome, cycle)
        self.by_owner.setdefault(deal.owner or NO_OWNER, _Group()).count(deal, outcome, cycle)
        self._group(deal, outcome, cycle)
        if side is not None:
            side.deals += 1
            if outcome != "open":
                side.outcomes.append(outcome == "won")
                side.cycles.extend([] if cycle is None else [cycle])

    def _group(self, deal: Deal, outcome: str, cycle: float | None) -> None:
        """Count a deal in the trend (by month of start) and by the ``--by`` field."""
        if cycle is not None:
            self.cycles.add(cycle)
        if deal.history:
            month = deal.history[0].at.astimezone(self.compiled.zone).strftime("%Y-%m")
            self.by_month.setdefault(month, _Group()).count(deal, outcome, cycle)
        else:
            self.undated_deals += 1
        if self.by is not None:
            value = field_value(deal, self.by)
            key = NO_VALUE if is_missing(value) else str(value)
            self.by_field.setdefault(key, _Group()).count(deal, outcome, cycle)
            if len(self.fields_seen) < FIELDS_LISTED:
                self.fields_seen.update(deal.fields)

    def stale_note(self) -> tuple[str, ...]:
        """A warning when ``now`` is far after the latest time in the data: the ages of open
        deals then count time the export knows nothing of (an old export read today)."""
        if self.latest is None:
            return ()
        gap = (self.now - self.latest).total_seconds()
        if gap < STALE_AFTER:
            return ()
        latest = self.latest.astimezone(self.compiled.zone).strftime("%Y-%m-%d %H:%M")
        return (f"now is {int(gap // 86400):,} days after the latest time in the data "
                f"({latest}): ages of the open deals count up to now; for an old export give "
                "--now near the day it was taken",)

    def _wall(self, deal: Deal, start: datetime, end: datetime) -> float:
        """Wall-clock seconds from ``start`` to ``end``: civil time for a deal dated in whole
        days (60 days between two dates is 60 days, whatever DST does)."""
        if deal.whole_days:
            return civil_seconds(start, end, self.compiled.zone)
        return (end - start).total_seconds()

    def _count_undated(self, stage: str, following: str | None) -> None:
        """A visit to a first stage the source gives no date for: entered, then left for
        ``following`` or still there; its dwell and age are unknown, so not measured."""
        graph = self.compiled.graph
        acc = self.stages[stage]
        acc.entered += 1
        if following is None:
            acc.still_there += 1
        elif following in graph.lost:
            acc.lost += 1
        elif following in graph.won or graph.index.get(following, -1) > graph.index[stage]:
            acc.moved_on += 1
        else:
            acc.went_back += 1

    @staticmethod
    def _judge(acc: _Stage, timing: _Timing, wall: float, working: float | None) -> bool | None:
        """Count a visit against the stage's SLA; whether it went over (None: no SLA)."""
        if timing.budget is None:
            return None
        acc.timed += 1
        spent = working if timing.working_budget and working is not None else wall
        if spent > timing.budget:
            acc.breached += 1
            return True
        return False

    def report(self) -> Report:
        """The report of everything counted so far."""
        rs = self.compiled.ruleset
        titles = {s.id: s.title for s in rs.stages}
        stages = tuple(self._stage_stats(s, titles.get(s, s)) for s in self.compiled.graph.order)
        groups = sorted(self.by_owner.items(), key=lambda kv: (-kv[1].deals, kv[0]))
        cycle_limit, cycle_seconds, _ = _suggest(_Stage(wall=self.cycles), None)
        return Report(
            ruleset=rs.id, title=rs.title or rs.id,
            now=self.now.astimezone(self.compiled.zone).isoformat(timespec="seconds"),
            calendar=self.default_calendar.name if self.default_calendar else None,
            deals=self.deals, bad_records=self.bad_records, stages=stages,
            stalls=_stalls(stages, self.compiled),
            by_start=tuple(g.stats(k) for k, g in self.by_start.items()),
            by_owner=tuple(g.stats(k) for k, g in groups),
            by=self.by,
            by_field=tuple(g.stats(k) for k, g in sorted(
                self.by_field.items(), key=lambda kv: (-kv[1].deals, kv[0]))),
            by_month=tuple(g.stats(k) for k, g in sorted(self.by_month.items())),
            cycle_limit=cycle_limit,
            cycle_limit_seconds=cycle_seconds,
            split=None if self.splitter is None else self.splitter.result(
                list(self.compiled.graph.order),
                self.splitter.at.astimezone(self.compiled.zone).isoformat(timespec="minutes")),
            notes=(
                "dwell: completed visits (entering a stage to leaving it); the deals still in a "
                "stage are counted as ages",
                "quantiles within 0.5 % (a logarithmic sketch, constant memory)",
                "forward / back: by the order stages are declared in the ruleset",
                *self.stale_note(),
                *((f"by month of start: {self.undated_deals:,} deal"
                   f"{'' if self.undated_deals == 1 else 's'} with no dated stage "
                   "are in no month",) if self.undated_deals else ()),
            ),
        )

    def _stage_stats(self, stage: str, title: str) -> StageStats:
        acc = self.stages[stage]
        timing = self.timing.get(stage)
        calendar = timing.calendar if timing else None
        # Suggest in the SLA's own terms: a wall-clock SLA gets a wall-clock suggestion.
        wall_sla = timing is not None and timing.sla is not None and not timing.working_budget
        suggested, seconds, basis = _suggest(acc, None if wall_sla else calendar)
        sla = timing.sla if timing else None
        return StageStats(
            stage=stage, title=title, entered=acc.entered, moved_on=acc.moved_on,
            went_back=acc.went_back, lost=acc.lost, still_there=acc.still_there,
            dwell_wall=quantiles(acc.wall),
            dwell_working=quantiles(acc.working) if calendar is not None else None,
            age_wall=quantiles(acc.age),
            sla_id=sla.id if sla else None, sla_limit=sla.limit if sla else None,
            breached=acc.breached,
            breach_share=acc.breached / acc.timed if acc.timed else None,
            suggested_limit=suggested, suggested_seconds=seconds, suggested_basis=basis,
            working_day_seconds=(float(calendar.working_seconds_per_day)
                                 if calendar is not None else None),
        )


def _visit(side: SideValues | None, stage: str, dwell: float | None, over: bool | None) -> None:
    """One visit on its side of a split: its dwell (None: still there) and whether it went
    over the SLA (None: no SLA)."""
    if side is None:
        return
    if dwell is not None:
        side.dwell.setdefault(stage, []).append(dwell)
    if over is not None:
        side.timed.setdefault(stage, []).append(over)


def _suggest(acc: _Stage, calendar: BusinessCalendar | None) -> tuple[str | None, float | None,
                                                                      str | None]:
    """The p80 completed dwell, rounded up to a duration people write."""
    if calendar is not None and acc.working.count:
        p80 = acc.working.quantile(0.8) or 0.0
        day = calendar.working_seconds_per_day
        if p80 >= day:
            days = math.ceil(p80 / day)
            return (f"{days} business day{'s' if days != 1 else ''}",
                    business_days_seconds(days, calendar), "working")
        hours = max(1, math.ceil(p80 / 3600))
        return f"{hours} business hour{'s' if hours != 1 else ''}", hours * 3600.0, "working"
    if acc.wall.count:
        p80 = acc.wall.quantile(0.8) or 0.0
        step = 900 if p80 < 3600 else 3600 if p80 < 86400 else 86400
        rounded = max(step, math.ceil(p80 / step) * step)
        return format_seconds(rounded), float(rounded), "wall"
    return None, None, None


def _stalls(stages: tuple[StageStats, ...], compiled: CompiledRuleset) -> tuple[Stall, ...]:
    """Open stages ranked by how much they hold deals up, with the figures behind each place.

    score = dwell ratio + loss share + breach share, where the dwell ratio is the p75 dwell of
    completed visits over the stage's SLA (measured as the SLA measures), or over the median of
    all stages' p75 dwell when the stage has no SLA; the loss share is the share of the deals
    leaving the stage that were lost there; the breach share the share of visits (completed or
    still running) that went over the SLA.
    """
    graph = compiled.graph
    measured = [s for s in stages if graph.is_open(s.stage) and s.dwell_wall.count]
    p75s = sorted(s.dwell_wall.p75 or 0.0 for s in measured)
    typical = p75s[len(p75s) // 2] if p75s else 0.0
    scored = []
    for stage in measured:
        reasons = []
        limit = compiled.duration(stage.sla_limit) if stage.sla_limit else None
        budget = _budget(stage, compiled)
        if limit is not None and budget:
            basis = stage.dwell_working if limit.is_business else stage.dwell_wall
            p75 = (basis.p75 if basis else None) or 0.0
            ratio = p75 / budget
            kind = "working time" if limit.is_business else "wall-clock"
            shown = stage.working(p75) if limit.is_business else format_seconds(p75)
            reasons.append(f"p75 dwell {shown} ({kind}) is {ratio:.0%} of the "
                           f"{stage.sla_limit} SLA")
        else:
            p75 = stage.dwell_wall.p75 or 0.0
            ratio = p75 / typical if typical else 0.0
            reasons.append(f"p75 dwell {format_seconds(p75)}, {ratio:.1f}x the typical stage "
                           f"(no SLA on this stage)")
        loss = stage.loss_share
        reasons.append(f"{loss:.0%} of the deals that left it were lost there")
        breach = stage.breach_share or 0.0
        if stage.breach_share is not None:
            reasons.append(f"{breach:.0%} of visits (done or running) went over the SLA")
        if stage.still_there and stage.age_wall.median is not None:
            reasons.append(f"{stage.still_there} deal{'' if stage.still_there == 1 else 's'} "
                           "still there, median age "
                           f"{format_seconds(stage.age_wall.median)}")
        scored.append((ratio + loss + breach, stage.stage, tuple(reasons)))
    scored.sort(key=lambda x: (-x[0], x[1]))
    return tuple(Stall(stage, rank, round(score, 3), reasons)
                 for rank, (score, stage, reasons) in enumerate(scored, start=1))


def _budget(stage: StageStats, compiled: CompiledRuleset) -> float | None:
    """The stage SLA's limit in seconds (working seconds for business limits)."""
    if stage.sla_limit is None:
        return None
    limit = compiled.duration(stage.sla_limit)
    if limit.kind is DurationKind.BUSINESS_DAYS:
        sla = next(s for s in compiled.ruleset.slas if s.id == stage.sla_id)
        calendar = compiled.calendar(compiled.ruleset.calendar_name(sla.calendar))
        return counted_seconds(limit, calendar) if calendar else None
    return float(limit.amount)


def analyze(ruleset: Ruleset | CompiledRuleset, deals: Iterable[Item],
            now: datetime | None = None, versions: Versions | None = None,
            by: str | None = None, split: datetime | None = None) -> Report:
    """Analyse deal histories against a ruleset (one streaming pass); a ruleset kept in
    ``versions`` times each stage visit by the version in force when it began; ``by`` groups
    the deals by one of their fields too, ``split`` compares the cycles started before it with
    the others."""
    analysis = Analysis(ruleset, now, versions, by, split)
    for deal in deals:
        analysis.add(deal)
    return analysis.report()
