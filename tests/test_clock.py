"""Tests for pipeline_rules.time.clock: the SLA clock with pauses, against minute stepping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_rules.time.calendars import BusinessCalendar, build_calendar
from pipeline_rules.time.clock import Clock, merge_pauses, start_timer
from pipeline_rules.time.durations import parse_duration

REF = build_calendar("workdays", {"hours": ["09:00-13:00", "14:00-18:00"],
                                  "holidays": {"country": "RU"}}, ZoneInfo("Europe/Moscow"))
# Its weeks around both clock changes of 2026 (at night, outside the working hours, so stepping
# physical minutes counts what the wall clock counts).
OFFICE = build_calendar("office", {"hours": ["09:00-17:00"],
                                   "holidays": {"country": "DE", "subdiv": "BE"}},
                        ZoneInfo("Europe/Berlin"))
ORIGINS = (datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 3, 25, tzinfo=UTC),
           datetime(2026, 10, 22, tzinfo=UTC))
MINUTE = timedelta(minutes=1)
WINDOW = 14 * 24 * 60  # minutes in which the random instants fall


class Pause(NamedTuple):
    """A pause as deals carry them (the clock needs only ``start`` and ``end``)."""

    start: datetime
    end: datetime | None
    reason: str = "client asked"


def _counts(calendar: BusinessCalendar | None, minute: datetime, pauses: list[Pause]) -> bool:
    """Whether the clock counts the minute starting at ``minute``."""
    if any(p.start <= minute and (p.end is None or minute < p.end) for p in pauses):
        return False
    if calendar is None:
        return True
    local = minute.astimezone(calendar.tz)
    clock = (local.hour * 60 + local.minute) * 60_000_000
    return calendar.is_working_day(local.date()) and any(
        lo <= clock < hi for lo, hi in calendar.periods)


@st.composite
def cases(draw: st.DrawFn) -> tuple[BusinessCalendar | None, datetime, datetime, list[Pause]]:
    calendar = draw(st.sampled_from([None, REF, OFFICE]))
    origin = draw(st.sampled_from(ORIGINS))
    at = st.integers(0, WINDOW).map(lambda m: origin + m * MINUTE)
    start, end = sorted((draw(at), draw(at)))
    pauses = []
    for _ in range(draw(st.integers(0, 3))):
        p_start = draw(at)
        length = draw(st.one_of(st.none(), st.integers(1, 3 * 24 * 60)))
        pauses.append(Pause(p_start, None if length is None else p_start + length * MINUTE))
    return calendar, start, end, pauses


@settings(max_examples=150, deadline=None)
@given(cases())
def test_measure_agrees_with_minute_stepping(
        case: tuple[BusinessCalendar | None, datetime, datetime, list[Pause]]) -> None:
    calendar, start, end, pauses = case
    clock = Clock(calendar, merge_pauses(pauses))
    minutes = int((end - start) / MINUTE)
    counted = sum(_counts(calendar, start + i * MINUTE, pauses) for i in range(minutes))
    assert clock.measure(start, end) == counted * 60


@settings(max_examples=150, deadline=None)
@given(cases(), st.integers(1, 2000))
def test_advance_agrees_with_minute_stepping(
        case: tuple[BusinessCalendar | None, datetime, datetime, list[Pause]], n: int) -> None:
    calendar, start, _, pauses = case
    clock = Clock(calendar, merge_pauses(pauses))
    # Step until n minutes are counted, or until an open pause has stopped the clock for good.
    stopped = min((p.start for p in pauses if p.end is None), default=None)
    expected: datetime | None = None
    minute, counted = start, 0
    while stopped is None or minute < max(stopped, start):
        counted += _counts(calendar, minute, pauses)
        minute += MINUTE
        if counted == n:
            expected = minute
            break
    assert clock.advance(start, n * 60.0) == expected


def test_a_timer_counts_on_the_same_clock() -> None:
    start = datetime(2026, 11, 16, 6, tzinfo=UTC)  # Monday 09:00 in Moscow
    pause = Pause(datetime(2026, 11, 17, 6, tzinfo=UTC), datetime(2026, 11, 18, 6, tzinfo=UTC))
    timer = start_timer(start, parse_duration("2 business days"), REF, [pause])
    # Tuesday is paused, so the sixteen working hours run out when Wednesday's work ends; each
    # share is the earliest instant that much was counted by (Monday's close for half).
    assert timer.deadline == datetime(2026, 11, 18, 15, tzinfo=UTC)
    assert timer.used(datetime(2026, 11, 18, 10, tzinfo=UTC)) == 0.75
    assert timer.reached(0.5) == datetime(2026, 11, 16, 15, tzinfo=UTC)
    # Without pauses, N business days end at the same working-clock time N working days on.
    plain = start_timer(start, parse_duration("2 business days"), REF)
    assert plain.deadline == datetime(2026, 11, 18, 6, tzinfo=UTC)
