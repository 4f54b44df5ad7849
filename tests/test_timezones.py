"""Tests for pipeline_rules.time.timezones."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from pipeline_rules.time.timezones import TimezoneError, get_zone


@pytest.mark.parametrize("name", ["UTC", "Europe/Moscow", "Europe/Berlin", "America/New_York"])
def test_known_zones_load(name: str) -> None:
    zone = get_zone(name)
    assert isinstance(zone, ZoneInfo)
    assert zone.key == name


def test_zones_are_cached() -> None:
    assert get_zone("Europe/Moscow") is get_zone("Europe/Moscow")


def test_misspelling_gets_a_suggestion() -> None:
    with pytest.raises(TimezoneError) as err:
        get_zone("Europe/Moskow")
    assert "unknown time zone 'Europe/Moskow'" in str(err.value)
    assert "did you mean 'Europe/Moscow'?" in str(err.value)


def test_wrong_case_suggests_the_canonical_name() -> None:
    with pytest.raises(TimezoneError, match="did you mean 'Europe/Moscow'"):
        get_zone("europe/moscow")


def test_far_off_name_has_no_suggestion() -> None:
    with pytest.raises(TimezoneError) as err:
        get_zone("Qwxz/Plmk")
    assert "did you mean" not in str(err.value)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "   ",
        "../etc/passwd",
        "/etc/localtime",
        "Europe/../Europe/Moscow",
        "Europe",
        "Europe//Moscow",
        "+03:00",
        "Moscow time",
        "Europe/Moscow\x00",
    ],
)
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(TimezoneError):
        get_zone(name)


@pytest.mark.parametrize("value", [None, 3, ["UTC"], {"zone": "UTC"}])
def test_non_strings_are_refused(value: object) -> None:
    with pytest.raises(TimezoneError, match="expected a time zone name"):
        get_zone(value)  # type: ignore[arg-type]


def test_error_is_a_value_error() -> None:
    assert issubclass(TimezoneError, ValueError)
