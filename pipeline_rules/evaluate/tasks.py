"""Task control: every open deal has a next task, not too far away, none overdue.

* ``no-next-task`` — ``tasks.require_next`` is on and the deal has no open task;
* ``next-task-too-far`` — the earliest open task is due later than ``now`` plus the stage's
  ``max_gap`` (or ``default``), counted on the tasks calendar; one finding per deal;
* ``task-overdue`` — an open task still open after its due time plus ``overdue_grace``; one
  finding per task, dated when the grace ran out.

* ``task-without-due`` — ``tasks.require_due`` is on and an open task has no due time: an
  open step nobody has dated is the "postponed" limbo again; one finding per task, dated at
  the evaluation time.

Tasks without a due time count as open tasks (a next task exists) but are never too far or
overdue.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from pipeline_rules.deals.model import Deal, Task
from pipeline_rules.evaluate.context import Run
from pipeline_rules.evaluate.findings import Finding
from pipeline_rules.evaluate.plans import TaskPlan
from pipeline_rules.evaluate.wake import TICK, Wake, bisect, earliest
from pipeline_rules.time.calendars import BusinessCalendar
from pipeline_rules.time.durations import Duration, DurationKind
from pipeline_rules.time.working import next_working_instant, shift


def check_tasks(deal: Deal, run: Run) -> Iterator[Finding]:
    """Task findings for an open deal."""
    plan = run.plans.tasks
    if plan is None:
        return
    open_tasks = [t for t in deal.tasks if not t.done]
    if not open_tasks:
        if plan.policy.require_next:
            yield run.violation("no-next-task", "tasks.require_next", deal.id, deal.stage,
                                run.now, {"stage": deal.stage})
        return
    dated = [t for t in open_tasks if t.due is not None]
    if plan.policy.require_due and len(dated) < len(open_tasks):
        for task in open_tasks:
            if task.due is None:
                yield run.violation("task-without-due", "tasks.require_due", deal.id, deal.stage,
                                    run.now, {"task": task.id}, task=task.id)
    if len(dated) > 1:
        dated.sort(key=_due)
    gap = plan.gaps.get(deal.stage or "")
    if gap is not None and dated:
        first = dated[0]
        assert first.due is not None
        latest = run.from_now(gap.duration, plan.calendar)
        if first.due > latest:
            yield run.violation(
                "next-task-too-far", f"tasks.max_gap.{gap.stage}", deal.id, deal.stage,
                run.now, {"task": first.id, "due": run.time(first.due),
                          "gap": run.spoken(gap.duration),
                          "stage": deal.stage},
                task=first.id, due=run.iso(first.due), latest=run.iso(latest))
    grace = plan.grace
    for task in dated:
        assert task.due is not None
        if task.due >= run.now:
            break
        late_from = shift(plan.calendar, task.due, grace) if grace is not None else task.due
        if run.now > late_from:
            yield run.violation("task-overdue", "tasks.overdue_grace", deal.id, deal.stage,
                                late_from, {"task": task.id, "due": run.time(task.due)},
                                task=task.id, due=run.iso(task.due))


def next_change(deal: Deal, run: Run) -> Wake | None:
    """When this deal's task findings next change by time alone: the next task too far comes
    within the gap, or an open task's grace runs out (both exact)."""
    plan = run.plans.tasks
    if plan is None:
        return None
    dated = sorted((t for t in deal.tasks if not t.done and t.due is not None), key=_due)
    if not dated:
        return None
    return earliest((_within_gap(deal, run, plan, _due(dated[0])),
                     _grace_out(run, plan, dated)))


def _within_gap(deal: Deal, run: Run, plan: TaskPlan, due: datetime) -> Wake | None:
    """The first instant at which ``due`` is no later than that instant plus the gap."""
    gap = plan.gaps.get(deal.stage or "")
    if gap is None or due <= run.from_now(gap.duration, plan.calendar):
        return None  # not too far now, and the allowed due time only moves later
    duration = run.compiled.duration(gap.duration)
    if duration.kind is DurationKind.WALL or plan.calendar is None:
        return Wake(due - timedelta(seconds=duration.amount))
    return Wake(_first_reaching(plan.calendar, duration, run.now, due))


def _first_reaching(calendar: BusinessCalendar, gap: Duration, low: datetime,
                    due: datetime) -> datetime:
    """The first instant t in (low, due] with ``shift(t, gap) >= due`` (shift grows with t;
    at ``low`` it falls short, at ``due`` it does not): bisection to the microsecond, since
    a business gap has no closed inverse on every calendar."""
    # Most often the answer is the same working-clock time the gap's worth of working time
    # before: two look-ups confirm it, and the bisection is left for the rest (a due time
    # outside working hours, a clock change in between).
    # Whole business days end on a working instant, so only the first one from ``due`` on
    # matters.
    target = next_working_instant(calendar, due) if gap.kind is DurationKind.BUSINESS_DAYS \
        else due
    guess = shift(calendar, target, gap, back=True)
    # ... or, when that is the start of a working period, the end of the period before it:
    # every instant in between counts from the same start.
    before = shift(calendar, guess, TICK.total_seconds(), back=True) + TICK
    for candidate in (guess, before):
        if low < candidate - TICK and shift(calendar, candidate, gap) >= due \
                and shift(calendar, candidate - TICK, gap) < due:
            return candidate
    return bisect(lambda t: shift(calendar, t, gap) >= due, low, due)


def _grace_out(run: Run, plan: TaskPlan, dated: list[Task]) -> Wake | None:
    """Just after the grace of the first open task not yet overdue runs out."""
    for task in dated:
        due = _due(task)
        late_from = shift(plan.calendar, due, plan.grace) if plan.grace is not None else due
        if not run.now > late_from:
            return Wake(late_from + TICK)
    return None


def _due(task: Task) -> datetime:
    assert task.due is not None
    return task.due
