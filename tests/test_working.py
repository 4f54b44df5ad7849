"""Tests for pipeline_rules.time.working: measuring, adding and taking away working time, and
the one way a duration becomes an instant (`shift`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_rules.time.calendars import BusinessCalendar, build_calendar
from pipeline_rules.time.durations import Duration, parse_duration
from pipeline_rules.time.working import (
    add_business_days,
    add_working_time,
    business_days_seconds,
    counted_seconds,
    shift,
    subtract_working_time,
    working_time,
)

MOSCOW = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")
H = timedelta(hours=1)
M = timedelta(minutes=1)
ONE_US = timedelta(microseconds=1)

REF = build_calendar("workdays", {"hours": ["09:00-13:00", "14:00-18:00"],
                                  "holidays": {"country": "RU", "dates": ["2026-12-31"]}}, MOSCOW)
# Berlin office hours with the Land's holidays, and a made-up holiday on the Monday after the
# autumn clock change, so both changes fall on long weekends.
OFFICE = build_calendar("office", {"hours": ["09:00-17:00"],
                                   "holidays": {"country": "DE", "subdiv": "BE",
                                                "dates": ["2026-10-26"]}}, BERLIN)
NIGHT = build_calendar("night", {"week": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                                 "hours": ["00:00-06:00", "22:00-24:00"]}, BERLIN)
SPRING_JUMP = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 02:00 CET -> 03:00 CEST
AUTUMN_JUMP = datetime(2026, 10, 25, 1, 0, tzinfo=UTC)  # 03:00 CEST -> 02:00 CET


def ber(year: int, month: int, day: int, hour: int = 0, minute: int = 0, fold: int = 0) -> datetime:
    """A Berlin time; fold=1 picks the second of two repeated wall-clock times."""
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN, fold=fold)


def msk(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A Moscow time."""
    return datetime(year, month, day, hour, minute, tzinfo=MOSCOW)


def utc(t: datetime) -> datetime:
    """Compare instants in UTC: within one tzinfo Python compares wall clocks."""
    return t.astimezone(UTC)


# --------------------------------------------------------------------------- Berlin, DST, holidays


def test_spring_forward_between_good_friday_and_easter_monday() -> None:
    # 2027: Good Friday 26 March, clocks forward on Sunday 28 March, Easter Monday 29 March.
    thursday, tuesday = ber(2027, 3, 25, 16), ber(2027, 3, 30, 10)
    assert thursday.utcoffset() == H and tuesday.utcoffset() == 2 * H
    assert working_time(OFFICE, thursday, tuesday) == 2 * H
    assert add_working_time(OFFICE, thursday, 2 * H) == tuesday
    assert subtract_working_time(OFFICE, tuesday, 2 * H) == thursday
    assert add_business_days(OFFICE, ber(2027, 3, 25, 10), 1) == ber(2027, 3, 30, 10)
    assert shift(OFFICE, ber(2027, 3, 25, 10), parse_duration("1 business day")) == \
        ber(2027, 3, 30, 10)
    assert shift(OFFICE, tuesday, parse_duration("1 business day"), back=True) == \
        ber(2027, 3, 25, 10)


def test_fall_back_before_a_holiday_monday() -> None:
    # Clocks back on Sunday 25 October 2026; Monday 26 is a holiday on this calendar.
    friday, tuesday = ber(2026, 10, 23, 16), ber(2026, 10, 27, 10)
    assert friday.utcoffset() == 2 * H and tuesday.utcoffset() == H
    assert utc(tuesday) - utc(friday) == 3 * 24 * H + 19 * H  # an hour more than the clocks say
    assert working_time(OFFICE, friday, tuesday) == 2 * H
    assert add_working_time(OFFICE, friday, 2 * H) == tuesday
    assert subtract_working_time(OFFICE, tuesday, 2 * H) == friday
    assert add_business_days(OFFICE, friday, 1) == ber(2026, 10, 27, 16)
    assert shift(OFFICE, friday, parse_duration("3 business hours")) == ber(2026, 10, 27, 11)


def test_holidays_are_skipped_both_ways() -> None:
    # 1 January and Good Friday / Easter Monday 2026 (3 and 6 April) in Berlin.
    assert working_time(OFFICE, ber(2026, 4, 2, 9), ber(2026, 4, 8, 9)) == 2 * 8 * H
    assert subtract_working_time(OFFICE, ber(2026, 4, 7, 10), 2 * H) == ber(2026, 4, 2, 16)
    assert subtract_working_time(OFFICE, ber(2026, 1, 2, 9), 8 * H) == ber(2025, 12, 31, 9)


def test_taking_away_lands_on_the_latest_instant() -> None:
    # Back to the opening of a period: its start, not the close of the one before.
    assert subtract_working_time(REF, msk(2026, 11, 19, 15), H) == msk(2026, 11, 19, 14)
    assert subtract_working_time(REF, msk(2026, 11, 19, 10), H) == msk(2026, 11, 19, 9)
    assert subtract_working_time(REF, msk(2026, 11, 19, 10), 2 * H) == msk(2026, 11, 18, 17)
    # A whole number of days back from the close of a day: the opening of the first of them.
    assert subtract_working_time(REF, msk(2026, 11, 20, 18), 16 * H) == msk(2026, 11, 19, 9)
    assert subtract_working_time(REF, msk(2026, 11, 23, 9), 8 * H) == msk(2026, 11, 20, 9)
    # From a weekend or a lunch break: the working time before it.
    assert subtract_working_time(REF, msk(2026, 11, 22, 12), H) == msk(2026, 11, 20, 17)
    assert subtract_working_time(REF, msk(2026, 11, 19, 13, 30), H) == msk(2026, 11, 19, 12)
    # Unity Day (Wednesday 4 November) and the New Year holidays.
    assert subtract_working_time(REF, msk(2026, 11, 5, 10), 2 * H) == msk(2026, 11, 3, 17)
    assert subtract_working_time(REF, msk(2027, 1, 11, 10), 2 * H) == msk(2026, 12, 30, 17)
    # Zero is the end itself; a negative amount is refused.
    assert subtract_working_time(REF, msk(2026, 11, 21, 11), timedelta(0)) == msk(2026, 11, 21, 11)
    with pytest.raises(ValueError, match="negative"):
        subtract_working_time(REF, msk(2026, 11, 19, 10), -H)
    with pytest.raises(ValueError, match="timezone-aware"):
        subtract_working_time(REF, datetime(2026, 11, 19, 10), H)


def test_taking_away_across_the_night_clock_changes() -> None:
    # Spring: 02:30 is never on the clock; the latest instant still reading earlier is just
    # before the jump.
    assert subtract_working_time(NIGHT, ber(2026, 3, 29, 3, 30), H) == SPRING_JUMP - ONE_US
    assert subtract_working_time(NIGHT, ber(2026, 3, 29, 4), H) == ber(2026, 3, 29, 3)
    # Autumn: the clock stands at 03:00 through the repeated hour's second pass, which ends
    # at 03:00 CET; 02:45 is on the clock only in the first pass.
    end = ber(2026, 10, 25, 3, 30)
    assert utc(subtract_working_time(NIGHT, end, 30 * M)) == utc(ber(2026, 10, 25, 3))
    assert utc(subtract_working_time(NIGHT, end, 45 * M)) == utc(ber(2026, 10, 25, 2, 45))
    assert utc(subtract_working_time(NIGHT, end, 90 * M)) == AUTUMN_JUMP - H  # 02:00 CEST


def test_one_formula_for_business_days() -> None:
    assert business_days_seconds(5, REF) == 5 * 8 * 3600
    assert counted_seconds(parse_duration("5 business days"), REF) == 5 * 8 * 3600.0
    assert counted_seconds(parse_duration("5 рабочих дней"), OFFICE) == 5 * 8 * 3600.0
    assert counted_seconds(parse_duration("8 business hours"), None) == 8 * 3600.0
    assert counted_seconds(parse_duration("1d12h"), REF) == 36 * 3600.0
    with pytest.raises(ValueError, match="needs a business calendar"):
        counted_seconds(parse_duration("2 business days"), None)


def test_shift_on_the_wall_clock() -> None:
    start = ber(2026, 3, 28, 12)
    assert shift(None, start, parse_duration("1d")) == start.astimezone(UTC) + 24 * H
    assert shift(OFFICE, start, parse_duration("1d")) == start.astimezone(UTC) + 24 * H
    assert shift(None, start, 90.0, back=True) == start.astimezone(UTC) - 90 * timedelta(seconds=1)
    # Business durations without a calendar fall back to their amount in seconds.
    assert shift(None, start, parse_duration("2 business hours")) == utc(start) + 2 * H
    # A plain number counts working seconds on a calendar.
    assert shift(OFFICE, ber(2026, 3, 27, 16), 7200.0) == ber(2026, 3, 30, 10)


# --------------------------------------------------------------------------- properties


def _instants(tz: ZoneInfo) -> st.SearchStrategy[datetime]:
    anywhere = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31),
                            timezones=st.just(UTC))
    # Weight the clock changes and holidays, where mistakes would hide.
    hotspots = st.sampled_from([SPRING_JUMP, AUTUMN_JUMP, datetime(2027, 3, 28, 1, tzinfo=UTC),
                                datetime(2027, 1, 1, tzinfo=UTC),
                                datetime(2026, 11, 4, tzinfo=UTC)])
    near = st.tuples(hotspots, st.timedeltas(min_value=-4 * 24 * H, max_value=4 * 24 * H))
    return st.one_of(anywhere, near.map(lambda pair: pair[0] + pair[1])).map(
        lambda t: t.astimezone(tz))


DURATIONS = st.one_of(
    st.integers(0, 300).map(lambda n: parse_duration(f"{n} business days")),
    st.integers(0, 120_000).map(lambda n: parse_duration(f"{n} business minutes")),
    st.integers(0, 20_000).map(lambda n: parse_duration(f"{n} business hours")),
    st.integers(0, 10**6).map(lambda n: parse_duration(f"{n}m")),
)


def _measure(cal: BusinessCalendar, duration: Duration, start: datetime, end: datetime) -> float:
    """What the duration's own clock counts between two instants."""
    if not duration.is_business:
        return (utc(end) - utc(start)).total_seconds()
    return working_time(cal, start, end).total_seconds()


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([REF, OFFICE]), st.data(), DURATIONS)
def test_a_shifted_instant_measures_the_duration_both_ways(
        cal: BusinessCalendar, data: st.DataObject, duration: Duration) -> None:
    t = data.draw(_instants(cal.tz))
    counted = counted_seconds(duration, cal)
    later = shift(cal, t, duration)
    assert _measure(cal, duration, t, later) == counted
    earlier = shift(cal, t, duration, back=True)
    assert _measure(cal, duration, earlier, t) == counted
    if duration.is_business and counted:
        # The latest such instant: a microsecond later, less remains.
        assert _measure(cal, duration, utc(earlier) + ONE_US, t) < counted


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([REF, OFFICE, NIGHT]), st.data(),
       st.timedeltas(min_value=ONE_US, max_value=2000 * H))
def test_taking_away_is_the_mirror_of_adding(
        cal: BusinessCalendar, data: st.DataObject, amount: timedelta) -> None:
    end = data.draw(_instants(cal.tz))
    start = subtract_working_time(cal, end, amount)
    counted = working_time(cal, start, end)
    # Exact, except when the amount reaches back into the clock hour skipped in spring: the
    # clock reads earlier until the jump, so a little more remains.
    after = (utc(start) + ONE_US).astimezone(cal.tz)
    just_before_jump = after.utcoffset() > start.utcoffset()  # type: ignore[operator]
    assert counted == amount or (just_before_jump and amount < counted <= amount + H)
    assert working_time(cal, utc(start) + ONE_US, end) < amount
    assert utc(start) <= utc(end)


def test_latest_day_searches_reach_far() -> None:
    assert REF.working_day_before(date(2026, 11, 5), 1) == date(2026, 11, 3)
    assert REF.working_day_after(date(2026, 11, 3), 1) == date(2026, 11, 5)
    assert REF.working_day_before(date(2027, 1, 11), 1) == date(2026, 12, 30)
    far = REF.working_day_before(date(2026, 11, 19), 2470)
    assert REF.days_before(date(2026, 11, 19).toordinal()) - REF.days_before(far.toordinal()) \
        == 2470
    assert REF.is_working_day(far)
