"""CSV input through a mapping file: change logs and wide tables in, exact deal records out; bad
rows become error records, bad mappings stop with file:line:col; the real Enpal change log reads
and evaluates end to end."""

from __future__ import annotations

import io
import json
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from helpers import ROOT, SHARED
from jsonschema import Draft202012Validator

from pipeline_rules import load_ruleset
from pipeline_rules.deals.decode import parse_deal
from pipeline_rules.deals.model import Record
from pipeline_rules.deals.readers import InputError, read_records
from pipeline_rules.deals.readers.csvmap import MappingError, load_mapping, read_csv
from pipeline_rules.evaluate import Evaluator
from pipeline_rules.ruleset.loader import ReadError

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "csv"
MOSCOW = ZoneInfo("Europe/Moscow")
ENPAL = SHARED / "data" / "real" / "enpal_pipedrive_deal_changes" / "deal_changes.csv"


def deal(id_: str, stage: str | None, history: list[tuple[str, str]], owner: str | None = None,
         source: str | None = None, fields: dict[str, str] | None = None) -> dict[str, Any]:
    """The deal record a reader is expected to produce."""
    return {"id": id_, "stage": stage, "source": source, "owner": owner, "manager": None,
            "fields": fields or {}, "history": [{"stage": s, "at": at} for s, at in history],
            "tasks": [], "events": []}


def read(name: str, zone: ZoneInfo = MOSCOW) -> list[Record]:
    mapping = load_mapping(str(FIXTURES / f"{name}.yaml"))
    return list(read_csv(str(FIXTURES / f"{name}.csv"), mapping, zone))


def write(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return str(path)


# --- change log ----------------------------------------------------------------------------------

def test_change_log_groups_orders_and_reports_bad_rows_and_deals() -> None:
    csv_file, map_file = FIXTURES / "changelog.csv", FIXTURES / "changelog.yaml"
    assert read("changelog") == [
        # Rows 2, 4, 6, 9 and 17: stages in time order (row 6 is earlier than row 4), the latest
        # owner, and the source; the unlisted kind on row 13 is reported on its own.
        Record(f"{csv_file}:2", deal(
            "A-1", "qualification",
            [("request", "2025-01-06T09:00:00+03:00"),
             ("qualification", "2025-01-07T09:00:00+03:00")],
            owner="boris", source="web"), deal="A-1"),
        # The ignored "created" row is skipped; "lost" enters lost and keeps the reason.
        Record(f"{csv_file}:3", deal(
            "B-2", "lost",
            [("request", "2025-01-06T10:00:00+03:00"), ("lost", "2025-01-09T11:00:00+03:00")],
            owner="carla", fields={"loss_reason": "no budget"}), deal="B-2"),
        Record(f"{csv_file}:7", error=f"line 10: stage 'Limbo' (column 'value') is not under "
                                      f"'stages:' in {map_file}; add it there", deal="C-3"),
        Record(f"{csv_file}:11", error="line 12: column 'at': '09/01/2025' is not a time in "
                                       "the format '%Y-%m-%d %H:%M'", deal="D-4"),
        Record(f"{csv_file}:13", error=f"the kind of change 'note' (column 'what') is not listed "
                                       f"under 'changes:' in {map_file}; add it there "
                                       f"(e.g. 'note: ignore')", deal="A-1"),
        Record(f"{csv_file}:14", error="the row has 2 cells where the header has 4", deal="E-5"),
        Record(f"{csv_file}:15", error="no deal id in column 'deal'"),
        # Two stage changes at the same time keep their file order.
        Record(f"{csv_file}:18", deal(
            "F-6", "qualification",
            [("request", "2025-01-13T09:00:00+03:00"),
             ("qualification", "2025-01-13T09:00:00+03:00")]), deal="F-6"),
    ]


def test_change_log_records_parse_and_evaluate() -> None:
    evaluator = Evaluator(load_ruleset(str(ROOT / "rulesets" / "b2b_sales.yaml")))
    records = read("changelog")
    findings = list(evaluator.evaluate(records, datetime.fromisoformat(
        "2025-01-20T12:00:00+03:00")))
    bad = [(f.deal, f.to_dict()["details"]["record"]) for f in findings if f.code == "bad-record"]
    assert bad == [("C-3", f"{FIXTURES / 'changelog.csv'}:7"),
                   ("D-4", f"{FIXTURES / 'changelog.csv'}:11"),
                   ("A-1", f"{FIXTURES / 'changelog.csv'}:13"),
                   ("E-5", f"{FIXTURES / 'changelog.csv'}:14"),
                   (None, f"{FIXTURES / 'changelog.csv'}:15")]
    for record in records:
        if record.error is None:
            parse_deal(record.data, MOSCOW)


def test_change_log_without_a_kind_column_is_all_stage_changes(tmp_path: Path) -> None:
    mapping = write(tmp_path, "map.yaml", "format: changelog\ndeal: id\ntime: when\n"
                                          "value: stage\ntimezone: UTC\n")
    data = write(tmp_path, "log.csv", "id,when,stage\n7,2025-02-01T10:00:00+03:00,meeting\n"
                                      "7,2025-01-31T00:00:00Z,qualification\n")
    assert list(read_csv(data, load_mapping(mapping), MOSCOW)) == [
        Record(f"{data}:2", deal("7", "meeting", [("qualification", "2025-01-31T00:00:00+00:00"),
                                                  ("meeting", "2025-02-01T10:00:00+03:00")]),
               deal="7")]


def test_empty_and_blank_rows_are_skipped_and_a_bom_is_ignored(tmp_path: Path) -> None:
    mapping = write(tmp_path, "map.yaml", "format: changelog\ndeal: id\ntime: when\n"
                                          "value: stage\n")
    data = tmp_path / "log.csv"
    data.write_bytes(b"\xef\xbb\xbfid,when,stage\r\n\r\n,,\r\n7,2025-01-31 10:00,meeting\r\n")
    assert list(read_csv(str(data), load_mapping(mapping), MOSCOW)) == [
        Record(f"{data}:4", deal("7", "meeting", [("meeting", "2025-01-31T10:00:00+03:00")]),
               deal="7")]


def test_stdin_and_tsv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mapping = load_mapping(write(tmp_path, "map.yaml", "format: changelog\ndeal: id\n"
                                                       "time: when\nvalue: stage\n"))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(
        b"id,when,stage\n7,2025-01-31 10:00,meeting\n")))
    assert [(r.origin, r.deal) for r in read_csv("-", mapping, MOSCOW)] == [("<stdin>:2", "7")]
    data = write(tmp_path, "log.tsv", "id\twhen\tstage\n7\t2025-01-31 10:00\tmeeting\n")
    assert [(r.origin, r.error) for r in read_csv(data, mapping, MOSCOW)] == [(f"{data}:2", None)]


def test_the_dispatcher_reads_csv_with_the_rulesets_zone() -> None:
    records = list(read_records(str(FIXTURES / "changelog.csv"),
                                mapping=str(FIXTURES / "changelog.yaml"), zone=MOSCOW))
    assert records == read("changelog")


def test_bytes_that_are_not_utf8_stop_the_file_with_the_line(tmp_path: Path) -> None:
    mapping = load_mapping(write(tmp_path, "map.yaml", "format: changelog\ndeal: id\n"
                                                       "time: when\nvalue: stage\n"))
    data = tmp_path / "log.csv"
    data.write_bytes(b"id,when,stage\n7,2025-01-31 10:00,M\xfcnchen\n")
    with pytest.raises(ReadError, match=r"log\.csv:2: byte 0xfc is not UTF-8"):
        list(read_csv(str(data), mapping, MOSCOW))


# --- wide table ----------------------------------------------------------------------------------

def test_wide_table_one_deal_a_row() -> None:
    csv_file, map_file = FIXTURES / "wide.csv", FIXTURES / "wide.yaml"
    # The mapping's Europe/Berlin wins over the zone passed in (Moscow).
    assert read("wide") == [
        Record(f"{csv_file}:2", deal(
            "101", "meeting",
            [("request", "2025-01-06T09:00:00+01:00"),
             ("qualification", "2025-01-08T10:00:00+01:00"),
             ("meeting", "2025-01-10T11:00:00+01:00")],
            owner="anna", fields={"amount": "250000"}), deal="101"),
        # No current stage: the latest dated stage; empty dates and fields are skipped; the
        # quoted reason spans two lines, so the next deal starts on line 5.
        Record(f"{csv_file}:3", deal(
            "102", "lost",
            [("request", "2025-01-06T10:00:00+01:00"), ("lost", "2025-01-09T12:00:00+01:00")],
            owner="boris", fields={"loss_reason": "too\nexpensive"}), deal="102"),
        Record(f"{csv_file}:5", error="column \"Date entered 'Qualified'\": '07.01.2025' is not "
                                      "a time in the format '%Y-%m-%d %H:%M'", deal="103"),
        Record(f"{csv_file}:6", error=f"stage 'Limbo' (column 'Deal Stage') is not under "
                                      f"'stages:' in {map_file}; add it there", deal="104"),
    ]


def test_wide_table_rows_with_the_wrong_number_of_cells(tmp_path: Path) -> None:
    mapping = load_mapping(write(tmp_path, "map.yaml", "format: wide\ndeal: id\n"
                                                       "stage_dates: {meeting: met}\n"))
    data = write(tmp_path, "deals.csv", "id,met\n1,2025-01-31,extra\n,2025-01-31\n2,\n")
    assert list(read_csv(data, mapping, MOSCOW)) == [
        Record(f"{data}:2", error="the row has 3 cells where the header has 2", deal="1"),
        Record(f"{data}:3", error="no deal id in column 'id'"),
        Record(f"{data}:4", deal("2", None, []), deal="2"),
    ]


def test_the_hubspot_example_mapping_loads() -> None:
    mapping = load_mapping(str(ROOT / "examples" / "mappings" / "hubspot_wide.yaml"))
    assert (mapping.format, mapping.deal.name, mapping.stage_for("Closed won")) == \
        ("wide", "Record ID", "paid")
    assert [stage for stage, _ in mapping.stage_dates] == [
        "find_dm", "request", "qualification", "meeting", "proposal", "invoice", "paid", "lost"]


# --- mapping errors ------------------------------------------------------------------------------

CHANGELOG = "format: changelog\ndeal: deal\ntime: at\nvalue: value\n"


@pytest.mark.parametrize(("text", "where", "message"), [
    (CHANGELOG + "timezon: UTC\n", "5:1", "unknown key 'timezon' (did you mean 'timezone'?)"),
    (CHANGELOG + "timezone: Europe/Berln\n", "5:11",
     "unknown time zone 'Europe/Berln' (did you mean 'Europe/Berlin'?); expected an IANA name "
     "like 'UTC'"),
    ("format: changelg\ndeal: deal\n", "1:9",
     "'changelg' is not allowed here (did you mean 'changelog'?); use one of: changelog, wide"),
    (CHANGELOG + "kind: what\nchanges: {stage: stag}\n", "6:18",
     "'stag' is not allowed here (did you mean 'stage'?); use one of: stage, owner, source, "
     "manager, ignore"),
    (CHANGELOG + "changes: {stage: stage}\n", "5:1", "'changes' also needs 'kind'"),
    (CHANGELOG + "kind: what\nchanges: {owner: owner, x: ignore}\n", "6:10",
     "no kind of change enters a stage (give one kind 'stage' or {stage: ID}); the deals would "
     "have no stage"),
    (CHANGELOG + "stage_dates: {lost: lost_at}\n", "5:1",
     "'stage_dates' belongs to the wide format; a changelog mapping does not use it"),
    (CHANGELOG + "stages:\n  New: request\n  Lost: ''\n", "7:9",
     "expected a ruleset stage id, got ''"),
    (CHANGELOG + "time_format: '%Y-%m-%d %Q'\n", "5:14",
     "'%Y-%m-%d %Q' is not a usable strptime format ('Q' is a bad directive in format "
     "'%Y-%m-%d %Q')"),
    (CHANGELOG + "value: again\n", "5:1", "key 'value' is given twice (first on line 4)"),
    ("format: changelog\ndeal: [x\n", "3:1", None),
    ("- format\n", "1:1", "a mapping file is a YAML mapping of keys (format, deal, ...); "
                           "see docs/input.md"),
], ids=["unknown-key", "timezone", "format", "change", "changes-needs-kind", "no-stage-change",
        "other-format", "empty-stage", "time-format", "duplicate-key", "yaml-syntax",
        "not-a-mapping"])
def test_mapping_errors_name_the_place(tmp_path: Path, text: str, where: str,
                                       message: str | None) -> None:
    path = write(tmp_path, "map.yaml", text)
    with pytest.raises(MappingError) as raised:
        load_mapping(path)
    assert str(raised.value).startswith(f"{path}:{where}: "), str(raised.value)
    if message is not None:
        assert str(raised.value) == f"{path}:{where}: {message}"
    assert isinstance(raised.value, InputError)


def test_a_column_missing_from_the_header_is_named_with_the_mappings_position(
        tmp_path: Path) -> None:
    path = write(tmp_path, "map.yaml", "format: changelog\ndeal: deal\ntime: changed_at\n"
                                       "value: value\n")
    data = str(FIXTURES / "changelog.csv")
    with pytest.raises(MappingError) as raised:
        list(read_csv(data, load_mapping(path), MOSCOW))
    assert str(raised.value) == (
        f"{path}:3:7: column 'changed_at' named by the mapping is not in the header of {data}; "
        "columns: 'deal', 'at', 'what', 'value'")


def test_the_mapping_schema_is_valid_and_documented() -> None:
    schema = json.loads((ROOT / "schemas" / "mapping.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)

    def undocumented(node: Any, pointer: str) -> list[str]:
        if not isinstance(node, dict):
            return []
        found = [] if "description" in node else [pointer]
        for key in ("properties", "$defs"):
            for name, sub in node.get(key, {}).items():
                found += undocumented(sub, f"{pointer}/{key}/{name}")
        for key in ("additionalProperties", "else"):
            if isinstance(node.get(key), dict) and "properties" in node[key]:
                for name, sub in node[key]["properties"].items():
                    found += undocumented(sub, f"{pointer}/{key}/properties/{name}")
        return found

    assert undocumented(schema, "#") == []
    assert schema["additionalProperties"] is False
    for example in ("enpal_pipedrive.yaml", "hubspot_wide.yaml"):
        load_mapping(str(ROOT / "examples" / "mappings" / example))


# --- the real Enpal change log -------------------------------------------------------------------

@pytest.mark.skipif(not ENPAL.is_file(), reason=f"real data not found at {ENPAL}")
def test_the_enpal_change_log_reads_and_evaluates() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    mapping = load_mapping(str(ROOT / "examples" / "mappings" / "enpal_pipedrive.yaml"))
    records = list(read_csv(str(ENPAL), mapping, berlin))
    # One record per distinct deal_id; every kind is listed, every stage mapped, every time
    # readable, so no record is an error.
    assert len(records) == 1995
    assert [r for r in records if r.error is not None] == []
    assert records[0] == Record(f"{ENPAL}:2", {
        "id": "881836", "stage": "lost", "source": None, "owner": "1728", "manager": None,
        "fields": {"loss_reason": "5"},
        "history": [{"stage": "lead_generation", "at": "2024-04-20T21:32:09+02:00"},
                    {"stage": "qualified_lead", "at": "2024-05-02T21:32:09+02:00"},
                    {"stage": "needs_assessment", "at": "2024-05-21T21:32:09+02:00"},
                    {"stage": "proposal", "at": "2024-06-06T21:32:09+02:00"},
                    {"stage": "closing", "at": "2024-06-18T21:32:09+02:00"},
                    {"stage": "lost", "at": "2024-07-16T21:32:09+02:00"}],
        "tasks": [], "events": []}, deal="881836")
    # The generated data ends every deal with a lost_reason.
    assert Counter(r.data["stage"] for r in records) == {"lost": 1995}  # type: ignore[index]
    for record in records:
        parse_deal(record.data, berlin)

    evaluator = Evaluator(load_ruleset(str(ROOT / "rulesets" / "enpal_pipedrive.yaml")))
    findings = list(evaluator.evaluate(records, datetime.fromisoformat(
        "2025-03-12T00:00:00+01:00")))
    # Closed deals get only the history check. 2,502 forward jumps over stages (e.g. 2 -> 5,
    # counted independently from the raw rows); 12 illegal moves, all in the 5 deal_ids that
    # Pipedrive reused for two deals (two add_time rows each), whose merged histories go back
    # to lead_generation, some after lost.
    assert Counter(f.code for f in findings) == {"skipped-stage": 2502, "illegal-transition": 12}
    assert {f.deal for f in findings if f.code == "illegal-transition"} == {
        "399956", "554294", "556338", "851850", "955417"}
