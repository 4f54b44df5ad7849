"""Reminders (seed S4): "remind the client of the meeting two hours before it".

For each future event of a reminder's type, a ``remind`` action is due at ``event - before``.
A run at ``now`` emits it when it is due before the next scheduled run (``schedule.evaluate``),
so no reminder is ever sent late by waiting for the next run; without a schedule, when it is due
within ``now + horizon``. A reminder is never emitted once its event has started. Repeated runs
emit the same reminder with the same key until the event: the CRM delivers each key once.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from pipeline_rules.deals.model import Deal
from pipeline_rules.evaluate.context import Run
from pipeline_rules.evaluate.findings import Finding
from pipeline_rules.evaluate.sla import recipient
from pipeline_rules.time.calendars import BusinessCalendar
from pipeline_rules.time.durations import Duration, DurationKind
from pipeline_rules.time.working import counted_seconds, working_time


def lead_time_start(event: datetime, before: Duration,
                    calendar: BusinessCalendar | None) -> datetime:
    """The latest instant from which ``before`` remains until ``event``.

    Wall-clock lead times are subtracted. Business lead times count working time on the
    calendar (``N business days`` = N working days' worth of working hours): the working time
    left until the event only grows as the start moves earlier, so the start is bisected to the
    second — no loop over days.
    """
    if before.kind is DurationKind.WALL or calendar is None:
        return event.astimezone(UTC) - timedelta(seconds=before.amount)
    target = timedelta(seconds=counted_seconds(before, calendar))
    step = timedelta(days=7)
    lo, hi = event - step, event
    while working_time(calendar, lo, event) < target:
        if step > timedelta(days=3660):
            raise ValueError(f"no {before.text} of working time before {event}")
        step *= 2
        lo = event - step
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if working_time(calendar, mid, event) >= target:
            lo = mid
        else:
            hi = mid
    return lo.replace(microsecond=0)


def check_reminders(deal: Deal, run: Run) -> Iterator[Finding]:
    """Reminder actions due before the next run, for events that have not started."""
    if not deal.events:
        return
    cutoff = run.next_run if run.next_run is not None else run.now + run.horizon
    for plan in run.plans.reminders.get(deal.stage or "", ()):
        reminder = plan.reminder
        for event in deal.events:
            if event.type != reminder.event or event.at <= run.now:
                continue
            due = lead_time_start(event.at, plan.before, plan.calendar)
            on_time = due < cutoff if run.next_run is not None else due <= cutoff
            if not on_time:
                continue
            yield run.action(
                "remind", reminder.id, deal.id, deal.stage, due, "finding.remind",
                {"notify": reminder.notify, "event": event.type,
                 "event_at": run.time(event.at), "before": reminder.before},
                reminder.notify, reminder.channel,
                recipient=recipient(deal, reminder.notify), event=event.type,
                event_at=run.iso(event.at))
