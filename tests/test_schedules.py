"""Tests for pipeline_rules.time.schedules."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from pipeline_rules.time.schedules import CronError, CronSchedule, parse_cron

MOSCOW = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")


def test_reference_schedule_next_run() -> None:
    schedule = parse_cron("*/15 8-19 * * mon-fri", MOSCOW)
    assert schedule == CronSchedule("*/15 8-19 * * mon-fri", MOSCOW)
    now = datetime(2026, 11, 20, 9, 5, tzinfo=MOSCOW)
    assert schedule.next_run(now) == datetime(2026, 11, 20, 9, 15, tzinfo=MOSCOW)


def test_next_run_is_strictly_after() -> None:
    schedule = parse_cron("*/15 8-19 * * mon-fri", MOSCOW)
    at_run = datetime(2026, 11, 20, 9, 15, tzinfo=MOSCOW)
    assert schedule.next_run(at_run) == datetime(2026, 11, 20, 9, 30, tzinfo=MOSCOW)
    just_before = datetime(2026, 11, 20, 9, 14, 59, 999999, tzinfo=MOSCOW)
    assert schedule.next_run(just_before) == at_run


def test_friday_evening_rolls_to_monday() -> None:
    schedule = parse_cron("*/15 8-19 * * mon-fri", MOSCOW)
    result = schedule.next_run(datetime(2026, 11, 20, 19, 50, tzinfo=MOSCOW))
    assert result == datetime(2026, 11, 23, 8, 0, tzinfo=MOSCOW)


def test_result_is_in_the_schedule_zone_whatever_the_input_zone() -> None:
    schedule = parse_cron("*/15 8-19 * * mon-fri", MOSCOW)
    result = schedule.next_run(datetime(2026, 11, 20, 6, 5, tzinfo=UTC))
    assert result.tzinfo is MOSCOW
    assert (result.hour, result.minute) == (9, 15)


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_cron("* * * * *", MOSCOW).next_run(datetime(2026, 11, 20, 9, 5))


def test_spring_forward_fires_after_the_jump() -> None:
    # 02:30 does not exist on 29 March 2026 in Berlin; croniter fires at 03:00 CEST instead.
    schedule = parse_cron("30 2 * * *", BERLIN)
    first = schedule.next_run(datetime(2026, 3, 28, 12, 0, tzinfo=BERLIN))
    assert first.isoformat() == "2026-03-29T03:00:00+02:00"
    assert schedule.next_run(first).isoformat() == "2026-03-30T02:30:00+02:00"


def test_fall_back_fires_twice() -> None:
    # 02:30 happens twice on 25 October 2026 in Berlin; croniter fires for both offsets.
    schedule = parse_cron("30 2 * * *", BERLIN)
    first = schedule.next_run(datetime(2026, 10, 24, 12, 0, tzinfo=BERLIN))
    second = schedule.next_run(first)
    third = schedule.next_run(second)
    assert first.isoformat() == "2026-10-25T02:30:00+02:00"
    assert second.isoformat() == "2026-10-25T02:30:00+01:00"
    assert (second.astimezone(UTC) - first.astimezone(UTC)).total_seconds() == 3600
    assert third.isoformat() == "2026-10-26T02:30:00+01:00"


def test_fall_back_quarter_hours_keep_going_through_the_repeated_hour() -> None:
    schedule = parse_cron("*/15 * * * *", BERLIN)
    t = datetime(2026, 10, 25, 0, 40, tzinfo=UTC)  # 02:40 CEST
    seen = []
    for _ in range(6):
        t = schedule.next_run(t)
        seen.append(t.isoformat())
    assert seen == [
        "2026-10-25T02:45:00+02:00",
        "2026-10-25T02:00:00+01:00",
        "2026-10-25T02:15:00+01:00",
        "2026-10-25T02:30:00+01:00",
        "2026-10-25T02:45:00+01:00",
        "2026-10-25T03:00:00+01:00",
    ]


def test_extra_spaces_are_tolerated_and_kept() -> None:
    schedule = parse_cron("0  9 * *  mon", MOSCOW)
    assert schedule.expr == "0  9 * *  mon"
    assert schedule.next_run(datetime(2026, 11, 20, tzinfo=MOSCOW)) == datetime(
        2026, 11, 23, 9, 0, tzinfo=MOSCOW
    )


@pytest.mark.parametrize(
    ("expr", "fragment"),
    [
        ("61 * * * *", "minute field '61'"),
        ("0 25 * * *", "hour field '25'"),
        ("0 0 * 13 *", "month field '13'"),
        ("0 0 * * 8", "day-of-week field '8'"),
        ("H H * * *", "hashed 'H' values are not supported"),
        ("0 0 31 2 *", "never fire"),
        ("0 0 30 2 *", "never fire"),
        ("0 0 31 4,6 *", "never fire"),
        ("* * *", "expected 5 fields"),
        ("", "expected 5 fields"),
        ("@daily", "expected 5 fields"),
        ("* * * * * *", "seconds and year fields are not supported"),
        ("0 0 1 1 * 2027", "seconds and year fields are not supported"),
        ("* * * * foo", "day-of-week field 'foo'"),
        ("*/0 * * * *", "minute field '*/0'"),
    ],
)
def test_invalid_expressions(expr: str, fragment: str) -> None:
    with pytest.raises(CronError) as err:
        parse_cron(expr, MOSCOW)
    assert fragment in str(err.value)
    assert "Traceback" not in str(err.value)


@pytest.mark.parametrize("value", [None, 15, ["*/15", "*", "*", "*", "*"]])
def test_non_strings_are_refused(value: object) -> None:
    with pytest.raises(CronError, match="expected a cron expression string"):
        parse_cron(value, MOSCOW)


def test_leap_day_is_valid() -> None:
    schedule = parse_cron("0 0 29 2 *", MOSCOW)
    assert schedule.next_run(datetime(2026, 1, 1, tzinfo=MOSCOW)).date().isoformat() == "2028-02-29"


def test_cron_error_is_a_value_error() -> None:
    assert issubclass(CronError, ValueError)


@pytest.mark.parametrize("expr", ["*/15 8-19 * * mon-fri", "30 2 * * *", "0 9 1 * *"])
def test_a_reused_cursor_finds_the_runs_a_fresh_parse_finds(expr: str) -> None:
    """One croniter moved from instant to instant (as a tick's runs share it) gives the next
    run a fresh parse gives, across both clock changes of the year, in any order of instants."""
    import random
    from datetime import timedelta

    tz = ZoneInfo("Europe/Berlin")
    schedule = parse_cron(expr, tz)
    cursor = schedule.cursor()
    rng = random.Random(5)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    instants = [start + timedelta(minutes=rng.randrange(366 * 24 * 60)) for _ in range(400)]
    instants += [datetime(2026, 3, 29, 0, 59, tzinfo=UTC), datetime(2026, 10, 25, 0, 30,
                                                                     tzinfo=UTC)]
    for moment in instants:
        assert schedule.next_run(moment, cursor) == schedule.next_run(moment)
        assert schedule.previous_run(moment, cursor) == schedule.previous_run(moment)


def test_runs_sharing_a_schedule_find_the_next_run_a_fresh_look_up_finds() -> None:
    """A tick's runs remember the stretch between two scheduled runs (RunShare): the next run
    of every instant, in order as a tick's wakes come and shuffled, across both clock changes
    and a weekend, is the one a fresh look-up finds."""
    import random
    from datetime import timedelta

    from pipeline_rules.evaluate.context import RunShare

    schedule = parse_cron("*/15 8-19 * * mon-fri", ZoneInfo("Europe/Berlin"))
    rng = random.Random(3)
    starts = [datetime(2026, 3, 27, 18, tzinfo=UTC), datetime(2026, 10, 23, 18, tzinfo=UTC)]
    ordered = sorted(start + timedelta(seconds=rng.randrange(4 * 86400))
                     for start in starts for _ in range(300))
    shuffled = rng.sample(ordered, len(ordered))
    for instants in (ordered, shuffled):
        share = RunShare()
        for moment in instants:
            assert share.next_run(schedule, moment) == schedule.next_run(moment)
        # Runs at the boundaries: a scheduled run itself, and the instant just before one.
        run = schedule.next_run(instants[0])
        assert share.next_run(schedule, run) == schedule.next_run(run)
        before = run - timedelta(microseconds=1)
        assert share.next_run(schedule, before) == run


def test_runs_before_remembered_as_stretches_match_a_fresh_look_up() -> None:
    """The last scheduled run before an instant, remembered as the stretch it holds for
    (RunsBefore), is the one a fresh look-up finds: instants in order and shuffled, across both
    clock changes and a weekend, and at a run itself and a microsecond either side of it."""
    import random
    from datetime import timedelta

    from pipeline_rules.evaluate.context import RunsBefore

    schedule = parse_cron("*/15 8-19 * * mon-fri", ZoneInfo("Europe/Berlin"))
    rng = random.Random(5)
    starts = [datetime(2026, 3, 27, 18, tzinfo=UTC), datetime(2026, 10, 23, 18, tzinfo=UTC)]
    ordered = sorted(start + timedelta(seconds=rng.randrange(4 * 86400))
                     for start in starts for _ in range(300))
    run = schedule.next_run(ordered[0])
    edges = [run, run - timedelta(microseconds=1), run + timedelta(microseconds=1)]
    hits = 0
    for instants in (ordered + edges, rng.sample(ordered, len(ordered)) + edges):
        known = RunsBefore()
        for moment in instants:
            expected = schedule.previous_run(moment)
            found = known.get(moment)
            if found is None:
                known.add(moment, expected)
            else:
                hits += 1
                assert found == expected, moment
    assert hits > 300  # most instants were answered from a stretch, not looked up
