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

from pipeline_rules.deals.model import Deal
from pipeline_rules.evaluate.context import Run
from pipeline_rules.evaluate.findings import Finding
from pipeline_rules.evaluate.routing import addressed, role_name, unrouted, unrouted_detail
from pipeline_rules.evaluate.wake import TICK, Wake, earliest
from pipeline_rules.time.working import shift


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
            due = shift(plan.calendar, event.at, plan.before, back=True)
            on_time = due < cutoff if run.next_run is not None else due <= cutoff
            if not on_time:
                continue
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


def next_change(deal: Deal, run: Run) -> Wake | None:
    """When this deal's reminders next change by time alone: a reminder comes within the run's
    reach (the last scheduled run before it is due, or ``horizon`` before it), or its event
    starts and it is no longer emitted (both exact)."""
    if not deal.events:
        return None
    candidates = []
    for plan in run.plans.reminders.get(deal.stage or "", ()):
        for event in deal.events:
            if event.type != plan.reminder.event or event.at <= run.now:
                continue
            due = shift(plan.calendar, event.at, plan.before, back=True)
            if run.next_run is not None:
                emitted = due < run.next_run
            else:
                emitted = due <= run.now + run.horizon
            if emitted:
                candidates.append(Wake(event.at))
                continue
            # Emitted from the last scheduled run at or before its due time on (without a
            # schedule, from ``horizon`` before it).
            reach = run.last_run_before(due + TICK) or due - run.horizon
            # Only the first instant the event has not started counts.
            if reach < event.at:
                candidates.append(Wake(max(reach, run.now + TICK)))
    return earliest(candidates)
