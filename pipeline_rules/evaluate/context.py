"""What every check sees in one evaluation run: the ruleset, the time, and per-run facts.

Facts that depend only on the run — the next scheduled run after ``now``, the latest allowed due
time of a next task for each gap — are computed once per run, never per deal (croniter costs
tens of microseconds a call; a business-day gap a few more). What is worth remembering from one
deal to the next — formatted instants, the state machine's verdicts on the moves and starts its
replays meet — is remembered here too, in bounded maps, so the ruleset and the machine stay
immutable and shared.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from croniter import croniter

from pipeline_rules import i18n
from pipeline_rules.deals.model import Deal
from pipeline_rules.enforce.machine import IllegalMove, PipelineMachine, ReplayMemo
from pipeline_rules.evaluate.findings import Finding, action, violation
from pipeline_rules.evaluate.plans import Plans, SlaPlan, make_plans
from pipeline_rules.ruleset.compiled import CompiledRuleset
from pipeline_rules.ruleset.versions import Versions
from pipeline_rules.time.calendars import BusinessCalendar
from pipeline_rules.time.clock import Timer, start_timer
from pipeline_rules.time.durations import Duration, spoken
from pipeline_rules.time.schedules import CronSchedule
from pipeline_rules.time.working import shift

#: Formatted instants kept per run (a bound: a run over millions of deals stays flat).
_STAMPS = 65536


@dataclass
class RunsBefore:
    """The last scheduled runs before instants already looked up, kept as stretches: the last
    run ``p`` strictly before ``m`` means there is none in (p, m), so every instant in (p, m]
    has ``p`` too — the reminders of a day, due at different minutes, ask croniter once."""

    #: The instants looked up, in order, and the last run before each.
    ends: list[datetime] = field(default_factory=list)
    starts: list[datetime] = field(default_factory=list)

    def get(self, moment: datetime) -> datetime | None:
        """The last run strictly before ``moment``, when a stretch known holds it."""
        # The first instant looked up at or after ``moment``: two stretches that both hold
        # ``moment`` have the same start, so this one answers if any does.
        index = bisect_left(self.ends, moment)
        if index < len(self.ends) and self.starts[index] < moment:
            return self.starts[index]
        return None

    def add(self, moment: datetime, found: datetime) -> None:
        """Remember that the last run strictly before ``moment`` is ``found``."""
        if len(self.ends) >= _STAMPS:
            self.ends.clear()
            self.starts.clear()
        index = bisect_left(self.ends, moment)
        self.ends.insert(index, moment)
        self.starts.insert(index, found)


@dataclass
class RunShare:
    """What runs started one after another at different instants can share, none of it
    depending on ``now``: the rulesets' plans, a parsed schedule, the last scheduled runs
    before instants, and the last stretch between two scheduled runs (a next run looked up
    within it is its end: a tick's wakes come in order, most within one stretch). Not for
    several threads at once: a parsed schedule holds a position."""

    plans: dict[int, Plans] = field(default_factory=dict)
    cursors: dict[CronSchedule, croniter] = field(default_factory=dict)
    previous: dict[CronSchedule, RunsBefore] = field(default_factory=dict)
    spans: dict[CronSchedule, tuple[datetime, datetime]] = field(default_factory=dict)

    def plans_of(self, compiled: CompiledRuleset) -> Plans:
        """The plans of a compiled ruleset (by identity: a share lives as long as a tick)."""
        found = self.plans.get(id(compiled))
        if found is None:
            found = self.plans[id(compiled)] = make_plans(compiled)
        return found

    def cursor(self, schedule: CronSchedule) -> croniter:
        """The schedule parsed once."""
        found = self.cursors.get(schedule)
        if found is None:
            found = self.cursors[schedule] = schedule.cursor()
        return found

    def next_run(self, schedule: CronSchedule, now: datetime) -> datetime:
        """The first run strictly after ``now``, in UTC: with no run between ``after`` and
        the run found after it, every instant from ``after`` up to that run has the same."""
        span = self.spans.get(schedule)
        if span is not None and span[0] <= now < span[1]:
            return span[1]
        found = schedule.next_run(now, self.cursor(schedule)).astimezone(UTC)
        self.spans[schedule] = (now, found)
        return found


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
    #: The runs of every version, when the ruleset is kept in versions (this run is the one
    #: of the version in force at ``now``).
    versions: VersionRuns | None = None
    _entry_cutoff: datetime | None = None
    _spoken: dict[str, str] = field(default_factory=dict)
    _words: dict[str, str] = field(default_factory=dict)
    _texts: dict[tuple[str, ...], str] = field(default_factory=dict)
    _cursor: croniter | None = None
    _previous: RunsBefore = field(default_factory=RunsBefore)
    _share: RunShare | None = field(default=None, repr=False)
    #: The SLA timers of the deal last asked about (see :meth:`timer`), by plan and start.
    _timers: dict[tuple[int, datetime], Timer] = field(default_factory=dict, repr=False)
    _timers_of: Deal | None = field(default=None, repr=False)

    @classmethod
    def start(cls, compiled: CompiledRuleset, machine: PipelineMachine, now: datetime,
              lang: str = i18n.DEFAULT, horizon: timedelta = timedelta(0),
              share: RunShare | None = None) -> Run:
        """Prepare a run at ``now`` (carried in UTC) and find the next scheduled run.

        ``share``: what a caller that starts many runs one after another (a tick judging each
        deal at its own instant) keeps between them: most of a run's start."""
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("'now' must be a timezone-aware datetime")
        schedule = compiled.schedule
        if schedule is None:
            next_run = None
        elif share is None:
            next_run = schedule.next_run(now).astimezone(UTC)
        else:
            next_run = share.next_run(schedule, now)
        return cls(compiled, machine, now.astimezone(UTC), lang, horizon, next_run,
                   _share=share)

    def __post_init__(self) -> None:
        share, schedule = self._share, self.compiled.schedule
        if share is None:
            self.plans = make_plans(self.compiled)
            return
        self.plans = share.plans_of(self.compiled)
        if schedule is not None:
            self._cursor = share.cursor(schedule)
            self._previous = share.previous.setdefault(schedule, RunsBefore())

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

    def word(self, key: str) -> str:
        """A catalog entry without arguments (a role, what an alert is about) in the run's
        language, remembered per run: routed alerts name them hundreds of thousands of times."""
        found = self._words.get(key)
        if found is None:
            found = self._words[key] = i18n.render(key, {}, self.lang)
        return found

    def text(self, memo: tuple[str, ...], key: str, args: dict[str, Any]) -> str:
        """Message ``key`` with ``args`` in the run's language, remembered under ``memo`` (what
        the arguments are made of): routed alerts say the same few sentences for every deal
        of an owner."""
        found = self._texts.get(memo)
        if found is None:
            if len(self._texts) >= _STAMPS:
                self._texts.clear()
            found = self._texts[memo] = i18n.render(key, args, self.lang)
        return found

    def spoken(self, text: str) -> str:
        """A duration of the ruleset as a person reads it in the run's language (as written in
        English), remembered per run."""
        found = self._spoken.get(text)
        if found is None:
            found = self._spoken[text] = spoken(self.compiled.duration(text), self.lang)
        return found

    def entry_cutoff(self) -> datetime:
        """The earliest entry whose actions this run still emits: ``routing.entry_window``
        before ``now``, by default 1 day or the previous scheduled run, whichever is earlier."""
        if self._entry_cutoff is None:
            self._entry_cutoff = self.entry_cutoff_at(self.now)
        return self._entry_cutoff

    def entry_window(self) -> tuple[BusinessCalendar | None, Duration] | None:
        """The ruleset's own entry window as a duration and the calendar it counts on (None for
        wall-clock time), or None when it sets none and the default applies."""
        rs = self.compiled.ruleset
        window = rs.routing.entry_window if rs.routing is not None else None
        if window is None:
            return None
        duration = self.compiled.duration(window)
        return (self.compiled.calendar(rs.calendar_name(None)) if duration.is_business
                else None), duration

    def entry_cutoff_at(self, moment: datetime) -> datetime:
        """:meth:`entry_cutoff` of a run at ``moment`` (it never moves back as time goes on)."""
        window = self.entry_window()
        if window is not None:
            calendar, duration = window
            return shift(calendar, moment, duration, back=True)
        cutoff = moment - timedelta(days=1)
        return min(cutoff, self.last_run_before(moment) or cutoff)

    def last_run_before(self, moment: datetime) -> datetime | None:
        """The last scheduled run strictly before ``moment`` (None without a schedule); the
        schedule is parsed once per run, and each answer remembered as a stretch it holds for
        (:class:`RunsBefore`; croniter takes a third of
        a millisecond a look-up, and reminders of meetings at the same hour ask the same)."""
        schedule = self.compiled.schedule
        if schedule is None:
            return None
        found = self._previous.get(moment)
        if found is None:
            if self._cursor is None:
                self._cursor = schedule.cursor()
            found = schedule.previous_run(moment, self._cursor)
            self._previous.add(moment, found)
        return found

    def timer(self, deal: Deal, plan: SlaPlan, since: datetime) -> Timer:
        """The timer of ``plan`` running from ``since`` on ``deal``, built once per deal: the
        SLA check and the deal's next change ask for the same one (and its deadline is worked
        out once). Only the last deal's timers are kept, so a run stays flat."""
        if self._timers_of is not deal:
            self._timers.clear()
            self._timers_of = deal
        key = (id(plan), since)
        found = self._timers.get(key)
        if found is None:
            found = self._timers[key] = start_timer(
                since, plan.limit, plan.calendar, deal.pauses if plan.sla.pausable else (),
                self.compiled.zone if deal.whole_days else None)
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
                         produced_by=self.compiled.revision, **details)

    def action(self, code: str, rule: str, deal: str, stage: str | None, due: datetime,
               message_key: str, message_args: dict[str, Any], notify: str | None,
               channel: str | None, key_of: str | None = None, key_at: datetime | None = None,
               message: str | None = None, **details: Any) -> Finding:
        """An action with its message rendered in the run's language (or given)."""
        if message is None:
            message = i18n.render(message_key, message_args, self.lang)
        return action(self.ruleset_id, code, rule, deal, stage, self.local(due), message, notify,
                      channel, key_of, key_at, produced_by=self.compiled.revision, **details)


@dataclass(frozen=True)
class VersionRuns:
    """One run per version of a ruleset kept in versions, at the same ``now``."""

    versions: Versions
    runs: tuple[Run, ...]
    #: The index of the version in force at ``now``.
    current: int
    #: Whether every version judges moves alike (one replay then serves them all).
    same_moves: bool
    #: When the version in force at ``now`` took effect (read for every deal: kept, not
    #: looked up).
    since: datetime = field(init=False)
    #: Whether any version acts on a stage entry, or limits pauses (most rulesets do neither,
    #: and a deal need not be searched for when its entry or pauses began).
    entries_any: bool = field(init=False)
    pauses_any: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "since", self.versions.instants[self.current])
        object.__setattr__(self, "entries_any", any(r.plans.entries for r in self.runs))
        object.__setattr__(self, "pauses_any",
                           any(r.plans.pauses is not None for r in self.runs))

    def index_for(self, since: datetime | None, rebased: datetime | None = None) -> int:
        """The version that judges what began at ``since`` (the one in force at ``now`` when
        it is unknown); a deal re-based at ``rebased`` is judged from then by the version in
        force then."""
        if since is None:
            return self.current
        if rebased is not None and rebased > since:
            since = rebased
        if since >= self.since:  # the common case, without the search
            return self.current
        # A version not yet in force at ``now`` judges nothing (a time ahead of ``now``).
        return min(self.versions.index_at(since), self.current)
