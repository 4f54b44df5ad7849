"""Pause limits: a pause is a wait with a reason, not a way to park a deal for good.

``pauses: {max: 10 business days}`` makes a pause still open (no end) after that long a
``pause-too-long`` violation, dated when the limit ran out (counted on the ``pauses`` calendar
for business time). Closed pauses are history and are not judged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from pipeline_rules.deals.model import Deal, Pause
from pipeline_rules.evaluate.context import Run
from pipeline_rules.evaluate.findings import Finding
from pipeline_rules.evaluate.wake import Wake, earliest
from pipeline_rules.time.working import shift


def _open(deal: Deal, run: Run, pick: Callable[[datetime | None], bool] | None
          ) -> Iterator[tuple[Pause, datetime, str]]:
    """Each pause still open at ``now`` (and picked), with the instant its limit runs out and
    the limit as written."""
    plan = run.plans.pauses
    if plan is None or not deal.pauses:
        return
    limit, calendar, text = plan
    for pause in deal.pauses:
        if pause.end is not None and pause.end <= run.now:
            continue
        if pick is not None and not pick(pause.start):
            continue
        yield pause, shift(calendar, pause.start, limit), text


def check_pauses(deal: Deal, run: Run,
                 pick: Callable[[datetime | None], bool] | None = None) -> Iterator[Finding]:
    """A ``pause-too-long`` violation for each open pause past the limit; with ``pick``, only
    the pauses it picks by when they began (a ruleset kept in versions)."""
    for pause, ends, text in _open(deal, run, pick):
        if run.now >= ends:
            yield run.violation("pause-too-long", "pauses.max", deal.id, deal.stage, ends,
                                {"since": run.time(pause.start), "reason": pause.reason,
                                 "limit": run.spoken(text), "deadline": run.time(ends)},
                                since=run.iso(pause.start), deadline=run.iso(ends),
                                reason=pause.reason, limit=text)


def next_change(deal: Deal, run: Run,
                pick: Callable[[datetime | None], bool] | None = None) -> Wake | None:
    """When this deal's pause findings next change by time alone: an open pause reaches the
    limit (and is not over by then), or a pause reported too long ends (both exact). ``pick``
    picks pauses as :func:`check_pauses` does."""
    candidates = []
    for pause, ends, _ in _open(deal, run, pick):
        if run.now < ends:
            # Reported from ``ends`` on unless the pause is over by then.
            if pause.end is None or pause.end > ends:
                candidates.append(Wake(ends))
        elif pause.end is not None:
            candidates.append(Wake(pause.end))  # reported until its end
    return earliest(candidates)
