"""Tests for pipeline_rules.time.durations."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline_rules.time.durations import (
    Duration,
    DurationError,
    DurationKind,
    format_seconds,
    parse_duration,
)

WALL = DurationKind.WALL
DAYS = DurationKind.BUSINESS_DAYS
TIME = DurationKind.BUSINESS_TIME


@pytest.mark.parametrize(
    ("text", "kind", "amount"),
    [
        ("30m", WALL, 1800),
        ("2h", WALL, 7200),
        ("7d", WALL, 7 * 86400),
        ("1w", WALL, 7 * 86400),
        ("1d12h", WALL, 36 * 3600),
        ("1d 12h", WALL, 36 * 3600),
        ("90m", WALL, 5400),
        ("45s", WALL, 45),
        ("1w2d3h4m5s", WALL, 9 * 86400 + 3 * 3600 + 4 * 60 + 5),
        ("0m", WALL, 0),
        ("  2H  ", WALL, 7200),
        ("1D12H", WALL, 36 * 3600),
        ("5 business days", DAYS, 5),
        ("1 business day", DAYS, 1),
        ("5  Business  Days", DAYS, 5),
        ("8 business hours", TIME, 8 * 3600),
        ("1 business hour", TIME, 3600),
        ("30 business minutes", TIME, 1800),
        ("5 рабочих дней", DAYS, 5),
        ("1 рабочий день", DAYS, 1),
        ("2 рабочих дня", DAYS, 2),
        ("8 рабочих часов", TIME, 8 * 3600),
        ("1 рабочий час", TIME, 3600),
        ("2 рабочих часа", TIME, 7200),
        ("1 РАБОЧИЙ ДЕНЬ", DAYS, 1),
        ("0 business days", DAYS, 0),
    ],
)
def test_accepted_forms(text: str, kind: DurationKind, amount: int) -> None:
    assert parse_duration(text) == Duration(kind, amount, text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "m",
        "30",
        "30 m",
        "12h1d",
        "1d1d",
        "1h 1h",
        "1.5h",
        "-1h",
        "+1h",
        "1y",
        "two days",
        "5 business weeks",
        "business days",
        "5business days",
        "5 рабочих недель",
        "٣d",  # non-ASCII digits are not numbers here
        "1d,12h",
    ],
)
def test_rejected_forms(text: str) -> None:
    with pytest.raises(DurationError) as err:
        parse_duration(text)
    message = str(err.value)
    assert repr(text) in message or f"'{text}'" in message
    assert "5 business days" in message  # lists the accepted forms


@pytest.mark.parametrize("value", [7, 7.5, None, ["7d"], b"7d", True])
def test_non_strings_are_refused(value: object) -> None:
    with pytest.raises(DurationError, match="expected a duration string like '7d'"):
        parse_duration(value)


@pytest.mark.parametrize(
    "text",
    [
        "36526d",
        "5300w",
        "99999999999999999999999999m",
        "36526 business days",
        "876601 business hours",
    ],
)
def test_absurd_lengths_are_refused(text: str) -> None:
    with pytest.raises(DurationError, match="longer than 100 years"):
        parse_duration(text)


def test_hundred_years_is_the_limit() -> None:
    assert parse_duration("36525d").amount == 36525 * 86400


def test_is_business() -> None:
    assert not parse_duration("7d").is_business
    assert parse_duration("5 business days").is_business
    assert parse_duration("8 business hours").is_business


def test_nominal_seconds() -> None:
    assert parse_duration("7d").nominal_seconds() == 7 * 86400
    assert parse_duration("5 business days").nominal_seconds() == 7 * 86400
    assert parse_duration("6 business days").nominal_seconds(workdays_per_week=6) == 7 * 86400
    assert parse_duration("40 business hours").nominal_seconds() == 7 * 86400
    assert (
        parse_duration("20 business hours").nominal_seconds(working_seconds_per_week=20 * 3600)
        == 7 * 86400
    )
    with pytest.raises(ValueError, match="positive"):
        parse_duration("1 business day").nominal_seconds(workdays_per_week=0)


def test_as_timedelta() -> None:
    assert parse_duration("1d12h").as_timedelta() == timedelta(hours=36)
    assert parse_duration("8 business hours").as_timedelta() == timedelta(hours=8)
    with pytest.raises(ValueError, match="business days"):
        parse_duration("2 business days").as_timedelta()


def test_duration_is_frozen() -> None:
    duration = parse_duration("1h")
    with pytest.raises(AttributeError):
        duration.amount = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (93784, "1d2h"),
        (5400, "1h30m"),
        (600, "10m"),
        (0, "0m"),
        (60, "1m"),
        (20, "<1m"),
        (30, "1m"),
        (3600, "1h"),
        (86400, "1d"),
        (604800, "1w"),
        (1209600, "2w"),
        (8 * 86400, "8d"),
        (7 * 86400 + 3600, "7d1h"),
        (86399, "1d"),  # 23h59m59s rounds up into a day
        (86369, "23h59m"),
        (2 * 86400 - 60, "2d"),
        (45 * 86400, "45d"),
        (5400.4, "1h30m"),
        (-5400, "-1h30m"),
    ],
)
def test_format_seconds(seconds: float, text: str) -> None:
    assert format_seconds(seconds) == text


def test_format_seconds_rejects_non_finite() -> None:
    with pytest.raises(ValueError):
        format_seconds(float("nan"))


@given(st.integers(min_value=0, max_value=10**9))
def test_format_seconds_shape(seconds: int) -> None:
    text = format_seconds(seconds)
    units = [c for c in text if c.isalpha()]
    assert 1 <= len(units) <= 2
    if text not in ("0m", "<1m"):
        parsed = parse_duration(text).amount
        # Rounded to minutes, then to the smaller unit shown: off by at most half of each.
        assert abs(parsed - seconds) <= max(30, min(1830, seconds // 2))


@given(st.integers(0, 20), st.integers(0, 6), st.integers(0, 23), st.integers(0, 59), st.booleans())
def test_wall_parts_add_up(w: int, d: int, h: int, m: int, spaced: bool) -> None:
    parts = [f"{n}{u}" for n, u in ((w, "w"), (d, "d"), (h, "h"), (m, "m")) if n]
    text = (" " if spaced else "").join(parts) or "0m"
    assert parse_duration(text).amount == ((w * 7 + d) * 24 + h) * 3600 + m * 60


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("7 days", 7 * 86400),
        ("1 day", 86400),
        ("2 hours", 7200),
        ("1 Week", 604800),
        ("30 minutes", 1800),
        ("7 дней", 7 * 86400),
        ("2 часа", 7200),
        ("1 неделя", 604800),
        ("30 минут", 1800),
    ],
)
def test_one_spelled_out_unit_is_wall_clock_time(text: str, seconds: int) -> None:
    duration = parse_duration(text)
    assert duration.kind is DurationKind.WALL
    assert duration.amount == seconds


@pytest.mark.parametrize("text", ["7 daze", "7days", "1 day 12 hours", "2 hour s"])
def test_spelled_out_forms_are_strict(text: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)
