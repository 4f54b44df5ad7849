"""Tests for pipeline_rules.time.calendars."""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_rules.time.calendars import (
    BusinessCalendar,
    CalendarError,
    build_calendar,
    calendar_problems,
)
from pipeline_rules.time.working import (
    add_business_days,
    add_working_time,
    next_working_instant,
    working_time,
)

MOSCOW = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")
REFERENCE_SPEC: dict[str, Any] = {
    "week": ["mon", "tue", "wed", "thu", "fri"],
    "hours": ["09:00-13:00", "14:00-18:00"],
    "holidays": {"country": "RU", "dates": ["2026-12-31"]},
}
REF = build_calendar("workdays", REFERENCE_SPEC, MOSCOW)
OFFICE = build_calendar(
    "office", {"hours": ["09:00-17:00"], "holidays": {"country": "DE", "subdiv": "BE"}}, BERLIN
)
# Hours that cover the night, so the clock changes happen inside a working period.
NIGHT = build_calendar(
    "night",
    {
        "week": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "hours": ["00:00-06:00", "22:00-24:00"],
    },
    BERLIN,
)
SPRING_JUMP = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 02:00 CET -> 03:00 CEST
AUTUMN_JUMP = datetime(2026, 10, 25, 1, 0, tzinfo=UTC)  # 03:00 CEST -> 02:00 CET


def msk(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    """A Moscow time."""
    return datetime(year, month, day, hour, minute, second, us, tzinfo=MOSCOW)


def ber(year: int, month: int, day: int, hour: int = 0, minute: int = 0, fold: int = 0) -> datetime:
    """A Berlin time; fold=1 picks the second of two repeated wall-clock times."""
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN, fold=fold)


def utc(t: datetime) -> datetime:
    """Compare and shift instants in UTC: within one tzinfo Python uses the wall clock."""
    return t.astimezone(UTC)


ONE_US = timedelta(microseconds=1)
H = timedelta(hours=1)
M = timedelta(minutes=1)


# --------------------------------------------------------------------------- reference examples


def test_expected_md_a104_working_time() -> None:
    assert working_time(REF, msk(2026, 11, 19, 10), msk(2026, 11, 20, 9, 5)) == 7 * H + 5 * M


def test_five_business_days_from_thursday() -> None:
    assert add_business_days(REF, msk(2026, 11, 19, 10), 5) == msk(2026, 11, 26, 10)


def test_unity_day_is_skipped() -> None:
    # 4 November 2026 is a Wednesday and a public holiday.
    assert not REF.is_working_day(date(2026, 11, 4))
    assert add_business_days(REF, msk(2026, 11, 3, 10), 1) == msk(2026, 11, 5, 10)
    assert working_time(REF, msk(2026, 11, 3, 9), msk(2026, 11, 5, 9)) == 8 * H
    assert add_working_time(REF, msk(2026, 11, 3, 17), 2 * H) == msk(2026, 11, 5, 10)


def test_new_year_holidays_2027() -> None:
    # 31 Dec 2026 is an explicit holiday; 1-8 Jan 2027 are public holidays; 9-10 Jan a weekend.
    assert add_business_days(REF, msk(2026, 12, 30, 10), 1) == msk(2027, 1, 11, 10)
    assert working_time(REF, msk(2026, 12, 30, 18), msk(2027, 1, 11, 9)) == timedelta(0)
    assert add_working_time(REF, msk(2026, 12, 30, 17), 2 * H) == msk(2027, 1, 11, 10)
    assert next_working_instant(REF, msk(2027, 1, 3, 12)) == msk(2027, 1, 11, 9)


def test_saturday_start_counts_from_monday_morning() -> None:
    saturday = msk(2026, 11, 21, 11)
    assert next_working_instant(REF, saturday) == msk(2026, 11, 23, 9)
    assert add_working_time(REF, saturday, H) == msk(2026, 11, 23, 10)
    assert add_business_days(REF, saturday, 0) == msk(2026, 11, 23, 9)
    assert add_business_days(REF, saturday, 1) == msk(2026, 11, 24, 9)
    assert working_time(REF, saturday, msk(2026, 11, 23, 9, 30)) == 30 * M


def test_lunch_start_counts_from_two_oclock() -> None:
    lunch = msk(2026, 11, 19, 13, 30)
    assert next_working_instant(REF, lunch) == msk(2026, 11, 19, 14)
    assert add_working_time(REF, lunch, H) == msk(2026, 11, 19, 15)
    assert add_business_days(REF, lunch, 1) == msk(2026, 11, 20, 14)
    assert working_time(REF, lunch, msk(2026, 11, 19, 14, 30)) == 30 * M


def test_amount_used_up_at_a_period_end_returns_that_end() -> None:
    assert add_working_time(REF, msk(2026, 11, 19, 9), 4 * H) == msk(2026, 11, 19, 13)
    assert add_working_time(REF, msk(2026, 11, 19, 9), 8 * H) == msk(2026, 11, 19, 18)
    assert add_working_time(REF, msk(2026, 11, 19, 10), 8 * H) == msk(2026, 11, 20, 10)
    assert add_working_time(REF, msk(2026, 11, 20, 9), 16 * H) == msk(2026, 11, 23, 18)


def test_zero_amount_returns_start_unchanged() -> None:
    saturday = msk(2026, 11, 21, 11)
    assert add_working_time(REF, saturday, timedelta(0)) == saturday


def test_next_working_instant_boundaries() -> None:
    assert next_working_instant(REF, msk(2026, 11, 19, 9)) == msk(2026, 11, 19, 9)
    assert next_working_instant(REF, msk(2026, 11, 19, 12, 59)) == msk(2026, 11, 19, 12, 59)
    assert next_working_instant(REF, msk(2026, 11, 19, 13)) == msk(2026, 11, 19, 14)
    assert next_working_instant(REF, msk(2026, 11, 19, 18)) == msk(2026, 11, 20, 9)
    assert next_working_instant(REF, msk(2026, 11, 20, 18)) == msk(2026, 11, 23, 9)
    assert next_working_instant(REF, msk(2026, 11, 19, 8, 59)) == msk(2026, 11, 19, 9)


def test_results_are_in_the_calendar_zone() -> None:
    start = datetime(2026, 11, 19, 7, 0, tzinfo=UTC)  # 10:00 in Moscow
    result = add_business_days(REF, start, 5)
    assert result.tzinfo is MOSCOW
    assert result == msk(2026, 11, 26, 10)
    assert add_working_time(REF, start, timedelta(0)).tzinfo is MOSCOW
    assert next_working_instant(REF, start).tzinfo is MOSCOW


def test_working_time_is_zero_for_empty_or_reversed_spans() -> None:
    t = msk(2026, 11, 19, 10)
    assert working_time(REF, t, t) == timedelta(0)
    assert working_time(REF, t, t - H) == timedelta(0)


def test_is_working_day() -> None:
    assert REF.is_working_day(date(2026, 11, 19))
    assert not REF.is_working_day(date(2026, 11, 21))  # Saturday
    assert not REF.is_working_day(date(2026, 12, 31))  # explicit holiday
    assert not REF.is_working_day(date(2027, 1, 5))  # New Year holidays
    # An aware datetime is read on the calendar's local date: Friday 22:00 UTC is Saturday here.
    assert not REF.is_working_day(datetime(2026, 11, 20, 22, 0, tzinfo=UTC))
    with pytest.raises(ValueError, match="timezone-aware"):
        REF.is_working_day(datetime(2026, 11, 20, 12, 0))


def test_transferred_saturday_is_a_working_day() -> None:
    # The holidays package lists Saturday 20 Feb 2027 as a working day in Russia
    # (its day off moves to Monday 22 Feb).
    assert REF.is_working_day(date(2027, 2, 20))
    assert not REF.is_working_day(date(2027, 2, 22))
    assert add_business_days(REF, msk(2027, 2, 19, 10), 1) == msk(2027, 2, 20, 10)


def test_extra_working_days_and_holidays_that_clash() -> None:
    spec = {
        "holidays": {"dates": ["2026-11-18"]},
        "extra_working_days": ["2026-11-21", "2026-11-18", date(2026, 11, 22)],
    }
    calendar = build_calendar("c", spec, MOSCOW)
    assert calendar.is_working_day(date(2026, 11, 21))  # Saturday made a working day
    assert calendar.is_working_day(date(2026, 11, 22))
    assert not calendar.is_working_day(date(2026, 11, 18))  # a holiday wins
    # Mon 16 .. Sun 22 Nov: Mon, Tue, Thu, Fri, Sat, Sun.
    assert working_time(calendar, msk(2026, 11, 16), msk(2026, 11, 23)) == 6 * 9 * H


def test_default_calendar_is_mon_to_fri_nine_to_six() -> None:
    calendar = build_calendar("default", {}, MOSCOW)
    assert calendar.workdays_per_week == 5
    assert calendar.working_seconds_per_week == 5 * 9 * 3600
    assert calendar.working_seconds_per_day == 9 * 3600
    # No holidays at all, so 4 November is a working day here.
    assert calendar.is_working_day(date(2026, 11, 4))


def test_sizes_of_the_reference_calendar() -> None:
    assert REF.workdays_per_week == 5
    assert REF.working_seconds_per_week == 40 * 3600


def test_a_range_may_end_at_midnight() -> None:
    calendar = build_calendar("late", {"hours": ["18:00-24:00"]}, MOSCOW)
    assert add_working_time(calendar, msk(2026, 11, 19, 18), 6 * H) == msk(2026, 11, 20, 0)
    assert working_time(calendar, msk(2026, 11, 19, 20), msk(2026, 11, 20, 20)) == 6 * H
    assert next_working_instant(calendar, msk(2026, 11, 19, 23, 59)) == msk(2026, 11, 19, 23, 59)


def test_microseconds_are_kept() -> None:
    start = msk(2026, 11, 19, 12, 59, 59, 999_999)
    assert working_time(REF, start, msk(2026, 11, 19, 14, 0, 0, 1)) == timedelta(microseconds=2)
    assert add_working_time(REF, start, timedelta(microseconds=2)) == msk(2026, 11, 19, 14, 0, 0, 1)


def test_naive_and_negative_inputs_are_refused() -> None:
    naive = datetime(2026, 11, 19, 10)
    aware = msk(2026, 11, 19, 10)
    for call in (
        lambda: working_time(REF, naive, aware),
        lambda: working_time(REF, aware, naive),
        lambda: add_working_time(REF, naive, H),
        lambda: add_business_days(REF, naive, 1),
        lambda: next_working_instant(REF, naive),
    ):
        with pytest.raises(ValueError, match="timezone-aware"):
            call()
    with pytest.raises(ValueError, match="negative"):
        add_working_time(REF, aware, -H)
    with pytest.raises(ValueError, match="negative"):
        add_business_days(REF, aware, -1)


def test_long_spans_cost_a_few_day_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    original = BusinessCalendar._count_working_days

    def counting(self: BusinessCalendar, first: date, stop: date) -> int:
        calls["n"] += 1
        return original(self, first, stop)

    monkeypatch.setattr(BusinessCalendar, "_count_working_days", counting)
    start = msk(2026, 11, 19, 10)
    add_business_days(REF, start, 500)
    add_working_time(REF, start, 4000 * H)
    working_time(REF, start, msk(2028, 11, 19, 10))
    # A binary search over a two-year range, not a walk over its ~730 days.
    assert calls["n"] < 60


def test_holiday_years_are_loaded_on_demand() -> None:
    calendar = build_calendar("far", {"holidays": {"country": "RU"}}, MOSCOW)
    assert 2061 not in calendar._years
    assert not calendar.is_working_day(date(2061, 11, 4))
    assert 2061 in calendar._years


# --------------------------------------------------------------------------- daylight saving


def test_office_hours_across_spring_forward() -> None:
    friday = ber(2026, 3, 27, 9)
    monday = ber(2026, 3, 30, 9)
    assert friday.utcoffset() == H and monday.utcoffset() == 2 * H
    assert working_time(OFFICE, friday, monday) == 8 * H
    assert add_working_time(OFFICE, ber(2026, 3, 27, 16), 2 * H) == ber(2026, 3, 30, 10)
    assert add_business_days(OFFICE, ber(2026, 3, 27, 10), 1) == ber(2026, 3, 30, 10)


def test_office_hours_across_fall_back() -> None:
    assert working_time(OFFICE, ber(2026, 10, 23, 9), ber(2026, 10, 26, 9)) == 8 * H
    assert add_business_days(OFFICE, ber(2026, 10, 23, 16), 1) == ber(2026, 10, 26, 16)
    assert add_working_time(OFFICE, ber(2026, 10, 23, 16, 30), H) == ber(2026, 10, 26, 9, 30)


def test_night_period_counts_its_clock_length_on_spring_forward() -> None:
    # 00:00-06:00 on 29 March 2026 is five physical hours but six on the clock.
    assert working_time(NIGHT, ber(2026, 3, 29, 0), ber(2026, 3, 29, 6)) == 6 * H
    assert working_time(NIGHT, ber(2026, 3, 29, 1), ber(2026, 3, 29, 3)) == 2 * H
    # The clock reads 02:30 never; the amount is used up at the jump.
    assert add_working_time(NIGHT, ber(2026, 3, 29, 0), 2 * H + 30 * M) == SPRING_JUMP
    assert add_working_time(NIGHT, ber(2026, 3, 29, 0), 3 * H + 30 * M) == ber(2026, 3, 29, 3, 30)
    assert next_working_instant(NIGHT, ber(2026, 3, 29, 3)) == ber(2026, 3, 29, 3)


def test_night_period_counts_its_clock_length_on_fall_back() -> None:
    # 00:00-06:00 on 25 October 2026 is seven physical hours but six on the clock.
    assert working_time(NIGHT, ber(2026, 10, 25, 0), ber(2026, 10, 25, 6)) == 6 * H
    first_pass = ber(2026, 10, 25, 2, 30)
    second_pass = ber(2026, 10, 25, 2, 30, fold=1)
    assert second_pass.astimezone(UTC) - first_pass.astimezone(UTC) == H
    # The repeated hour counts once: the clock stands still during its second pass.
    assert working_time(NIGHT, first_pass, second_pass) == 30 * M
    assert working_time(NIGHT, second_pass, ber(2026, 10, 25, 2, 45, fold=1)) == timedelta(0)
    assert working_time(NIGHT, second_pass, ber(2026, 10, 25, 3, 30)) == 30 * M
    assert utc(add_working_time(NIGHT, ber(2026, 10, 25, 0), 2 * H + 30 * M)) == utc(first_pass)
    # PEP 495: a time in the fold never equals one in another zone, so compare in UTC.
    assert utc(add_working_time(NIGHT, ber(2026, 10, 25, 0), 3 * H)) == AUTUMN_JUMP
    assert add_working_time(NIGHT, second_pass, 30 * M) == ber(2026, 10, 25, 3, 30)
    assert utc(next_working_instant(NIGHT, second_pass)) == utc(second_pass)


def test_night_business_day_across_dst() -> None:
    assert add_business_days(NIGHT, ber(2026, 3, 28, 2, 30), 1) == SPRING_JUMP
    result = add_business_days(NIGHT, ber(2026, 10, 24, 2, 30), 1)
    assert utc(result) == utc(ber(2026, 10, 25, 2, 30))  # the first of the two 02:30s


# --------------------------------------------------------------------------- brute force


@functools.cache
def _ru_year(year: int) -> tuple[frozenset[date], frozenset[date]]:
    table = holidays.country_holidays("RU", years=year)
    return frozenset(table), frozenset(table.weekend_workdays)


def _brute_is_working(day: date) -> bool:
    days_off, transferred = _ru_year(day.year)
    if day in days_off or day == date(2026, 12, 31):
        return False
    return day.weekday() < 5 or day in transferred


REF_MINUTES = ((9 * 60, 13 * 60), (14 * 60, 18 * 60))


def brute_working_minutes(
    start_wall: datetime,
    end_wall: datetime,
    periods: tuple[tuple[int, int], ...] = REF_MINUTES,
    is_working: Callable[[date], bool] = _brute_is_working,
) -> int:
    """Count working minutes in [start, end) one local wall-clock minute at a time."""
    base = datetime.combine(start_wall.date(), time())
    first = int((start_wall - base).total_seconds()) // 60
    last = int((end_wall - base).total_seconds()) // 60
    ordinal = base.toordinal()
    status: dict[int, bool] = {}
    worked = 0
    for minute in range(first, last):
        day, clock = divmod(minute, 1440)
        if day not in status:
            status[day] = is_working(date.fromordinal(ordinal + day))
        if status[day] and any(lo <= clock < hi for lo, hi in periods):
            worked += 1
    return worked


def test_two_year_span_matches_brute_force() -> None:
    start, end = datetime(2025, 12, 15, 11, 17), datetime(2027, 12, 20, 16, 3)
    expected = brute_working_minutes(start, end)
    got = working_time(REF, start.replace(tzinfo=MOSCOW), end.replace(tzinfo=MOSCOW))
    assert got == timedelta(minutes=expected)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_spans_match_brute_force(seed: int) -> None:
    rng = random.Random(seed)
    origin = datetime(2025, 1, 1)
    start = origin + timedelta(minutes=rng.randrange(3 * 365 * 1440))
    end = start + timedelta(minutes=rng.randrange(1, 2 * 365 * 1440))
    expected = brute_working_minutes(start, end)
    start_at, end_at = start.replace(tzinfo=MOSCOW), end.replace(tzinfo=MOSCOW)
    assert working_time(REF, start_at, end_at) == timedelta(minutes=expected)
    assert add_working_time(REF, start_at, timedelta(minutes=expected)) <= end_at


def test_night_calendar_across_both_clock_changes_matches_brute_force() -> None:
    # Walking the wall clock minute by minute is exactly "working time is clock length".
    start, end = datetime(2026, 3, 20, 4, 13), datetime(2026, 11, 5, 23, 1)
    expected = brute_working_minutes(start, end, ((0, 360), (1320, 1440)), lambda _: True)
    got = working_time(NIGHT, start.replace(tzinfo=BERLIN), end.replace(tzinfo=BERLIN))
    assert got == timedelta(minutes=expected)


# --------------------------------------------------------------------------- properties


def _instants(tz: ZoneInfo) -> st.SearchStrategy[datetime]:
    anywhere = st.datetimes(
        min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
    )
    # Weight the clock changes and the New Year holidays, where mistakes would hide.
    hotspots = st.sampled_from(
        [
            SPRING_JUMP,
            AUTUMN_JUMP,
            datetime(2027, 1, 1, tzinfo=UTC),
            datetime(2026, 11, 4, tzinfo=UTC),
        ]
    )
    near = st.tuples(hotspots, st.timedeltas(min_value=-4 * 24 * H, max_value=4 * 24 * H))
    return st.one_of(anywhere, near.map(lambda pair: pair[0] + pair[1])).map(
        lambda t: t.astimezone(tz)
    )


AMOUNTS = st.one_of(
    st.timedeltas(min_value=timedelta(microseconds=1), max_value=12 * H),
    st.timedeltas(min_value=timedelta(microseconds=1), max_value=2000 * H),
)
CALENDARS = [REF, OFFICE, NIGHT]


REF_PERIODS = ((time(9), time(13)), (time(14), time(18)))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([REF, OFFICE]), st.data(), AMOUNTS)
def test_round_trip(calendar: BusinessCalendar, data: st.DataObject, amount: timedelta) -> None:
    start = data.draw(_instants(calendar.tz))
    end = add_working_time(calendar, start, amount)
    assert working_time(calendar, start, end) == amount
    # And `end` is the earliest such instant.
    assert working_time(calendar, start, utc(end) - ONE_US) < amount


def _is_spring_jump(t: datetime) -> bool:
    just_before = (utc(t) - ONE_US).astimezone(t.tzinfo)
    return t.utcoffset() > just_before.utcoffset()  # type: ignore[operator]


@settings(max_examples=300, deadline=None)
@given(st.data(), AMOUNTS)
def test_round_trip_on_the_night_calendar(data: st.DataObject, amount: timedelta) -> None:
    start = data.draw(_instants(BERLIN))
    end = add_working_time(NIGHT, start, amount)
    counted = working_time(NIGHT, start, end)
    # Exact, except when the amount runs out inside the clock hour skipped in spring:
    # then the result is the jump, by which the clock has already passed the target.
    assert counted == amount or (_is_spring_jump(end) and amount < counted <= amount + H)
    assert working_time(NIGHT, start, utc(end) - ONE_US) < amount


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(CALENDARS), st.data())
def test_working_time_is_additive(calendar: BusinessCalendar, data: st.DataObject) -> None:
    a, b, c = sorted(data.draw(st.lists(_instants(calendar.tz), min_size=3, max_size=3)))
    assert (working_time(calendar, a, b) + working_time(calendar, b, c)
            == working_time(calendar, a, c))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([REF, OFFICE]), st.data(), st.integers(min_value=0, max_value=300))
def test_business_days_land_on_working_time(
    calendar: BusinessCalendar, data: st.DataObject, days: int
) -> None:
    start = data.draw(_instants(calendar.tz))
    result = add_business_days(calendar, start, days)
    assert calendar.is_working_day(result.date())
    assert utc(next_working_instant(calendar, result)) == utc(result)  # inside a period
    assert utc(result) >= utc(start)
    begin = next_working_instant(calendar, start)
    per_day = timedelta(seconds=calendar.working_seconds_per_day)
    assert working_time(calendar, begin, result) == days * per_day


@settings(max_examples=300, deadline=None)
@given(st.data(), AMOUNTS)
def test_results_never_fall_on_days_off_or_at_lunch(data: st.DataObject, amount: timedelta) -> None:
    start = data.draw(_instants(MOSCOW))
    end = add_working_time(REF, start, amount)
    clock = end.timetz().replace(tzinfo=None)
    assert REF.is_working_day(end.date())
    assert any(lo < clock <= hi for lo, hi in REF_PERIODS)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(CALENDARS), st.data())
def test_next_working_instant_is_idempotent(
    calendar: BusinessCalendar, data: st.DataObject
) -> None:
    t = data.draw(_instants(calendar.tz))
    nxt = next_working_instant(calendar, t)
    assert utc(nxt) >= utc(t)
    assert utc(next_working_instant(calendar, nxt)) == utc(nxt)
    assert working_time(calendar, t, nxt) == timedelta(0)


# --------------------------------------------------------------------------- validation


def test_reference_spec_is_valid() -> None:
    assert calendar_problems(REFERENCE_SPEC) == []


@pytest.mark.parametrize("path", sorted(Path(__file__).parent.parent.glob("rulesets/*.yaml")))
def test_shipped_rulesets_have_valid_calendars(path: Path) -> None:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    zone = ZoneInfo(document.get("timezone", "UTC"))
    for name, spec in (document.get("calendars") or {}).items():
        assert calendar_problems(spec) == []
        build_calendar(name, spec, zone)


def _problems(spec: object) -> list[tuple[str, str]]:
    return [(p.key, str(p)) for p in calendar_problems(spec)]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("spec", "key", "fragment"),
    [
        ({"week": ["mon", "tuee"]}, "week/1", "did you mean 'tue'"),
        ({"week": ["mon", 3]}, "week/1", "expected a day name"),
        ({"week": ["mon", "Mon"]}, "week/1", "listed twice"),
        ({"week": []}, "week", "no working days"),
        ({"week": "mon-fri"}, "week", "must be a list"),
        ({"hours": ["9-18"]}, "hours/0", "expected a range like"),
        ({"hours": ["09:00-13:00", "25:00-26:00"]}, "hours/1", "not a valid HH:MM"),
        ({"hours": ["09:60-13:00"]}, "hours/0", "not a valid HH:MM"),
        ({"hours": ["24:00-24:00"]}, "hours/0", "not a valid HH:MM"),
        ({"hours": ["09:00-24:30"]}, "hours/0", "not a valid HH:MM"),
        ({"hours": ["18:00-09:00"]}, "hours/0", "ends before it starts"),
        ({"hours": ["09:00-09:00"]}, "hours/0", "ends before it starts"),
        ({"hours": ["09:00-13:00", "12:00-18:00"]}, "hours/1", "overlaps"),
        ({"hours": ["14:00-18:00", "09:00-13:00"]}, "hours/1", "comes before"),
        ({"hours": []}, "hours", "non-empty list"),
        ({"holidays": {"country": "RX"}}, "holidays/country", "not supported"),
        ({"holidays": {"country": "Russia"}}, "holidays/country", "did you mean 'RU'"),
        ({"holidays": {"country": 7}}, "holidays/country", "country code"),
        (
            {"holidays": {"country": "US", "subdiv": "Californa"}},
            "holidays/subdiv",
            "did you mean 'California'",
        ),
        ({"holidays": {"country": "RU", "subdiv": "MOW"}}, "holidays/subdiv", "no subdivisions"),
        ({"holidays": {"subdiv": "CA"}}, "holidays/subdiv", "needs a 'country'"),
        ({"holidays": {"dates": ["2026-13-01"]}}, "holidays/dates/0", "not a real date"),
        ({"holidays": {"dates": ["2026-12-31", "31.12.2026"]}}, "holidays/dates/1", "YYYY-MM-DD"),
        ({"holidays": {"dates": [datetime(2026, 12, 31, 10)]}}, "holidays/dates/0", "YYYY-MM-DD"),
        ({"holidays": {"dates": "2026-12-31"}}, "holidays/dates", "list of dates"),
        ({"holidays": ["2026-12-31"]}, "holidays", "must be a mapping"),
        ({"holidays": {"contry": "RU"}}, "holidays/contry", "did you mean 'country'"),
        ({"extra_working_days": ["tomorrow"]}, "extra_working_days/0", "YYYY-MM-DD"),
        ({"hollidays": {}}, "hollidays", "did you mean 'holidays'"),
        (["mon"], "", "must be a mapping"),
    ],
)
def test_problems_name_their_place(spec: object, key: str, fragment: str) -> None:
    found = _problems(spec)
    assert any(k == key and fragment in message for k, message in found), found


def test_every_problem_is_reported() -> None:
    spec = {
        "week": ["mon", "tuee"],
        "hours": ["09:00-13:00", "12:00-18:00"],
        "holidays": {"country": "RX", "dates": ["nope"]},
        "extra_working_days": ["2026-02-30"],
    }
    keys = [key for key, _ in _problems(spec)]
    assert keys == [
        "week/1",
        "hours/1",
        "holidays/country",
        "holidays/dates/0",
        "extra_working_days/0",
    ]


def test_build_raises_the_first_problem() -> None:
    with pytest.raises(CalendarError) as err:
        build_calendar("bad", {"week": ["mon", "tuee"], "hours": ["x"]}, MOSCOW)
    assert err.value.key == "week/1"
    assert isinstance(err.value, ValueError)


def test_lower_case_country_and_full_day_names_are_accepted() -> None:
    calendar = build_calendar(
        "c", {"week": ["Monday", "tue"], "holidays": {"country": "ru"}}, MOSCOW
    )
    assert calendar.country == "RU"
    assert calendar.week == frozenset({0, 1})


def test_calendar_is_frozen_and_hashable() -> None:
    with pytest.raises(AttributeError):
        REF.name = "other"  # type: ignore[misc]
    assert hash(REF) == hash(build_calendar("workdays", REFERENCE_SPEC, MOSCOW))
    assert build_calendar("workdays", REFERENCE_SPEC, MOSCOW) == REF
