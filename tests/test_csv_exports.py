"""CRM exports as they come: one close date for won and lost, an undated first stage, lookups in
other files, tasks/events/pauses from their own files, date-only columns counted in whole days,
and the worked example of docs/input.md end to end."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from helpers import ROOT

from pipeline_rules.analytics import analyze
from pipeline_rules.cli import main
from pipeline_rules.deals.decode import parse_deal
from pipeline_rules.deals.model import Record
from pipeline_rules.deals.readers import InputError, read_records
from pipeline_rules.deals.readers.csvmap import MappingError, load_mapping, read_csv
from pipeline_rules.evaluate import Evaluator
from pipeline_rules.ruleset.catalog import load_ruleset
from pipeline_rules.ruleset.loader import ReadError

BERLIN = ZoneInfo("Europe/Berlin")
EXAMPLE = ROOT / "examples" / "wide_export"
RULESET = EXAMPLE / "ruleset.yaml"

MAPPING = """format: wide
deal: id
stage: stage
columns: {owner: agent}
fields: {account: account}
stage_dates: {engaging: engaged}
closed: closed
first_stage: prospecting
stages: {Prospecting: prospecting, Engaging: engaging, Won: won, Lost: lost}
"""
DEALS = """id,stage,agent,account,engaged,closed
1,Prospecting,anna,Acme,,
2,Engaging,anna,Acme,2025-03-03,
3,Won,boris,Beta,2025-03-03,2025-04-01
4,Lost,boris,Beta,2025-03-03,2025-03-20
5,Engaging,anna,Acme,2025-12-01,2026-01-15
"""


def write(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def read(folder: Path, mapping: str = MAPPING, deals: str = DEALS,
         notes: list[str] | None = None) -> list[Record]:
    loaded = load_mapping(write(folder, "map.yaml", mapping))
    return list(read_csv(write(folder, "deals.csv", deals), loaded, BERLIN, notes))


def data(record: Record) -> dict[str, Any]:
    assert record.error is None, record.error
    assert isinstance(record.data, dict)
    return record.data


def history(record: Record) -> list[tuple[str, str]]:
    return [(h["stage"], h["at"]) for h in data(record)["history"]]


def evaluate(records: list[Record], now: str) -> list[Any]:
    evaluator = Evaluator(load_ruleset(RULESET))
    return list(evaluator.evaluate(records, datetime.fromisoformat(now)))


# --- one close date, an undated first stage ----------------------------------------------------

def test_one_close_date_dates_won_and_lost_and_the_first_stage_needs_no_date(
        tmp_path: Path) -> None:
    notes: list[str] = []
    records = read(tmp_path, notes=notes)
    assert [data(r)["stage"] for r in records] == [
        "prospecting", "engaging", "won", "lost", "engaging"]
    assert history(records[0]) == []
    assert history(records[2]) == [("engaging", "2025-03-03T00:00:00+01:00"),
                                   ("won", "2025-04-01T00:00:00+02:00")]
    assert history(records[3]) == [("engaging", "2025-03-03T00:00:00+01:00"),
                                   ("lost", "2025-03-20T00:00:00+01:00")]
    # An open deal's close date (an expected one) does not date its stage: it has its own.
    assert history(records[4]) == [("engaging", "2025-12-01T00:00:00+01:00")]
    assert {data(r)["undated_start"] for r in records} == {"prospecting"}
    deals = [parse_deal(data(r), BERLIN) for r in records]
    assert deals[0].stage == "prospecting" and deals[0].first_stages() == ["prospecting"]
    assert deals[2].first_stages() == ["prospecting", "engaging", "won"]
    # One line for the deal still in the undated stage, not a warning each.
    assert len(notes) == 1 and notes[0].startswith("1 deal in 'prospecting'")
    codes = Counter(f.code for f in evaluate(records, "2025-03-10T12:00:00+01:00"))
    assert not {"bad-record", "illegal-transition", "skipped-stage", "no-stage-date"} & set(codes)


def test_the_undated_start_is_counted_as_entered_and_still_there(tmp_path: Path) -> None:
    records = read(tmp_path)
    report = analyze(load_ruleset(RULESET), records, datetime(2025, 12, 19, tzinfo=BERLIN))
    stages = {s.stage: s for s in report.stages}
    assert report.bad_records == 0
    assert (stages["prospecting"].entered, stages["prospecting"].still_there,
            stages["prospecting"].moved_on) == (5, 1, 4)
    assert stages["prospecting"].dwell_wall.count == 0  # no date: no dwell measured
    assert (stages["engaging"].entered, stages["engaging"].still_there) == (4, 2)


def test_first_stage_warnings_each_warns_per_deal(tmp_path: Path) -> None:
    notes: list[str] = []
    records = read(tmp_path, MAPPING + "first_stage_warnings: each\n", notes=notes)
    assert notes == []
    assert "undated_start" not in data(records[0])
    codes = [(f.deal, f.code) for f in evaluate(records, "2025-03-10T12:00:00+01:00")]
    assert ("1", "no-stage-date") in codes


def test_a_start_the_regulation_refuses_is_reported_at_the_first_date(tmp_path: Path) -> None:
    records = read(tmp_path, MAPPING.replace("first_stage: prospecting", "first_stage: won"))
    findings = [f for f in evaluate(records, "2025-12-19T12:00:00+01:00")
                if f.deal == "2" and f.code == "illegal-transition"]
    assert [f.at.isoformat() for f in findings] == ["2025-03-03T00:00:00+01:00",
                                                     "2025-03-03T00:00:00+01:00"]


@pytest.mark.parametrize(("text", "message"), [
    ("first_stage: engaging", "stage 'engaging' has a date column under 'stage_dates'"),
    ("closed: closed\nstage: stage", ""),
])
def test_mapping_checks_of_the_new_keys(tmp_path: Path, text: str, message: str) -> None:
    if not message:  # 'closed' without 'stage'
        text = MAPPING.replace("stage: stage\n", "").replace(
            "stages: {Prospecting: prospecting, Engaging: engaging, Won: won, Lost: lost}\n", "")
        with pytest.raises(MappingError, match=r"map.yaml:\d+:1: 'closed' dates"):
            load_mapping(write(tmp_path, "map.yaml", text))
        return
    with pytest.raises(MappingError, match=message):
        load_mapping(write(tmp_path, "map.yaml", MAPPING.replace("first_stage: prospecting",
                                                                 text)))


# --- joins ---------------------------------------------------------------------------------------

JOINS = MAPPING + """joins:
  - file: teams.csv
    on: {owner: agent}
    take: {manager: manager, office: office}
  - file: accounts.csv
    on: {account: account}
    take: {segment: sector}
"""


def test_joins_fill_the_manager_and_fields(tmp_path: Path) -> None:
    write(tmp_path, "teams.csv", "agent,manager,office\nanna,melvin,West\nboris,dustin,East\n")
    write(tmp_path, "accounts.csv", "account,sector\nAcme,tech\nBeta,retail\n")
    records = read(tmp_path, JOINS)
    assert [(data(r)["manager"], data(r)["fields"]["office"], data(r)["fields"]["segment"])
            for r in records[:4]] == [("melvin", "West", "tech"), ("melvin", "West", "tech"),
                                       ("dustin", "East", "retail"), ("dustin", "East", "retail")]


@pytest.mark.parametrize(("teams", "message"), [
    ("agent,manager,office\nanna,melvin,West\nboris,dustin,East\nanna,x,y\n",
     r"teams.csv:4: 'anna' appears twice in column 'agent' \(first on line 2\)"),
    ("agent,manager,office\nanna,,West\nboris,dustin,East\n",
     r"teams.csv:2: column 'manager' is empty for 'anna'"),
    ("agent,manager,office\n,melvin,West\n", r"teams.csv:2: column 'agent' is empty"),
    ("agent,boss,office\nanna,melvin,West\n", r"map.yaml:\d+:\d+: column 'manager' is not in "
                                              r"the header of .*teams.csv"),
])
def test_bad_lookup_files_stop_with_their_line(tmp_path: Path, teams: str, message: str) -> None:
    write(tmp_path, "teams.csv", teams)
    write(tmp_path, "accounts.csv", "account,sector\nAcme,tech\nBeta,retail\n")
    with pytest.raises(MappingError, match=message):
        read(tmp_path, JOINS)


def test_a_missing_lookup_file_and_an_unknown_key(tmp_path: Path) -> None:
    with pytest.raises(ReadError, match=r"map.yaml:\d+:\d+: cannot read .*teams.csv"):
        read(tmp_path, JOINS)
    write(tmp_path, "teams.csv", "agent,manager,office\nanna,melvin,West\n")
    write(tmp_path, "accounts.csv", "account,sector\nAcme,tech\nBeta,retail\n")
    records = read(tmp_path, JOINS)
    assert records[2].error is not None and records[2].error.startswith(
        "owner 'boris' is not in column 'agent' of ")
    assert records[2].deal == "3" and records[0].error is None


# --- tasks, events and pauses from their own files -----------------------------------------------

SIDES = MAPPING + """tasks: {file: tasks.csv, deal: deal, id: task, due: due, done: done}
events: {file: events.csv, deal: deal, type: type, at: at}
pauses: {file: pauses.csv, deal: deal, from: from, to: to, reason: why}
"""


def test_tasks_events_and_pauses_come_from_their_files(tmp_path: Path) -> None:
    write(tmp_path, "tasks.csv", "deal,task,due,done\n2,T1,2025-03-05T10:00,no\n"
                                 "2,,2025-03-06T10:00,yes\n9,T9,2025-03-05T10:00,\n")
    write(tmp_path, "events.csv", "deal,type,at\n2,meeting,2025-03-07T15:00\n")
    write(tmp_path, "pauses.csv", "deal,from,to,why\n2,2025-03-04,,legal review\n")
    records = read(tmp_path, SIDES)
    two = data(records[1])
    assert two["tasks"] == [
        {"id": "T1", "due": "2025-03-05T10:00:00+01:00", "done": False},
        {"id": None, "due": "2025-03-06T10:00:00+01:00", "done": True}]
    assert two["events"] == [{"type": "meeting", "at": "2025-03-07T15:00:00+01:00"}]
    assert two["pauses"] == [{"from": "2025-03-04T00:00:00+01:00", "to": None,
                              "reason": "legal review"}]
    deal = parse_deal(two, BERLIN)
    assert [t.id for t in deal.tasks] == ["T1", "2#1"] and len(deal.pauses) == 1
    # Deal 9 is in no row of the deals file: reported, not dropped.
    assert records[-1] == Record(f"{tmp_path / 'tasks.csv'}:4",
                                 error="deal '9' is not in the deals file; its rows here are "
                                       "not used", deal="9")


def test_a_bad_side_row_makes_its_deal_a_bad_record(tmp_path: Path) -> None:
    write(tmp_path, "tasks.csv", "deal,task,due,done\n2,T1,tomorrow,no\n3,T2,,maybe\n")
    write(tmp_path, "events.csv", "deal,type,at\n")
    write(tmp_path, "pauses.csv", "deal,from,to,why\n")
    records = read(tmp_path, SIDES)
    assert records[1].error == (f"{tmp_path / 'tasks.csv'}:2: column 'due': 'tomorrow' is not "
                                "an ISO 8601 time")
    assert records[2].error == (f"{tmp_path / 'tasks.csv'}:3: column 'done': 'maybe' is not "
                                "true/false, yes/no or 1/0")
    assert records[0].error is None


def test_unreadable_side_rows_are_reported_and_the_rest_read(tmp_path: Path) -> None:
    write(tmp_path, "tasks.csv", "deal,task,due,done\n2,T1,2025-03-05T10:00,no\n"
                                 "2,T2\n,T3,2025-03-05T10:00,no\n")
    write(tmp_path, "events.csv", "deal,type,at\n")
    write(tmp_path, "pauses.csv", "deal,from,to,why\n")
    records = read(tmp_path, SIDES)
    assert [t["id"] for t in data(records[1])["tasks"]] == ["T1"]
    tasks = tmp_path / "tasks.csv"
    assert records[-2:] == [
        Record(f"{tasks}:3", error="the row has 2 cells where the header has 4"),
        Record(f"{tasks}:4", error="no deal id in column 'deal'")]


# --- dates -------------------------------------------------------------------------------------

def test_date_only_columns_count_whole_days_across_dst(tmp_path: Path) -> None:
    # Engaged 2025-09-01; 60 days later is 2025-10-31, across the change to winter time.
    deals = "id,stage,agent,account,engaged,closed\n7,Engaging,anna,Acme,2025-09-01,\n"
    records = read(tmp_path, deals=deals)
    assert data(records[0])["whole_days"] is True
    at_midnight = evaluate(records, "2025-10-31T00:00:00+01:00")
    violations = [f for f in at_midnight if f.kind == "violation"]
    # This export has no manager column, so the breach's escalation is unrouted, and says so.
    assert [f.code for f in violations] == ["sla-breach", "unrouted"]
    assert violations[0].details["deadline"] == "2025-10-31T00:00:00+01:00"
    assert violations[1].details["for"] == "sla-breach"
    before = evaluate(records, "2025-10-30T23:30:00+01:00")
    assert "sla-breach" not in {f.code for f in before}
    # The same deal given with clock times keeps counting elapsed hours (23:00 the day before).
    timed = read(tmp_path, deals=deals.replace("2025-09-01", "2025-09-01T00:00"))
    assert "whole_days" not in data(timed[0])
    assert [f.details["deadline"] for f in evaluate(timed, "2025-10-31T00:00:00+01:00")
            if f.code == "sla-breach"] == ["2025-10-30T23:00:00+01:00"]


def test_a_dwell_of_exactly_sixty_days_is_not_over_a_60d_limit(tmp_path: Path) -> None:
    deals = ("id,stage,agent,account,engaged,closed\n"
             "8,Won,anna,Acme,2025-09-01,2025-10-31\n9,Won,anna,Acme,2025-09-01,2025-11-01\n")
    report = analyze(load_ruleset(RULESET), read(tmp_path, deals=deals),
                     datetime(2025, 12, 19, tzinfo=BERLIN))
    engaging = next(s for s in report.stages if s.stage == "engaging")
    assert (engaging.breached, engaging.breach_share) == (1, 0.5)


def test_a_column_mixing_dates_and_times_is_named(tmp_path: Path) -> None:
    notes: list[str] = []
    deals = ("id,stage,agent,account,engaged,closed\n2,Engaging,anna,Acme,2025-03-03,\n"
             "3,Engaging,anna,Acme,2025-03-04 10:00,\n4,Engaging,anna,Acme,2025-03-05 11:00,\n")
    records = read(tmp_path, deals=deals, notes=notes)
    assert all(r.error is None for r in records)
    mixed = [n for n in notes if "mixes" in n]
    assert mixed == [f"column 'engaged' of {tmp_path / 'deals.csv'} mixes dates and times: "
                     "line 3 has a time of day ('2025-03-04 10:00'), line 2 a date only "
                     "('2025-03-03'); a date alone is read as midnight. Export the column all "
                     "as dates or all as times"]


def test_read_records_does_not_guess_utc(tmp_path: Path) -> None:
    mapping = write(tmp_path, "map.yaml", MAPPING)
    deals = write(tmp_path, "deals.csv", DEALS)
    with pytest.raises(InputError, match="times without an offset need a zone"):
        list(read_records(deals, mapping=mapping))
    records = list(read_records(deals, mapping=mapping, zone=BERLIN))
    assert history(records[2])[0] == ("engaging", "2025-03-03T00:00:00+01:00")


# --- the worked example of docs/input.md ---------------------------------------------------------

def test_the_worked_example_goes_from_csv_to_findings_and_a_report() -> None:
    args = [str(RULESET), str(EXAMPLE / "deals.csv"), "--mapping", str(EXAMPLE / "mapping.yaml")]
    result = CliRunner().invoke(main, ["evaluate", *args, "--now", "2025-12-19T18:00",
                                       "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    findings = [json.loads(line) for line in result.stdout.splitlines()]
    codes = Counter(f["code"] for f in findings)
    assert codes["bad-record"] == 0 and codes["illegal-transition"] == 0
    assert codes["no-stage-date"] == 0 and codes["escalate"] > 0
    teams = dict(line.split(",")[:2] for line in
                 (EXAMPLE / "sales_teams.csv").read_text().splitlines()[1:])
    owners = {row.split(",")[0]: row.split(",")[1] for row in
              (EXAMPLE / "deals.csv").read_text().splitlines()[1:]}
    for escalation in (f for f in findings if f["code"] == "escalate"):
        assert escalation["details"]["recipient"] == teams[owners[escalation["deal"]]]
    assert all(f["at"][11:19] == "00:00:00" for f in findings if f["code"] == "sla-breach")
    still_prospecting = sum(row.split(",")[4] == "Prospecting" for row in
                            (EXAMPLE / "deals.csv").read_text().splitlines()[1:])
    assert f"note: {still_prospecting} deals in 'prospecting'" in result.stderr

    report = json.loads(CliRunner().invoke(
        main, ["analyze", *args, "--now", "2025-12-19T18:00", "--format", "json"]).stdout)
    prospecting = next(s for s in report["stages"] if s["stage"] == "prospecting")
    assert report["bad_records"] == 0
    assert prospecting["entered"] == report["deals"] == 240
    assert prospecting["still_there"] == still_prospecting


def test_the_example_csv_is_what_its_seeded_script_writes(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("generate", EXAMPLE / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "HERE", tmp_path)
    module.main()
    for name in ("deals.csv", "sales_teams.csv", "accounts.csv"):
        assert (tmp_path / name).read_text() == (EXAMPLE / name).read_text()
