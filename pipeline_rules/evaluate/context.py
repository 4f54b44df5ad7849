"""What every check sees in one evaluation run: the ruleset, the time, and per-run facts.

Facts that depend only on the run — the next scheduled run after ``now``, the latest allowed due
time of a next task for each gap — are computed once per run, never per deal (croniter costs
tens of microseconds a call; a business-day gap a few more). What is worth remembering from one
deal to the next — formatted instants, the state machine's verdicts on the moves and starts its
replays meet — is remembered here too, in bounded maps, so the ruleset and the machine stay
immutable and shared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from croniter import croniter

from pipeline_rules import i18n
from pipeline_rules.deals.model import Deal
from pipeline_rules.enforce.machine import IllegalMove, PipelineMachine, ReplayMemo
from pipeline_rules.evaluate.findings import Finding, action, violation
from pipeline_rules.evaluate.plans import Plans, make_plans
from pipeline_rules.ruleset.compiled import CompiledRuleset
from pipeline_rules.time.calendars import BusinessCalendar
from pipeline_rules.time.schedules import CronSchedule
from pipeline_rules.time.working import shift

#: Formatted instants kept per run (a bound: a run over millions of deals stays flat).
_STAMPS = 65536


@dataclass
class Run:
    """One evaluation run at ``now`` (mutable only for its own per-run caches)."""

    compiled: CompiledRuleset
    machine: PipelineMachine
    now: datetime
    lang: str = i18n.DEFAULT
    horizon: timedelta = timedelta(0)
    next_run: datetime | None = None
    #: What the checks precompute for the ruleset (see :mod:`.plans`).
    plans: Plans = field(init=False)
    _shifted: dict[tuple[str, str | None], datetime] = field(default_factory=dict)
    _stamps: dict[datetime, str] = field(default_factory=dict)
    _replays: ReplayMemo = field(default_factory=ReplayMemo)
    _cursor: croniter | None = None
    _previous: dict[datetime, datetime] = field(default_factory=dict)

    @classmethod
    def start(cls, compiled: CompiledRuleset, machine: PipelineMachine, now: datetime,
              lang: str = i18n.DEFAULT, horizon: timedelta = timedelta(0),
              cursors: dict[CronSchedule, croniter] | None = None) -> Run:
        """Prepare a run at ``now`` (carried in UTC) and find the next scheduled run.

        ``cursors``: parsed schedules kept by a caller that starts many runs one after another
        (a tick judging deals each at its own instant): parsing is most of a run's start."""
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("'now' must be a timezone-aware datetime")
        schedule = compiled.schedule
        cursor = None
        if schedule is not None and cursors is not None:
            cursor = cursors.get(schedule)
            if cursor is None:
                cursor = cursors[schedule] = schedule.cursor()
        next_run = (schedule.next_run(now, cursor).astimezone(UTC) if schedule is not None
                    else None)
        return cls(compiled, machine, now.astimezone(UTC), lang, horizon, next_run,
                   _cursor=cursor)

    def __post_init__(self) -> None:
        self.plans = make_plans(self.compiled)

    @property
    def ruleset_id(self) -> str:
        """The ruleset's id, stamped on every finding."""
        return self.compiled.id

    def from_now(self, text: str, calendar: BusinessCalendar | None) -> datetime:
        """``now`` plus a duration, cached per run."""
        key = (text, calendar.name if calendar else None)
        found = self._shifted.get(key)
        if found is None:
            found = self._shifted[key] = shift(calendar, self.now, self.compiled.duration(text))
        return found

    def last_run_before(self, moment: datetime) -> datetime | None:
        """The last scheduled run strictly before ``moment`` (None without a schedule); the
        schedule is parsed once per run, and each answer remembered (croniter takes a third of
        a millisecond a look-up, and reminders of meetings at the same hour ask the same)."""
        schedule = self.compiled.schedule
        if schedule is None:
            return None
        found = self._previous.get(moment)
        if found is None:
            if self._cursor is None:
                self._cursor = schedule.cursor()
            found = self._previous[moment] = schedule.prev_run(moment, self._cursor)
        return found

    def replay(self, deal: Deal) -> list[IllegalMove]:
        """The illegal moves in the deal's history (the machine's replay, with this run's
        memo)."""
        return self.machine.replay(deal, self._replays)

    def time(self, moment: datetime) -> str:
        """A time for a message, in the ruleset's zone (``2026-11-20 09:05``)."""
        text = self.stamp(moment)
        return f"{text[:10]} {text[11:16]}"

    def local(self, moment: datetime) -> datetime:
        """A time for output, in the ruleset's zone."""
        return moment.astimezone(self.compiled.zone)

    def iso(self, moment: datetime | None) -> str | None:
        """A time for output details, ISO 8601 in the ruleset's zone."""
        return None if moment is None else self.stamp(moment)

    def isoformat(self, moment: datetime) -> str:
        """``moment.isoformat()``, memoised for times in the ruleset's zone (as findings'
        times are)."""
        if moment.tzinfo is self.compiled.zone:
            return self.stamp(moment)
        return moment.isoformat()

    def stamp(self, moment: datetime) -> str:
        """``moment`` in the ruleset's zone as ISO 8601, memoised per run.

        A finding names the same instants several times (in its message and its details), and
        zone conversion plus formatting is most of what a finding costs. Equal instants are
        equal keys whatever their offsets, and they format alike.
        """
        text = self._stamps.get(moment)
        if text is None:
            if len(self._stamps) >= _STAMPS:
                self._stamps.clear()
            text = self._stamps[moment] = moment.astimezone(self.compiled.zone).isoformat()
        return text

    def violation(self, code: str, rule: str | None, deal: str | None, stage: str | None,
                  at: datetime, message_args: dict[str, Any], template: str | None = None,
                  **details: Any) -> Finding:
        """A violation with its message (``finding.<code>`` unless a template is named)."""
        message = i18n.render(template or f"finding.{code}", message_args, self.lang)
        return violation(self.ruleset_id, code, rule, deal, stage, self.local(at), message,
                         **details)

    def action(self, code: str, rule: str, deal: str, stage: str | None, due: datetime,
               message_key: str, message_args: dict[str, Any], notify: str | None,
               channel: str | None, **details: Any) -> Finding:
        """An action with its message rendered in the run's language."""
        message = i18n.render(message_key, message_args, self.lang)
        return action(self.ruleset_id, code, rule, deal, stage, self.local(due), message, notify,
                      channel, **details)
