"""Deal decoding: the fast route (msgspec structs, from JSON bytes or from a mapping) gives exactly
the deal the general route gives, or declines; the general route names what is wrong."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import msgspec.inspect
import orjson
import pyarrow as pa
import pytest
from helpers import ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_rules.deals import as_record
from pipeline_rules.deals.decode import (
    _DEAL as DEAL_STRUCT,
)
from pipeline_rules.deals.decode import (
    DEAL,
    REQUIRED,
    Part,
    _build,
    _general,
    decode_deal,
    parse_deal,
    parse_iso,
)
from pipeline_rules.deals.model import (
    Deal,
    DealError,
    HistoryEntry,
    Pause,
    Record,
    Task,
    deal_id,
)
from pipeline_rules.deals.readers.jsonl import jsonl_record
from pipeline_rules.deals.readers.parquet import batch_records
from pipeline_rules.evaluate.engine import partition_records

sys.path.insert(0, str(ROOT / "benchmarks"))
from generate_deals import deals as generated_deals

ZONE = ZoneInfo("Europe/Moscow")
TIMES = ["2026-11-20T09:05:00+03:00", "2026-11-20T10:00:00", "2026-11-21", "2026-11-19T06:00Z",
         "0001-01-01T00:00:00", "2026-11-20T09:05+03:00", "2026-11-20 09:05:00",
         "2026-11-20t09:05:00z", "2026-11-20T09:05:00.1234567+03:00", "2026-11-20T09:05:00+0300",
         "2026-11-20T09:05:00.5", " 2026-11-20T09:05:00+03:00", "yesterday", 17, None,
         datetime(2026, 11, 20, 9, 5), datetime(2026, 11, 19, 9, 5, tzinfo=ZoneInfo("Asia/Tokyo"))]
TEXTS = ["meeting", "proposal", "", 5, None, True, ["x"]]
#: What a list key may hold besides a list: nothing, an empty or false value, another type.
NOT_LISTS = [None, {}, "", 0, False, "call", {"stage": "meeting"}]


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.just("<absent>"), strategy)


@st.composite
def records(draw: st.DrawFn) -> Any:
    record: dict[str, Any] = {}
    for key, values in (("id", ["A-1", 881836, "", None, 1.5, True]), ("stage", TEXTS),
                        ("source", TEXTS), ("owner", TEXTS), ("manager", TEXTS),
                        ("fields", [{}, {"amount": 5}, None, [1], "", {1: 2}])):
        value = draw(maybe(st.sampled_from(values)))
        if value != "<absent>":
            record[key] = value
    history = draw(st.lists(st.fixed_dictionaries(
        {"stage": st.sampled_from(TEXTS), "at": st.sampled_from(TIMES)},
        optional={"override": st.sampled_from(["why", None, 3, ""])}), max_size=4))
    if history or draw(st.booleans()):
        record["history"] = history
    tasks = draw(st.lists(st.fixed_dictionaries(
        {"due": st.sampled_from(TIMES)},
        optional={"id": st.sampled_from(["T", 7, "", None, 0, True]),
                  "done": st.sampled_from([True, False, "no", None])}), max_size=2))
    if tasks:
        record["tasks"] = tasks
    events = draw(st.lists(st.fixed_dictionaries(
        {"type": st.sampled_from(TEXTS), "at": st.sampled_from(TIMES)}), max_size=2))
    if events:
        record["events"] = events
    if draw(st.integers(0, 3)) == 0:
        record["pauses"] = draw(st.lists(st.fixed_dictionaries(
            {"from": st.sampled_from(TIMES[:8]),
             "to": st.sampled_from([None, "2026-11-25T00:00", "2026-11-01T00:00:00+03:00", 5]),
             "reason": st.sampled_from(["budget", "", None, 3])}), min_size=1, max_size=2))
    for key in ("history", "tasks", "events", "pauses"):
        if draw(st.integers(0, 9)) == 0:
            record[key] = draw(st.sampled_from(NOT_LISTS))
    if draw(st.integers(0, 5)) == 0:  # what Python callers may pass: tuples, other mappings
        record = {key: tuple(MappingProxyType(i) if isinstance(i, dict) else i for i in value)
                  if isinstance(value, list) else value for key, value in record.items()}
    return draw(st.sampled_from([record, record, record, MappingProxyType(record), [record],
                                 "text"]))


def _json(value: object) -> bytes:
    # A mapping proxy is written as its dict; the {1: 2} fields as {"1": 2}.
    return orjson.dumps(value, default=dict, option=orjson.OPT_NON_STR_KEYS)


@settings(max_examples=1000, deadline=None)
@given(records())
def test_fast_path_agrees_with_the_checked_path(record: Any) -> None:
    try:
        expected: Deal | str = _general(record, ZONE)
    except DealError as err:
        expected = str(err)
    # parse_deal takes the fast route (msgspec converts the mapping) and falls back to the
    # general one: the same deal, or the same error.
    try:
        got: Deal | str = parse_deal(record, ZONE)
    except DealError as err:
        got = str(err)
    assert got == expected
    # The JSON Lines reader's decoder: the same deal, or None to send the record the general
    # way (which then reports the problem). JSON has no tuples, int keys or datetimes: it is
    # held to what the general route makes of the text it is given.
    text = _json(record)
    if text != _json(orjson.loads(text)) or orjson.loads(text) != record:
        try:
            expected = _general(orjson.loads(text), ZONE)
        except DealError as err:
            expected = str(err)
    decoded = decode_deal(text, ZONE)
    assert decoded is None or decoded == expected


def test_realistic_records_take_the_decoder() -> None:
    generated = list(generated_deals(300, seed=7))
    plain = [r for r in generated if not r.get("pauses")]
    assert len(plain) > 250
    for record in plain:
        assert decode_deal(orjson.dumps(record), ZONE) == parse_deal(record, ZONE)


def test_realistic_records_take_the_fast_route_both_ways() -> None:
    # Pauses included: the structs check them too.
    generated = list(generated_deals(300, seed=7))
    assert any(r.get("pauses") for r in generated)
    for record in generated:
        deal = decode_deal(orjson.dumps(record), ZONE)
        assert deal is not None and deal == _fast(record) == _general(record, ZONE)


def _fast(record: dict[str, Any]) -> Deal:
    return _build(msgspec.convert(record, DEAL_STRUCT), ZONE)


def test_the_structs_are_made_from_the_schema() -> None:
    def same(struct: msgspec.inspect.StructType, part: Part) -> None:
        assert [(f.encode_name, f.name, f.required) for f in struct.fields] == [
            (key.name, key.attr or key.name, key.kind.default is REQUIRED) for key in part.keys]
        for key, field in zip(part.keys, struct.fields, strict=True):
            if key.kind.part is not None:  # a list of objects, or null
                assert isinstance(field.type, msgspec.inspect.UnionType)
                listed = field.type.types[0]
                assert isinstance(listed, msgspec.inspect.ListType)
                assert isinstance(listed.item_type, msgspec.inspect.StructType)
                same(listed.item_type, key.kind.part)

    deal = msgspec.inspect.type_info(DEAL_STRUCT)
    assert isinstance(deal, msgspec.inspect.StructType)
    same(deal, DEAL)


@pytest.mark.parametrize(("record", "expected"), [
    # A list key that is empty or false holds nothing; an override's reason is kept as written,
    # even empty (the forced move is reported with it).
    ({"id": "A", "stage": "a", "history": {}, "events": "", "tasks": 0, "pauses": False},
     Deal("A", "a")),
    ({"id": "A", "history": [{"stage": "a", "at": "2026-11-20T09:05:00+03:00", "override": ""}],
      "events": {}, "pauses": [{"from": "2026-11-20T09:05:00+03:00", "to": None,
                                "reason": "budget"}]},
     Deal("A", "a", history=(HistoryEntry(
         "a", datetime.fromisoformat("2026-11-20T09:05:00+03:00"), ""),),
          pauses=(Pause(datetime.fromisoformat("2026-11-20T09:05:00+03:00"), None, "budget"),))),
    ({"id": 7, "tasks": ({"id": 0}, MappingProxyType({"due": None}))},
     Deal("7", None, tasks=(Task("0", None, False), Task("7#1", None, False)))),
])
def test_one_reading_whichever_route(record: dict[str, Any], expected: Deal) -> None:
    assert parse_deal(record, ZONE) == _general(record, ZONE) == expected
    assert decode_deal(_json(record), ZONE) in (None, expected)


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-20T09:05:00.1234567+03:00", "2026-11-20T09:05:00.123457+03:00"),  # rounded
    ("2026-11-20t09:05:00z", "2026-11-20T09:05:00+00:00"),
    ("2026-11-20T09:05+03:00", "2026-11-20T09:05:00+03:00"),
    ("20261120T090500", "2026-11-20T09:05:00"),
])
def test_iso_times_read_alike_on_every_path(text: str, expected: str) -> None:
    assert parse_iso(text).isoformat() == expected


def test_times_are_aware_and_keep_the_instant() -> None:
    deal = parse_deal({"id": "A", "history": [
        {"stage": "a", "at": "2026-11-20T09:05:00+03:00"},
        {"stage": "b", "at": "2026-11-20T10:00:00"},
        {"stage": "c", "at": "2026-11-21"}]}, ZONE)
    assert deal.stage == "c"
    assert [h.at.astimezone(UTC) for h in deal.history] == [
        datetime(2026, 11, 20, 6, 5, tzinfo=UTC), datetime(2026, 11, 20, 7, 0, tzinfo=UTC),
        datetime(2026, 11, 20, 21, 0, tzinfo=UTC)]


@pytest.mark.parametrize(("record", "path", "message"), [
    ({"stage": "a"}, "/id", "is missing"),
    ({"id": "A", "history": [{"stage": "a", "at": "soon"}]}, "/history/0/at",
     "'soon' is not an ISO 8601 time"),
    ({"id": "A", "stage": "b", "history": [{"stage": "a", "at": "2026-11-20"}]}, "/stage",
     "stage 'b' is not the last stage of its history ('a')"),
    ({"id": "A", "tasks": [{"id": "t", "due": None, "done": "no"}]}, "/tasks/0/done",
     "expected true or false"),
    ({"id": "A", "pauses": [{"from": "2026-11-20", "to": "2026-11-19", "reason": "x"}]},
     "/pauses/0/to", "a pause cannot end before it starts"),
    ({"id": "A", "history": [{"stage": "a", "at": "0001-01-01T00:00:00"}]}, "/history/0/at",
     "'0001-01-01T00:00:00' is outside the years 1900-2999"),
    ({"id": "A", "tasks": [{"id": "t", "due": "9999-12-31T23:59:59+14:00"}]}, "/tasks/0/due",
     "'9999-12-31T23:59:59+14:00' is outside the years 1900-2999"),
])
def test_errors_name_the_bad_part(record: dict[str, Any], path: str, message: str) -> None:
    with pytest.raises(DealError) as err:
        parse_deal(record, ZONE)
    assert err.value.path == path
    assert err.value.message.startswith(message)


def test_moved_appends_to_the_history() -> None:
    deal = Deal(id="A", stage="a")
    at = datetime(2026, 11, 20, tzinfo=UTC)
    moved = deal.moved(HistoryEntry("b", at))
    assert (moved.stage, moved.history) == ("b", (HistoryEntry("b", at),))
    assert moved.to_dict()["history"] == [{"stage": "b", "at": "2026-11-20T00:00:00+00:00"}]


@pytest.mark.parametrize(("ident", "named"), [
    (True, "True"), (False, "False"), (7, "7"), ("A-1", "A-1"), ("", ""), (1.5, "1.5"),
    (None, None)])
def test_every_reader_names_a_record_by_one_deal_id_rule(ident: Any, named: str | None) -> None:
    # The evaluator has always named a record refused for its id by str() of the id (so true
    # is 'True'); every reader's record now says the same.
    data = {"id": ident, "stage": "meeting"}
    assert deal_id(data) == named
    assert Record("x", data).deal == named
    assert jsonl_record("d.jsonl:1", orjson.dumps(data)).deal == named
    assert batch_records(pa.Table.from_pylist([data]), "d.parquet")[0].deal == named
    assert partition_records([data], "d")[0].deal == named
    assert deal_id([data]) is None and Record("x", error="unreadable").deal is None


def test_a_reader_that_could_not_read_the_data_still_names_its_deal() -> None:
    assert Record("x", error="bad row", deal="E-5").deal == "E-5"
    assert Record("x", {"id": "A"}, deal="B").deal == "B"


def test_any_input_item_becomes_a_record_in_one_place() -> None:
    deal = Deal(id="A", stage="a")
    record = Record("deals.jsonl:3", {"id": "B"})
    assert as_record(record, "ignored") is record
    assert as_record(deal, "record 1") == Record("record 1", deal)
    assert as_record({"id": 5}, "record 2") == Record("record 2", {"id": 5}, deal="5")
    assert as_record(("deals.jsonl:4", b'{"id": "C"}\n')) == Record("deals.jsonl:4", {"id": "C"})
    assert as_record(("deals.jsonl:5", b"{not json")).error is not None
