"""Reminders: an action due a set time before an event, e.g. "remind the client of the meeting
two hours before it".

For each future event of a reminder's type, a ``remind`` action is due at ``event - before``.
A run at ``now`` emits it when it is due before the next scheduled run (``schedule.evaluate``),
so no reminder is ever sent late by waiting for the next run; without a schedule, when it is due
within ``now + horizon``. A reminder is never emitted once its event has started. Repeated runs
emit the same reminder with the same key until the event: the CRM delivers each key once.

A business lead time counts working time on the reminder's calendar (``N business days`` = N
working days' worth of working hours): the action is due at the latest instant from which that
much working time remains until the event.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from pipeline_rules.deals.model import Deal, Event
from pipeline_rules.evaluate.context import Run
from pipeline_rules.evaluate.findings import Finding
from pipeline_rules.evaluate.plans import ReminderPlan
from pipeline_rules.evaluate.routing import addressed, role_name, unrouted, unrouted_detail
from pipeline_rules.evaluate.wake import TICK, Wake, earliest
from pipeline_rules.time.working import shift


def check_reminders(deal: Deal, run: Run) -> Iterator[Finding]:
    """Reminder actions due before the next run, for events that have not started."""
    if not deal.events:
        return
    for plan, event, due in upcoming(deal, run):
        if not emitted(run, due):
            continue
        reminder = plan.reminder
        person, why = addressed(run, deal, reminder.notify)
        yield run.action(
            "remind", reminder.id, deal.id, deal.stage, due, "finding.remind",
            {"notify": role_name(reminder.notify, run.lang), "event": event.type,
             "event_at": run.time(event.at), "before": run.spoken(reminder.before)},
            reminder.notify, reminder.channel,
            recipient=person, event=event.type,
            event_at=run.iso(event.at), **unrouted_detail(why))
        if why is not None:
            yield unrouted(run, deal, reminder.notify, "remind", reminder.id, due, why)


def upcoming(deal: Deal, run: Run) -> Iterator[tuple[ReminderPlan, Event, datetime]]:
    """Each reminder the deal's stage has for an event that has not started, with its due
    instant (``before`` the event, on the reminder's calendar)."""
    for plan in run.plans.reminders.get(deal.stage or "", ()):
        for event in deal.events:
            if event.type != plan.reminder.event or event.at <= run.now:
                continue
            yield plan, event, shift(plan.calendar, event.at, plan.before, back=True)


def emitted(run: Run, due: datetime) -> bool:
    """Whether a reminder due at ``due`` is emitted by this run: due before the next scheduled
    run, or (without a schedule) within ``horizon`` of ``now``."""
    if run.next_run is not None:
        return due < run.next_run
    return due <= run.now + run.horizon


def next_change(deal: Deal, run: Run) -> Wake | None:
    """When this deal's reminders next change by time alone: a reminder comes within the run's
    reach (the last scheduled run before it is due, or ``horizon`` before it), or its event
    starts and it is no longer emitted (both exact)."""
    if not deal.events:
        return None
    candidates = []
    for _, event, due in upcoming(deal, run):
        if emitted(run, due):
            candidates.append(Wake(event.at))
            continue
        # Emitted from the last scheduled run at or before its due time on (without a
        # schedule, from ``horizon`` before it).
        reach = run.last_run_before(due + TICK) or due - run.horizon
        # Only the first instant the event has not started counts.
        if reach < event.at:
            candidates.append(Wake(max(reach, run.now + TICK)))
    return earliest(candidates)
