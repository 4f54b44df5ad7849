"""When a deal's findings next change with no new input: the instant a stored deal is woken at.

Each check family answers for itself, beside its check (``sla.next_change``,
``tasks.next_change``, ``reminders.next_change``, ``pauses.next_change``,
``entry.next_change``; the history replay never changes with time):
a :class:`Wake` candidate, or None when nothing it reports can change by time alone. A deal's
wake is the earliest candidate (:func:`earliest`). A candidate is either **exact** — at that
instant something the check reports appears, goes or moves on (a warning level, a breach and
its escalation levels, a task's grace running out, a reminder due or its event starting, an
open pause passing its limit, an entry's actions leaving the entry window) — or a
**safe earlier bound**: nothing changes before it, but maybe nothing changes at it either (the
deal is then judged again and gets its next wake). A check added later contributes its own
candidate the same way (see ``Evaluator.next_change``).

Some findings embed the evaluation time by design and so differ at every instant without
changing: those dated at ``now`` (a missing next task or stage date, a next task too far, a
task without a due time, a plugin's failure, a bad record) with the routed ``notify`` actions
and ``unrouted`` findings that follow them (due at ``now`` too), the ``latest`` allowed due
time of a next task too
far, and the percentage of an SLA used in a warning (its message and ``used_percent``).
:func:`stable` is a finding without them — what the wake promises to keep, and what identifies
a finding across evaluations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline_rules.evaluate.findings import Finding

#: Findings dated at the evaluation time (their ``at`` is ``now``), by code.
DATED_NOW = frozenset({"no-next-task", "no-stage-date", "next-task-too-far", "bad-record",
                       "plugin-error", "task-without-due"})
#: Codes of the findings routing adds for another finding (its code in ``details["for"]``).
FOLLOWERS = frozenset({"notify", "unrouted"})
#: Details that carry the evaluation time or what is used by it, by code.
MOVING_DETAILS = {"next-task-too-far": ("latest",), "sla-warning": ("used_percent",)}
#: Codes whose message quotes a share used by ``now``.
MOVING_MESSAGE = frozenset({"sla-warning"})

#: One microsecond: a finding that holds *after* an instant (``now > t``) first holds here.
TICK = timedelta(microseconds=1)


@dataclass(frozen=True, order=True)
class Wake:
    """An instant the findings of a deal may next change at; ``exact`` when they do change
    then, False when it is only a safe earlier bound."""

    at: datetime
    exact: bool = True


def earliest(candidates: Iterable[Wake | None]) -> Wake | None:
    """The earliest candidate (exact when any candidate at that instant is)."""
    best: Wake | None = None
    for wake in candidates:
        if wake is None:
            continue
        if best is None or wake.at < best.at or (wake.at == best.at and wake.exact):
            best = wake
    return best


def bisect(holds: Callable[[datetime], bool], low: datetime, high: datetime) -> datetime:
    """The first instant in (low, high] at which ``holds`` — false at ``low``, true at
    ``high``, and true from some instant on — is true, to the microsecond (for the instants
    that have no closed inverse on every calendar)."""
    low, high = low.astimezone(UTC), high.astimezone(UTC)
    while high - low > TICK:
        middle = low + (high - low) // 2
        if holds(middle):
            high = middle
        else:
            low = middle
    return high


def stable(finding: Finding) -> tuple[Any, ...]:
    """A finding without the parts that embed the evaluation time (see the module's doc); a
    plugin's own finding dated at ``now`` is not recognised as such and keeps its ``at``."""
    code = finding.code
    details = finding.details
    moving = MOVING_DETAILS.get(code)
    if moving:
        details = {k: v for k, v in details.items() if k not in moving}
    dated_now = code in DATED_NOW or (code in FOLLOWERS and details.get("for") in DATED_NOW)
    at = None if dated_now else finding.at
    return (finding.kind, code, finding.rule, finding.deal, finding.stage, at,
            None if code in MOVING_MESSAGE else finding.message, finding.ruleset,
            finding.severity, finding.action, finding.notify, finding.channel,
            None if dated_now else finding.due,
            finding.key, _frozen(details))


def _frozen(value: Any) -> Any:
    if isinstance(value, dict):
        # Keys are unique, so sorting the pairs never compares two values.
        items = sorted(value.items())
        if any(isinstance(v, dict | list | tuple) for _, v in items):
            return tuple((k, _frozen(v)) for k, v in items)
        return tuple(items)  # flat, as most details are: nothing inside to freeze
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return value


__all__ = ["DATED_NOW", "FOLLOWERS", "TICK", "Wake", "bisect", "earliest", "stable"]
