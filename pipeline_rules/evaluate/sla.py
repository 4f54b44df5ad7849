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
* A deal whose first stage has no date (``undated_start``) is not timed in that stage, nor on a
  span from the start: both began at an unknown time. No ``no-stage-date`` warning is given for
  it; the reader that knows the export has no such dates says so once for the run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from pipeline_rules.deals.model import Deal
from pipeline_rules.evaluate.context import Run
from pipeline_rules.evaluate.findings import Finding
from pipeline_rules.evaluate.plans import SlaPlan
from pipeline_rules.evaluate.routing import (
    action_name,
    addressed,
    notify,
    role_name,
    unrouted,
    unrouted_detail,
)
from pipeline_rules.evaluate.wake import TICK, Wake, earliest
from pipeline_rules.ruleset.model import CYCLE_END, CYCLE_START, SlaDef
from pipeline_rules.time.working import shift


def span_start(deal: Deal, sla: SlaDef) -> datetime | None:
    """When the span of a from/to SLA began, or None while it has not begun or has ended."""
    assert sla.span_from is not None and sla.span_to is not None
    history = deal.history
    undated = deal.undated_start
    # The cycle began in a stage the source gives no date for: a span from the start, or from
    # that stage, began at an unknown time and is not measured.
    if undated is not None and (not history or history[0].stage != undated) and \
            sla.span_from.name in (CYCLE_START, undated):
        return None
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


def check_slas(deal: Deal, run: Run,
               pick: Callable[[datetime | None], bool] | None = None) -> Iterator[Finding]:
    """SLA warnings, breaches and their escalations for an open deal; with ``pick``, only the
    timers it picks by when they began (None: unknown) — how a ruleset kept in versions has
    each version judge what began while it was in force."""
    missing_date = False
    for plan in run.plans.slas.get(deal.stage or "", ()):
        sla = plan.sla
        if sla.stage is not None:
            since = _stage_start(deal)
            if since is None:
                # In the undated start, the date is known to be missing: the reader counts
                # such deals once for the run instead of a warning each.
                missing_date = missing_date or (deal.stage != deal.undated_start and (
                    pick is None or pick(None)))
                continue
        else:
            if not deal.history and deal.undated_start is None:
                missing_date = missing_date or pick is None or pick(None)
                continue
            since = span_start(deal, sla)
            if since is None:
                continue
        if pick is not None and not pick(since):
            continue
        # Nothing to report before the wall clock (or the civil clock, which a dates-only
        # deal's wall-clock limits count) reaches the first warning — most deals, most runs —
        # and no calendar arithmetic to do.
        if _elapsed(deal, run, since) >= plan.quiet:
            yield from _judge(deal, run, plan, since)
    if missing_date:
        yield run.violation("no-stage-date", None, deal.id, deal.stage, run.now,
                            {"stage": deal.stage})


def _civil_elapsed(run: Run, since: datetime) -> float:
    """Seconds from ``since`` to ``now`` on the civil clock a dates-only deal's timers count
    (it runs an hour ahead of elapsed time over a spring-forward night)."""
    zone = run.compiled.zone
    return (run.now.astimezone(zone).replace(tzinfo=None)
            - since.astimezone(zone).replace(tzinfo=None)).total_seconds()


def next_change(deal: Deal, run: Run,
                pick: Callable[[datetime | None], bool] | None = None) -> Wake | None:
    """When this deal's SLA findings next change by time alone: the next warning level, the
    breach (with its actions) or the next escalation level ``after`` it, of each running SLA;
    None when none can change. ``pick`` picks timers as :func:`check_slas` does."""
    candidates = []
    for plan in run.plans.slas.get(deal.stage or "", ()):
        if plan.sla.stage is not None:
            since = _stage_start(deal)
        else:
            since = span_start(deal, plan.sla) if deal.history else None
        if since is not None and (pick is None or pick(since)):
            candidates.append(_next_level(deal, run, plan, since))
    return earliest(candidates)


def _elapsed(deal: Deal, run: Run, since: datetime) -> float:
    """Seconds since ``since`` by the wall clock, or by the civil clock where that is more (a
    dates-only deal's wall-clock limits count civil time): no SLA counts faster, so nothing
    is reported before its first warning's share of the limit has passed by this."""
    elapsed = (run.now - since).total_seconds()
    if deal.whole_days:
        elapsed = max(elapsed, _civil_elapsed(run, since))
    return elapsed


def _next_level(deal: Deal, run: Run, plan: SlaPlan, since: datetime) -> Wake | None:
    """The instant an SLA reaches its next warning threshold, else its deadline, else its next
    escalation level (exact: the check compares the share used, which the timer inverts, and
    each level's due instant)."""
    sla = plan.sla
    timer = run.timer(deal, plan, since)
    if _elapsed(deal, run, since) < plan.quiet:
        # Before the first warning by the clock the check skips it by: every threshold is
        # ahead, with no calendar arithmetic to learn the share used.
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
            return _next_escalation(run, plan, at)
    if at is None:
        return None  # an open pause holds the clock
    if at <= run.now:
        # The share is reached but not yet reported (rounding at the boundary): look again
        # a moment later rather than at once.
        return Wake(run.now + TICK, exact=False)
    return Wake(at)


def _next_escalation(run: Run, plan: SlaPlan, deadline: datetime) -> Wake | None:
    """The next ``on_breach`` level still ahead of a breached SLA (each is due ``after`` its
    delay from the deadline, and emitted from then on)."""
    ahead = (shift(plan.breach_calendar, deadline, after)
             for after, _, _, _ in plan.breach_routes if after is not None)
    return earliest(Wake(due) for due in ahead if due > run.now)


def _judge(deal: Deal, run: Run, plan: SlaPlan, since: datetime) -> Iterator[Finding]:
    sla = plan.sla
    timer = run.timer(deal, plan, since)
    used = timer.used(run.now)
    if used < plan.first_share:
        return  # nothing to report, and no deadline to work out
    deadline = timer.deadline
    args = {"rule": sla.id, "limit": run.spoken(sla.limit), "stage": deal.stage,
            "since": run.time(since)}
    if deadline is not None and run.now >= deadline:
        code = "cycle-breach" if plan.cycle else "sla-breach"
        yield run.violation(code, sla.id, deal.id, deal.stage, deadline,
                            {**args, "deadline": run.time(deadline)}, plan.template,
                            since=run.iso(since), deadline=run.iso(deadline),
                            limit=sla.limit)
        yield from _escalate(deal, run, plan, deadline)
        for after, label, roles, channel in plan.breach_routes:
            due = deadline if after is None else shift(plan.breach_calendar, deadline, after)
            if due <= run.now:
                yield from notify(run, deal, roles, code=code, rule=sla.id, due=due,
                                  level=label, channel=channel)
        return
    passed = [w for w in sla.warn if used * 100 >= w]
    if not passed:
        return
    threshold = max(passed)
    at = timer.reached(threshold / 100) or run.now
    for percent, label, roles, channel in plan.warn_routes:
        if used * 100 >= percent:
            reached = at if percent == threshold else timer.reached(percent / 100) or run.now
            yield from notify(run, deal, roles, code="sla-warning", rule=sla.id, due=reached,
                              level=label, channel=channel)
    yield run.violation("sla-warning", sla.id, deal.id, deal.stage, at,
                        {**args, "percent": int(used * 100), "threshold": f"{threshold:g}",
                         "deadline": run.time(deadline) if deadline else "—"},
                        since=run.iso(since), threshold=threshold,
                        used_percent=round(used * 100, 1),
                        deadline=run.iso(deadline))


def _escalate(deal: Deal, run: Run, plan: SlaPlan, deadline: datetime) -> Iterator[Finding]:
    sla = plan.sla
    for definition in plan.actions:
        person, why = addressed(run, deal, definition.notify)
        yield run.action(
            definition.name, sla.id, deal.id, deal.stage, deadline, "finding.escalate",
            {"rule": sla.id, "deadline": run.time(deadline),
             "action": action_name(definition.name, run.lang),
             "notify": role_name(definition.notify or "owner", run.lang)},
            definition.notify, definition.channel,
            recipient=person, deadline=run.iso(deadline),
            **unrouted_detail(why))
        if why is not None and definition.notify is not None:
            yield unrouted(run, deal, definition.notify, "sla-breach", sla.id, deadline, why)

