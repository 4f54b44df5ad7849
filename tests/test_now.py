"""Tests for pipeline_rules.time.now: the one reader of an evaluation time, and its users."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from pipeline_rules.cli import main
from pipeline_rules.deals.decode import parse_time
from pipeline_rules.deals.model import DealError
from pipeline_rules.time.now import NowError, parse_iso, parse_now

ROOT = Path(__file__).parent.parent
MOSCOW = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-20T09:05:00+03:00", "2026-11-20T09:05:00+03:00"),
    ("2026-11-20T09:05:00Z", "2026-11-20T09:05:00+00:00"),
    ("  2026-11-20T09:05:00+03:00 ", "2026-11-20T09:05:00+03:00"),
    # Without an offset: the zone's wall clock, carried in UTC.
    ("2026-11-20T09:05", "2026-11-20T06:05:00+00:00"),
    ("2026-11-20 09:05:00", "2026-11-20T06:05:00+00:00"),
    ("2026-11-20", "2026-11-19T21:00:00+00:00"),
    ("20261120T0905", "2026-11-20T06:05:00+00:00"),
    # msgspec rounds a seventh fractional digit where fromisoformat would cut it.
    ("2026-11-20T09:05:00.1234567+03:00", "2026-11-20T09:05:00.123457+03:00"),
    ("2999-12-31T23:59:59-12:00", "2999-12-31T23:59:59-12:00"),
])
def test_accepted_forms(text: str, expected: str) -> None:
    found = parse_now(text, MOSCOW, "--now")
    assert found.isoformat() == expected
    assert found.utcoffset() is not None


@pytest.mark.parametrize(("text", "message"), [
    ("yesterday", "'yesterday' is not an ISO 8601 time (e.g. 2026-11-20T09:05:00+03:00)"),
    ("", "'' is not an ISO 8601 time (e.g. 2026-11-20T09:05:00+03:00)"),
    ("2026-02-30", "'2026-02-30' is not an ISO 8601 time (e.g. 2026-11-20T09:05:00+03:00)"),
    ("1899-12-31T23:00:00+00:00", "'1899-12-31T23:00:00+00:00' is outside the years 1900-2999"),
    ("9999-12-31T23:59:59-05:00", "'9999-12-31T23:59:59-05:00' is outside the years 1900-2999"),
    ("0001-01-01", "'0001-01-01' is outside the years 1900-2999"),
])
def test_refused_forms_name_where_they_came_from(text: str, message: str) -> None:
    with pytest.raises(NowError) as caught:
        parse_now(text, MOSCOW, "--from")
    assert caught.value.message == message
    assert caught.value.where == "--from"
    assert str(caught.value) == f"--from: {message}"


def test_the_years_are_those_of_the_text_as_written() -> None:
    # The first minute of 1900 in Moscow is still 1899 in UTC: accepted all the same.
    found = parse_now("1900-01-01T00:00", MOSCOW, "/now")
    assert found == datetime(1900, 1, 1, tzinfo=MOSCOW)
    assert found.year == 1899


def test_no_text_is_the_current_time_in_the_zone() -> None:
    before = datetime.now(UTC)
    found = parse_now(None, BERLIN, "--now")
    assert found.tzinfo is BERLIN
    assert before <= found <= datetime.now(UTC)


def test_offsetless_times_across_a_clock_change_are_real_instants() -> None:
    # 02:30 on 29 March 2026 does not exist in Berlin: read as fromisoformat + zone does.
    before = parse_now("2026-03-29T01:30", BERLIN, "now")
    after = parse_now("2026-03-29T03:30", BERLIN, "now")
    assert after - before == timedelta(hours=1)
    assert before.tzinfo is UTC


@pytest.mark.parametrize("text", [
    "2026-11-20T09:05:00+03:00", "2026-11-20T09:05", "2026-11-20", " 2026-11-20 ",
    "2026-11-20T09:05:00.1234567Z", "soon", "1899-12-31T23:00:00", "3000-01-01",
])
def test_deal_times_follow_the_same_rules(text: str) -> None:
    try:
        expected: object = parse_now(text, MOSCOW, "/x")
    except NowError as err:
        expected = err.message
    try:
        found: object = parse_time(text, MOSCOW, "/x")
    except DealError as err:
        found = err.message
    assert found == expected


def test_parse_iso_keeps_naive_times_naive() -> None:
    assert parse_iso("2026-11-20T09:05").tzinfo is None


# --------------------------------------------------------------------------- its users


@pytest.mark.parametrize(("args", "option"), [
    (["evaluate", "rulesets/b2b_sales.yaml", "examples/deals.jsonl", "--now", "soon"], "--now"),
    (["evaluate", "rulesets", "examples/deals.jsonl", "--now", "soon"], "--now"),
    (["analyze", "rulesets/b2b_sales.yaml", "examples/deals.jsonl", "--now", "soon"], "--now"),
    (["backtest", "rulesets/b2b_sales.yaml", "examples/deals.jsonl", "--from", "soon",
      "--to", "2026-11-20"], "--from"),
    (["backtest", "rulesets/b2b_sales.yaml", "examples/deals.jsonl", "--from", "2026-11-20",
      "--to", "soon"], "--to"),
])
def test_every_command_reports_a_bad_time_alike(
        args: list[str], option: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert (f"Invalid value for {option}: 'soon' is not an ISO 8601 time "
            "(e.g. 2026-11-20T09:05:00+03:00)") in result.output


def test_a_run_over_many_rulesets_reads_an_offsetless_now_in_utc(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    one = CliRunner().invoke(main, ["evaluate", "rulesets", "examples/deals.jsonl",
                                    "--now", "2026-11-20T06:05", "--format", "jsonl"])
    utc = CliRunner().invoke(main, ["evaluate", "rulesets", "examples/deals.jsonl",
                                    "--now", "2026-11-20T06:05:00+00:00", "--format", "jsonl"])
    assert one.exit_code == utc.exit_code
    assert one.stdout == utc.stdout
    assert [json.loads(line) for line in one.stdout.splitlines()]


def test_the_server_reads_now_with_the_same_parser() -> None:
    from pipeline_rules.server.service import evaluation_time

    class _Compiled:
        zone = MOSCOW

    class _Version:
        compiled = _Compiled()

    version: object = _Version()
    assert evaluation_time("2026-11-20T09:05", version) == parse_now(  # type: ignore[arg-type]
        "2026-11-20T09:05", MOSCOW, "/now")
    with pytest.raises(NowError) as caught:
        evaluation_time("soon", version)  # type: ignore[arg-type]
    assert caught.value.where == "/now"
