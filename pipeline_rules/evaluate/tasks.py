"""Task control: every open deal has a next task, not too far away, none overdue.

* ``no-next-task`` — ``tasks.require_next`` is on and the deal has no open task;
* ``next-task-too-far`` — the earliest open task is due later than ``now`` plus the stage's
  ``max_gap`` (or ``default``), counted on the tasks calendar; one finding per deal;
* ``task-overdue`` — an open task still open after its due time plus ``overdue_grace``; one
  finding per task, dated when the grace ran out.

* ``task-without-due`` — ``tasks.require_due`` is on (the default; ``false`` opts out) and an
  open task has no due time: an open step nobody has dated is the "postponed" limbo again; one
  finding per task, dated at the evaluation time.

Tasks without a due time count as open tasks (a next task exists) but are never too far or
overdue.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from pipeline_rules.deals.model import Deal, Task
from pipeline_rules.evaluate.context import Run
from pipeline_rules.evaluate.findings import Finding
from pipeline_rules.time.working import shift


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


def _due(task: Task) -> datetime:
    assert task.due is not None
    return task.due
