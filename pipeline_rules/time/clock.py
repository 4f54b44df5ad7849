"""How an SLA counts time: on the wall clock or a business calendar, minus paused time.

A :class:`Clock` measures time between two instants and finds the instant at which a given
amount has been counted. A :class:`Timer` is an SLA running on a clock from a start instant with
a limit: its deadline, the share of the limit used at a moment, and the moment a share was
reached. Nothing here loops over days or minutes: the calendar does its arithmetic in
logarithmic time (:mod:`pipeline_rules.time.working`), and pauses are visited once each.

Pauses are anything with a ``start`` and an ``end`` instant (``None``: still paused), such as a
deal's pauses.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from functools import cached_property
from typing import Protocol

from pipeline_rules.time.calendars import BusinessCalendar
from pipeline_rules.time.durations import Duration, DurationKind
from pipeline_rules.time.working import civil_seconds, counted_seconds, shift, working_time

__all__ = ["Clock", "Interval", "Timer", "merge_pauses", "start_timer"]


class Interval(Protocol):
    """A stretch of time from ``start``, until ``end`` (None: not over yet)."""

    @property
    def start(self) -> datetime:
        """When it began."""

    @property
    def end(self) -> datetime | None:
        """When it ended (None: not over yet)."""


def merge_pauses(pauses: Iterable[Interval]) -> tuple[tuple[datetime, datetime | None], ...]:
    """Pauses as sorted, non-overlapping intervals (``None`` end: still paused)."""
    merged: list[tuple[datetime, datetime | None]] = []
    for pause in sorted(pauses, key=lambda p: p.start):
        if merged:
            last_start, last_end = merged[-1]
            if last_end is None:
                break  # an open pause swallows everything after it
            if pause.start <= last_end:
                end = None if pause.end is None else max(last_end, pause.end)
                merged[-1] = (last_start, end)
                continue
        merged.append((pause.start, pause.end))
    return tuple(merged)


@dataclass(frozen=True)
class Clock:
    """Counts time on a calendar (working time) or the wall clock, skipping paused intervals."""

    calendar: BusinessCalendar | None = None
    pauses: tuple[tuple[datetime, datetime | None], ...] = ()
    #: Without a calendar: count the civil time of this zone (dates stay dates across DST).
    civil: tzinfo | None = None

    def _measure(self, start: datetime, end: datetime) -> float:
        if end <= start:
            return 0.0
        if self.calendar is None:
            if self.civil is not None:
                return civil_seconds(start, end, self.civil)
            return (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds()
        return working_time(self.calendar, start, end).total_seconds()

    def measure(self, start: datetime, end: datetime) -> float:
        """Seconds counted in [start, end)."""
        total = self._measure(start, end)
        for p_start, p_end in self.pauses:
            if p_start >= end:
                break
            stop = end if p_end is None else min(end, p_end)
            total -= self._measure(max(start, p_start), stop)
        return max(total, 0.0)

    def advance(self, start: datetime, seconds: float) -> datetime | None:
        """The instant by which ``seconds`` have been counted since ``start`` (None: never —
        an open pause stops the clock before)."""
        moment = shift(self.calendar, start, seconds, civil=self.civil)
        for p_start, p_end in self.pauses:
            if p_start >= moment:
                break
            if p_end is None:
                return None
            if p_end <= start:
                continue
            # The paused part before the moment did not count: push the moment on by it.
            moment = shift(self.calendar, moment, self._measure(max(start, p_start), p_end),
                           civil=self.civil)
        return moment


class Timer:
    """An SLA running from ``start``: how much of the limit is used, and when it runs out.

    The share used is cheap (one measurement); the deadline is worked out only when asked —
    most deals are neither warned nor breached, and their deadline is never needed.
    """

    def __init__(self, clock: Clock, start: datetime, budget: float,
                 limit: Duration) -> None:
        self.clock = clock
        self.start = start
        self.budget = budget  # seconds to count before the deadline
        self.limit = limit
        # The last answer of ``used``: a deal's SLA check and its next change both ask it
        # for the run's ``now``, and a calendar measurement is the dear part of either.
        self._used: tuple[datetime, float] | None = None

    def used(self, now: datetime) -> float:
        """Share of the limit used by ``now`` (1.0 = at the deadline)."""
        if self.budget <= 0:
            return 1.0
        last = self._used
        if last is not None and last[0] == now:
            return last[1]
        share = self.clock.measure(self.start, now) / self.budget
        self._used = (now, share)
        return share

    @cached_property
    def deadline(self) -> datetime | None:
        """When the limit runs out (None: a pause stopped the clock for good)."""
        if self.limit.kind is DurationKind.BUSINESS_DAYS and not self.clock.pauses:
            # Without pauses, N business days end at the same working-clock time N working days
            # on (the rule people check a deadline by); the working time to it is the budget.
            return shift(self.clock.calendar, self.start, self.limit)
        return self.clock.advance(self.start, self.budget)

    def reached(self, share: float) -> datetime | None:
        """When ``share`` of the limit was (or will be) used."""
        return self.clock.advance(self.start, self.budget * share)


def start_timer(start: datetime, limit: Duration, calendar: BusinessCalendar | None,
                pauses: Sequence[Interval] = (), civil: tzinfo | None = None) -> Timer:
    """An SLA timer of ``limit`` from ``start``.

    ``N business days`` ends at the same working-clock time on the N-th working day after the
    start (a start outside working hours counts from the next working period). Every working day
    has the same working hours, so the working time between start and deadline is exactly N
    working days' worth: that is the budget percentages are shares of. Without a calendar, time
    is wall-clock time (``civil``: the civil time of that zone, for deals dated in whole days).
    Paused time does not count, so pauses push the deadline later.
    """
    civil = civil if calendar is None else None
    clock = Clock(calendar, merge_pauses(pauses) if pauses else (), civil)
    if limit.kind is not DurationKind.WALL and calendar is None:
        raise ValueError(f"'{limit.text}' needs a business calendar")
    return Timer(clock, start, counted_seconds(limit, calendar), limit)
