"""SLA checks: time in a stage, spans of the cycle, warnings before a breach, escalations on it.

* A stage SLA counts from the deal's **last entry** into its current stage — the stage date,
  whatever its tasks say: an invoice issued two months ago is two months old even if a task is
  set for tomorrow, and re-entering the stage restarts the clock.
* A span SLA (``from``/``to``) counts from the first entry into ``from`` (``start``: the first
  history entry) while the deal has not reached ``to`` (``end``: a won or lost stage); the
  whole-cycle SLA (``start`` → ``end``) reports ``cycle-breach``, other spans ``sla-breach``.
* ``warn: [50, 80]`` yields one ``sla-warning`` naming the highest threshold passed; once
  breached, only the breach is reported. Each breach emits its ``on_breach`` actions, due at
  the moment of the breach, addressed to the deal's owner or manager as the action says.
* ``pausable: true`` SLAs do not count time inside the deal's pauses.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from pipeline_rules.deals.model import Deal
from pipeline_rules.evaluate.context import Run
from pipeline_rules.evaluate.findings import Finding
from pipeline_rules.evaluate.plans import SlaPlan
from pipeline_rules.evaluate.wake import TICK, Wake, earliest
from pipeline_rules.ruleset.model import CYCLE_END, CYCLE_START, SlaDef
from pipeline_rules.time.clock import start_timer


def recipient(deal: Deal, notify: str | None) -> str | None:
    """Who an action addressed to ``notify`` reaches on this deal (None for the client)."""
    if notify == "owner":
        return deal.owner
    if notify == "manager":
        return deal.manager
    return None


def _span_start(deal: Deal, sla: SlaDef) -> datetime | None:
    """When the span of a from/to SLA began, or None while it has not begun or has ended."""
    assert sla.span_from is not None and sla.span_to is not None
    history = deal.history
    if sla.span_from.name == CYCLE_START:
        begin = 0
    else:
        begin = next((i for i, h in enumerate(history) if h.stage == sla.span_from.name), -1)
        if begin < 0:
            return None
    if sla.span_to.name != CYCLE_END and any(
            h.stage == sla.span_to.name for h in history[begin + 1:]):
        return None
    return history[begin].at


def _stage_start(deal: Deal) -> datetime | None:
    """The deal's last entry into its current stage."""
    for entry in reversed(deal.history):
        if entry.stage == deal.stage:
            return entry.at
    return None


def check_slas(deal: Deal, run: Run) -> Iterator[Finding]:
    """SLA warnings, breaches and their escalations for an open deal."""
    missing_date = False
    now = run.now
    for plan in run.plans.slas.get(deal.stage or "", ()):
        sla = plan.sla
        if sla.stage is not None:
            since = _stage_start(deal)
            if since is None:
                missing_date = True
                continue
        else:
            if not deal.history:
                missing_date = True
                continue
            since = _span_start(deal, sla)
            if since is None:
                continue
        # Nothing to report before the wall clock reaches the first warning — most deals,
        # most runs — and no calendar arithmetic to do.
        if (now - since).total_seconds() >= plan.quiet:
            yield from _judge(deal, run, plan, since)
    if missing_date:
        yield run.violation("no-stage-date", None, deal.id, deal.stage, run.now,
                            {"stage": deal.stage})


def next_change(deal: Deal, run: Run) -> Wake | None:
    """When this deal's SLA findings next change by time alone: the next warning level or the
    breach (with its escalations) of each running SLA; None when none can change."""
    candidates = []
    for plan in run.plans.slas.get(deal.stage or "", ()):
        if plan.sla.stage is not None:
            since = _stage_start(deal)
        else:
            since = _span_start(deal, plan.sla) if deal.history else None
        if since is not None:
            candidates.append(_next_level(deal, run, plan, since))
    return earliest(candidates)


def _next_level(deal: Deal, run: Run, plan: SlaPlan, since: datetime) -> Wake | None:
    """The instant an SLA reaches its next warning threshold, else its deadline (exact: the
    check compares the share used, which the timer inverts)."""
    sla = plan.sla
    timer = start_timer(since, plan.limit, plan.calendar, deal.pauses if sla.pausable else ())
    if (run.now - since).total_seconds() < plan.quiet:
        # Before the first warning by the wall clock (as the check skips it): every threshold
        # is ahead, with no calendar arithmetic to learn the share used.
        ahead = [w for w in sla.warn if w < 100]
    else:
        used = timer.used(run.now)
        ahead = [w for w in sla.warn if used * 100 < w < 100]
    if ahead:
        # A threshold below the limit is still ahead: no breach yet, no deadline to work out.
        at = timer.reached(min(ahead) / 100)
    else:
        at = timer.deadline
        if at is not None and run.now >= at:
            return None  # breached: nothing further comes by time
    if at is None:
        return None  # an open pause holds the clock
    if at <= run.now:
        # The share is reached but not yet reported (rounding at the boundary): look again
        # a moment later rather than at once.
        return Wake(run.now + TICK, exact=False)
    return Wake(at)


def _judge(deal: Deal, run: Run, plan: SlaPlan, since: datetime) -> Iterator[Finding]:
    sla = plan.sla
    timer = start_timer(since, plan.limit, plan.calendar, deal.pauses if sla.pausable else ())
    used = timer.used(run.now)
    if used < plan.first_share:
        return  # nothing to report, and no deadline to work out
    deadline = timer.deadline
    args = {"rule": sla.id, "limit": sla.limit, "stage": deal.stage, "since": run.time(since)}
    if deadline is not None and run.now >= deadline:
        code = "cycle-breach" if plan.cycle else "sla-breach"
        yield run.violation(code, sla.id, deal.id, deal.stage, deadline,
                            {**args, "deadline": run.time(deadline)}, plan.template,
                            since=run.iso(since), deadline=run.iso(deadline),
                            limit=sla.limit)
        yield from _escalate(deal, run, plan, deadline)
        return
    passed = [w for w in sla.warn if used * 100 >= w]
    if not passed:
        return
    threshold = max(passed)
    at = timer.reached(threshold / 100) or run.now
    yield run.violation("sla-warning", sla.id, deal.id, deal.stage, at,
                        {**args, "percent": int(used * 100), "threshold": f"{threshold:g}",
                         "deadline": run.time(deadline) if deadline else "—"},
                        since=run.iso(since), threshold=threshold,
                        used_percent=round(used * 100, 1),
                        deadline=run.iso(deadline))


def _escalate(deal: Deal, run: Run, plan: SlaPlan, deadline: datetime) -> Iterator[Finding]:
    sla = plan.sla
    for definition in plan.actions:
        yield run.action(
            definition.name, sla.id, deal.id, deal.stage, deadline, "finding.escalate",
            {"rule": sla.id, "deadline": run.time(deadline), "action": definition.name,
             "notify": definition.notify or "owner"},
            definition.notify, definition.channel,
            recipient=recipient(deal, definition.notify), deadline=run.iso(deadline))
