"""Plans: what the checks need to know about a ruleset, worked out once per run, not per deal.

An evaluation run judges millions of deals against a handful of rules; everything about a rule
that does not depend on the deal — parsed durations, the calendar it counts on, which rules apply
in which stage, the actions a breach triggers — is looked up here once.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline_rules.ruleset.compiled import CompiledRuleset
from pipeline_rules.ruleset.model import (
    CYCLE_END,
    CYCLE_START,
    ActionDef,
    EntryAction,
    GapLimit,
    ReminderDef,
    SlaDef,
    TaskPolicy,
)
from pipeline_rules.time.calendars import BusinessCalendar
from pipeline_rules.time.durations import Duration
from pipeline_rules.time.working import counted_seconds


@dataclass(frozen=True)
class SlaPlan:
    """One SLA with all that does not depend on the deal worked out once per run."""

    sla: SlaDef
    limit: Duration
    calendar: BusinessCalendar | None
    #: Seconds counted from the start to the deadline.
    budget: float
    #: The share of the budget at which the first warning is due (1.0 without warnings).
    first_share: float
    #: Wall-clock seconds before which nothing can be reported (the first warning's share of
    #: the budget: working or unpaused time never runs faster than the wall clock).
    quiet: float
    cycle: bool
    template: str | None
    actions: tuple[ActionDef, ...]
    #: Warning levels that tell someone: (percent of the limit, its label, roles, channel).
    warn_routes: tuple[tuple[float, str, tuple[str, ...], str | None], ...] = ()
    #: Escalation levels: (delay after the breach or None, its label, roles, channel).
    breach_routes: tuple[tuple[Duration | None, str, tuple[str, ...], str | None], ...] = ()
    #: The calendar escalation delays count on.
    breach_calendar: BusinessCalendar | None = None


def plan_slas(compiled: CompiledRuleset) -> dict[str, tuple[SlaPlan, ...]]:
    """The SLAs that apply in each stage — its own and every span — in declared order."""
    rs = compiled.ruleset
    defined = {a.name: a for a in rs.actions}
    plans = []
    for sla in rs.slas:
        limit = compiled.duration(sla.limit)
        calendar = compiled.calendar(rs.calendar_name(sla.calendar)) \
            if limit.is_business else None
        # Without its calendar a business limit cannot be timed: each deal's timer says so.
        budget = counted_seconds(limit, calendar) if calendar is not None \
            else float(limit.amount)
        first_share = (min(sla.warn) if sla.warn else 100) / 100
        cycle = sla.span_from is not None and sla.span_from.name == CYCLE_START \
            and sla.span_to is not None and sla.span_to.name == CYCLE_END
        template = None if cycle or sla.stage is not None else "finding.sla-breach-span"
        # An action the ruleset does not define: lint reports it; a ruleset in use may still
        # carry it, and it triggers nothing.
        actions = tuple(defined[r.name] for r in sla.on_breach if r.name in defined)
        directory = compiled.directory
        warn_routes = tuple(
            (level.at, f"{level.at:g}%", roles, level.channel)
            for level in sla.warn_levels if level.at is not None
            for roles in [tuple(r.name for r in level.roles) or directory.route("sla-warning")]
            if roles)
        breach_routes = tuple(
            (compiled.duration(level.after) if level.after else None,
             f"+{level.after}" if level.after else "0", tuple(r.name for r in level.roles),
             level.channel)
            for level in sla.breach_levels)
        if not breach_routes and not actions:
            code = "cycle-breach" if cycle else "sla-breach"
            default = directory.route(code)
            if default:
                breach_routes = ((None, "0", default, None),)
        breach_calendar = compiled.calendar(rs.calendar_name(sla.calendar))
        plans.append(SlaPlan(sla, limit, calendar, budget, first_share, budget * first_share,
                             cycle, template, actions, warn_routes, breach_routes,
                             breach_calendar))
    return {stage: tuple(p for p in plans
                         if p.sla.stage is None or p.sla.stage.name == stage)
            for stage in compiled.graph.order}


@dataclass(frozen=True)
class TaskPlan:
    """The task policy with its calendar, grace and the gap allowed in each stage resolved."""

    policy: TaskPolicy
    calendar: BusinessCalendar | None
    #: Per stage, the gap limit that applies there (its own, else ``default``; absent: none).
    gaps: dict[str, GapLimit]
    grace: Duration | None


def plan_tasks(compiled: CompiledRuleset) -> TaskPlan | None:
    """The task plan (None when the ruleset has no task policy)."""
    rs = compiled.ruleset
    policy = rs.tasks
    if policy is None:
        return None
    declared = {g.stage: g for g in policy.max_gap}
    gaps = {}
    for stage in compiled.graph.order:
        gap = declared.get(stage) or declared.get("default")
        if gap is not None:
            gaps[stage] = gap
    grace = compiled.duration(policy.overdue_grace) if policy.overdue_grace else None
    return TaskPlan(policy, compiled.calendar(rs.calendar_name(policy.calendar)), gaps, grace)


@dataclass(frozen=True)
class ReminderPlan:
    """One reminder with its lead time parsed and the calendar that lead time counts on."""

    reminder: ReminderDef
    before: Duration
    calendar: BusinessCalendar | None


def plan_reminders(compiled: CompiledRuleset) -> dict[str, tuple[ReminderPlan, ...]]:
    """The reminders that apply in each stage, in declared order."""
    rs = compiled.ruleset
    plans = []
    for reminder in rs.reminders:
        before = compiled.duration(reminder.before)
        calendar = compiled.calendar(rs.calendar_name(reminder.calendar)) \
            if before.is_business else None
        plans.append(ReminderPlan(reminder, before, calendar))
    return {stage: tuple(p for p in plans if not p.reminder.stages
                         or stage in {r.name for r in p.reminder.stages})
            for stage in compiled.graph.order}


@dataclass(frozen=True)
class EntryPlan:
    """One stage-entry or end action with its rule name, task delay, calendar and team."""

    action: EntryAction
    rule: str
    due: Duration | None
    calendar: BusinessCalendar | None
    members: tuple[str, ...]


def plan_entries(compiled: CompiledRuleset) -> dict[str, tuple[EntryPlan, ...]]:
    """The entry actions of each stage: its own ``on_enter``, then ``on_won``/``on_lost``."""
    rs = compiled.ruleset
    calendar = compiled.calendar(rs.calendar_name(None))
    teams = compiled.directory.teams

    def plan(action: EntryAction, rule: str) -> EntryPlan:
        due = compiled.duration(action.due) if action.due is not None else None
        members = teams.get(action.team.name, ()) if action.team is not None else ()
        return EntryPlan(action, rule, due, calendar, members)

    own: dict[str, list[EntryPlan]] = {}
    for declared in rs.stages:
        own.setdefault(declared.id, []).extend(
            plan(a, f"on_enter.{declared.id}.{i}") for i, a in enumerate(declared.on_enter))
    won = [plan(a, f"end.on_won.{i}") for i, a in enumerate(rs.on_won)]
    lost = [plan(a, f"end.on_lost.{i}") for i, a in enumerate(rs.on_lost)]
    graph = compiled.graph
    result = {}
    for stage in graph.order:
        plans = own.get(stage, []) + (won if stage in graph.won else []) \
            + (lost if stage in graph.lost else [])
        if plans:
            result[stage] = tuple(plans)
    return result


def plan_pauses(compiled: CompiledRuleset) -> tuple[Duration, BusinessCalendar | None, str] | None:
    """The pause limit, its calendar and its text (None without ``pauses.max``)."""
    policy = compiled.ruleset.pauses
    if policy is None or policy.max is None:
        return None
    limit = compiled.duration(policy.max)
    calendar = compiled.calendar(compiled.ruleset.calendar_name(policy.calendar)) \
        if limit.is_business else None
    return limit, calendar, policy.max


@dataclass(frozen=True)
class Plans:
    """Every check's plan for one ruleset."""

    slas: dict[str, tuple[SlaPlan, ...]]
    tasks: TaskPlan | None
    reminders: dict[str, tuple[ReminderPlan, ...]]
    entries: dict[str, tuple[EntryPlan, ...]]
    pauses: tuple[Duration, BusinessCalendar | None, str] | None


def make_plans(compiled: CompiledRuleset) -> Plans:
    """Work out every check's plan for a compiled ruleset."""
    return Plans(plan_slas(compiled), plan_tasks(compiled), plan_reminders(compiled),
                 plan_entries(compiled), plan_pauses(compiled))
