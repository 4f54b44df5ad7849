"""The evaluator's semantics: the reference cases of examples/EXPECTED.md and the edges of time.

Every expected figure here was worked out by hand from the rule it tests (see each docstring).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from helpers import ROOT

from pipeline_rules.deals.decode import parse_deal
from pipeline_rules.deals.model import Record
from pipeline_rules.evaluate import Evaluator
from pipeline_rules.evaluate.findings import Finding
from pipeline_rules.ruleset.catalog import load_ruleset, load_ruleset_source
from pipeline_rules.ruleset.source import Source

NOW = datetime.fromisoformat("2026-11-20T09:05:00+03:00")
SAMPLE = [json.loads(line) for line in
          (ROOT / "examples" / "deals.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def b2b() -> Evaluator:
    return Evaluator(load_ruleset(ROOT / "rulesets" / "b2b_sales.yaml"))


def summary(findings: list[Finding]) -> list[tuple[Any, ...]]:
    return [(f.deal, f.kind, f.code, f.rule, f.at.isoformat(), f.notify, f.channel)
            for f in findings]


def test_the_reference_deals_give_exactly_what_expected_md_says(b2b: Evaluator) -> None:
    found = list(b2b.evaluate(SAMPLE, NOW))
    assert summary(found) == [
        ("A-100", "action", "escalate", "meeting-stall", "2026-11-17T12:00:00+03:00",
         "manager", "crm_task"),
        ("A-100", "violation", "sla-breach", "meeting-stall", "2026-11-17T12:00:00+03:00",
         None, None),
        ("A-100", "action", "remind", "meeting-reminder", "2026-11-20T09:00:00+03:00",
         "client", "sms"),
        ("A-101", "action", "escalate", "invoice-payment", "2026-10-07T10:00:00+03:00",
         "manager", "crm_task"),
        ("A-101", "violation", "sla-breach", "invoice-payment", "2026-10-07T10:00:00+03:00",
         None, None),
        ("A-101", "violation", "cycle-breach", "whole-cycle", "2026-10-29T10:00:00+03:00",
         None, None),
        ("A-101", "action", "escalate", "whole-cycle", "2026-10-29T10:00:00+03:00",
         "manager", "crm_task"),
        ("A-102", "violation", "next-task-too-far", "tasks.max_gap.proposal",
         "2026-11-20T09:05:00+03:00", None, None),
        ("A-103", "violation", "task-overdue", "tasks.overdue_grace",
         "2026-11-18T18:00:00+03:00", None, None),
        ("A-104", "violation", "skipped-stage", "transitions", "2026-11-19T10:00:00+03:00",
         None, None),
    ]
    remind = found[2]
    assert remind.due == datetime.fromisoformat("2026-11-20T09:00:00+03:00")
    assert remind.details["event_at"] == "2026-11-20T11:00:00+03:00"
    assert found[-1].details["skipped"] == ["qualification", "meeting"]
    assert found[0].details["recipient"] == "anna"


def test_every_finding_has_the_contract_fields(b2b: Evaluator) -> None:
    for finding in b2b.evaluate(SAMPLE, NOW):
        data = finding.to_dict()
        assert {"kind", "code", "rule", "deal", "stage", "at", "message"} <= set(data)
        if data["kind"] == "violation":
            assert data["severity"] in ("error", "warning")
        else:
            assert {"action", "notify", "channel", "due", "key"} <= set(data)
            assert len(data["key"]) == 32


def test_keys_are_stable_across_runs_and_change_with_the_due_time(b2b: Evaluator) -> None:
    keys_0905 = [f.key for f in b2b.evaluate(SAMPLE, NOW) if f.kind == "action"]
    keys_0910 = [f.key for f in b2b.evaluate(SAMPLE, NOW + timedelta(minutes=5))
                 if f.kind == "action"]
    assert keys_0905 == keys_0910
    assert len(set(keys_0905)) == len(keys_0905)
    moved = {**SAMPLE[0], "events": [{"type": "meeting", "at": "2026-11-20T11:10:00+03:00"}]}
    [remind] = [f for f in b2b.evaluate_one(moved, NOW) if f.code == "remind"]
    assert remind.key not in keys_0905


def test_evaluation_is_pure_and_input_ordered(b2b: Evaluator) -> None:
    first = [f.to_dict() for f in b2b.evaluate(SAMPLE, NOW)]
    again = [f.to_dict() for f in b2b.evaluate(SAMPLE, NOW)]
    assert first == again
    reversed_deals = [f.deal for f in b2b.evaluate(list(reversed(SAMPLE)), NOW)]
    assert list(dict.fromkeys(reversed_deals)) == ["A-104", "A-103", "A-102", "A-101", "A-100"]


def test_a104_gets_no_warning_on_the_working_calendar(b2b: Evaluator) -> None:
    """7 h 05 min of the 40 working hours of 5 business days: 17.7 %, below the 80 % warning."""
    found = b2b.evaluate_one(SAMPLE[4], NOW)
    assert [f.code for f in found] == ["skipped-stage"]


def test_warning_names_the_highest_threshold_passed(b2b: Evaluator) -> None:
    """meeting-stall: 7 days from 2026-11-16 12:00; at 11-20 09:05 that is 3 d 21 h 05 min of
    7 d = 55.4 %: past 50 %, not 80 % -> one warning at 50 %, dated 11-19 24:00."""
    history = [*SAMPLE[0]["history"][:2], {"stage": "meeting", "at": "2026-11-16T12:00:00+03:00"}]
    deal = {**SAMPLE[0], "history": history, "events": []}
    [warning] = [f for f in b2b.evaluate_one(deal, NOW) if f.code == "sla-warning"]
    assert warning.details["threshold"] == 50
    assert warning.details["used_percent"] == 55.4
    assert warning.at == datetime.fromisoformat("2026-11-20T00:00:00+03:00")
    later = [f.code for f in b2b.evaluate_one(deal, datetime.fromisoformat(
        "2026-11-22T12:00:00+03:00")) if f.code.startswith("sla")]
    assert later == ["sla-warning"]  # 85.7 %: now the 80 % warning, still one finding
    breached = [f.code for f in b2b.evaluate_one(deal, datetime.fromisoformat(
        "2026-11-23T12:00:00+03:00")) if f.code.startswith("sla")]
    assert breached == ["sla-breach"]


def test_stage_time_counts_from_the_last_entry_into_the_stage(b2b: Evaluator) -> None:
    """The invoice date rules, whatever the tasks say; re-entering resets the clock."""
    deal = {**SAMPLE[1], "history": [*SAMPLE[1]["history"],
                                     {"stage": "proposal", "at": "2026-11-18T10:00:00+03:00"},
                                     {"stage": "invoice", "at": "2026-11-19T10:00:00+03:00"}]}
    codes = [f.code for f in b2b.evaluate_one(deal, NOW)]
    assert "sla-breach" not in codes
    assert codes.count("illegal-transition") == 1  # invoice -> proposal is not declared


def ruleset(text: str) -> Evaluator:
    return Evaluator(load_ruleset_source(Source("t.yaml", text)))


BERLIN = """
version: 1
id: berlin
timezone: Europe/Berlin
calendars:
  office:
    week: [mon, tue, wed, thu, fri]
    hours: ["09:00-12:00", "13:00-17:00"]
    holidays: {country: DE, subdiv: BE}
stages:
  - {id: open}
  - {id: won, terminal: won}
  - {id: lost, terminal: lost}
start: [{stage: open}]
transitions:
  - {from: open, to: won}
  - {from: "*", to: lost}
sla:
  - {id: wall, stage: open, limit: 24h}
  - {id: days, stage: open, limit: 2 business days, calendar: office}
  - {id: hours, stage: open, limit: 8 business hours, calendar: office, pausable: true,
     warn: [20]}
"""


def deal(entered: str, **extra: Any) -> dict[str, Any]:
    return {"id": "D", "stage": "open", "history": [{"stage": "open", "at": entered}], **extra}


def deadlines(evaluator: Evaluator, record: dict[str, Any], now: str) -> dict[str, str]:
    found = evaluator.evaluate_one(record, datetime.fromisoformat(now))
    return {f.rule: f.details["deadline"] for f in found
            if f.code in ("sla-breach", "sla-warning") and f.rule}


def test_wall_clock_sla_across_the_spring_dst_change() -> None:
    """24 h from Sat 2026-03-28 12:00 CET is Sun 2026-03-29 13:00 CEST (a 23-hour day)."""
    found = deadlines(ruleset(BERLIN), deal("2026-03-28T12:00:00+01:00"),
                      "2026-03-30T09:00:00+02:00")
    assert found["wall"] == "2026-03-29T13:00:00+02:00"


def test_business_sla_across_the_autumn_dst_change_and_a_weekend() -> None:
    """2 business days from Fri 2026-10-23 10:00 CEST: Tue 10-27 10:00 CET (the clock went
    back on Sunday; the working clock is unaffected). 8 business hours from Fri 10:00:
    2 + 4 on Friday, then 2 on Monday -> Mon 11:00."""
    found = deadlines(ruleset(BERLIN), deal("2026-10-23T10:00:00+02:00"),
                      "2026-10-28T09:00:00+01:00")
    assert found["days"] == "2026-10-27T10:00:00+01:00"
    assert found["hours"] == "2026-10-26T11:00:00+01:00"


def test_a_holiday_in_the_middle_of_a_business_day_sla() -> None:
    """Russia, Unity Day: Wed 4 Nov 2026 is a holiday. 5 business days from Mon 2 Nov 10:00
    skip it: Tue, Thu, Fri, Mon, Tue -> Tue 10 Nov 10:00."""
    ev = Evaluator(load_ruleset(ROOT / "rulesets" / "b2b_sales.yaml"))
    record = {"id": "H", "stage": "proposal", "source": "cold",
              "history": [{"stage": "find_dm", "at": "2026-10-29T10:00:00+03:00"},
                          {"stage": "qualification", "at": "2026-10-30T10:00:00+03:00"},
                          {"stage": "meeting", "at": "2026-10-30T12:00:00+03:00"},
                          {"stage": "proposal", "at": "2026-11-02T10:00:00+03:00"}],
              "tasks": [{"id": "t", "due": "2026-11-11T10:00:00+03:00", "done": False}]}
    found = ev.evaluate_one(record, datetime.fromisoformat("2026-11-11T09:00:00+03:00"))
    [breach] = [f for f in found if f.code == "sla-breach"]
    assert breach.at == datetime.fromisoformat("2026-11-10T10:00:00+03:00")


def test_a_start_outside_working_hours_and_the_lunch_break() -> None:
    """Entered Sat 2026-11-21 15:00 (Moscow): counting starts Mon 09:00. 5 business days -> Mon
    11-30 09:00. At Mon 11-23 13:30 (lunch) 4 h are used of 40 h: 10 %."""
    ev = Evaluator(load_ruleset(ROOT / "rulesets" / "b2b_sales.yaml"))
    record = {"id": "S", "stage": "proposal", "source": "cold",
              "history": [{"stage": "find_dm", "at": "2026-11-19T10:00:00+03:00"},
                          {"stage": "qualification", "at": "2026-11-20T10:00:00+03:00"},
                          {"stage": "meeting", "at": "2026-11-20T11:00:00+03:00"},
                          {"stage": "proposal", "at": "2026-11-21T15:00:00+03:00"}]}
    lunch = datetime.fromisoformat("2026-11-23T13:30:00+03:00")
    from pipeline_rules.time.clock import start_timer

    compiled = ev.compiled
    timer = start_timer(datetime.fromisoformat("2026-11-21T15:00:00+03:00"),
                        compiled.duration("5 business days"), compiled.calendar("workdays"))
    assert timer.deadline == datetime.fromisoformat("2026-11-30T09:00:00+03:00")
    assert timer.used(lunch) == pytest.approx(4 / 40)
    assert timer.used(lunch + timedelta(minutes=29)) == pytest.approx(4 / 40)
    warn_time = datetime.fromisoformat("2026-11-27T10:00:00+03:00")  # 33 h of 40: 82.5 %
    [warning] = [f for f in ev.evaluate_one(record, warn_time) if f.code == "sla-warning"]
    assert warning.details["threshold"] == 80
    # 32 h (80 %) are used up exactly at Thursday's close, 18:00.
    assert warning.at == datetime.fromisoformat("2026-11-26T18:00:00+03:00")


def test_a_pause_stops_only_pausable_slas() -> None:
    """Paused Mon 2026-11-02 09:00 to Wed 11-04 09:00 (Berlin): `hours` (8 business hours,
    pausable) counts 2 h on Fri 10-30 (15:00-17:00), then resumes Wed: 09-12 and 13-16 make
    the other 6 h -> Wed 16:00. `days` (not pausable) ignores the pause: Tue 11-03 15:00."""
    record = deal("2026-10-30T15:00:00+01:00", pauses=[
        {"from": "2026-11-02T09:00:00+01:00", "to": "2026-11-04T09:00:00+01:00",
         "reason": "client on holiday"}])
    found = deadlines(ruleset(BERLIN), record, "2026-11-05T09:00:00+01:00")
    assert found["hours"] == "2026-11-04T16:00:00+01:00"
    assert found["days"] == "2026-11-03T15:00:00+01:00"


def test_an_open_pause_freezes_a_pausable_sla() -> None:
    record = deal("2026-10-30T15:00:00+01:00", pauses=[
        {"from": "2026-11-02T09:00:00+01:00", "to": None, "reason": "waiting for budget"}])
    found = ruleset(BERLIN).evaluate_one(record, datetime.fromisoformat(
        "2027-01-05T09:00:00+01:00"))
    assert {f.rule for f in found if f.code == "sla-breach"} == {"wall", "days"}
    [frozen] = [f for f in found if f.rule == "hours"]
    assert frozen.code == "sla-warning"
    assert frozen.details["used_percent"] == 25.0  # 2 of 8 hours, then the clock stopped


def test_a_deal_stuck_for_two_years() -> None:
    """In `open` since Wed 2024-11-20 10:00: the breaches are dated at their deadlines, two
    years back (8 business hours: 2 + 4 on Wednesday, 2 on Thursday -> Thu 11:00)."""
    found = deadlines(ruleset(BERLIN), deal("2024-11-20T10:00:00+01:00"),
                      "2026-11-20T10:00:00+01:00")
    assert found == {"wall": "2024-11-21T10:00:00+01:00", "days": "2024-11-22T10:00:00+01:00",
                     "hours": "2024-11-21T11:00:00+01:00"}


REMIND = """
version: 1
id: remind
timezone: Europe/Moscow
stages:
  - {id: meeting}
  - {id: won, terminal: won}
  - {id: lost, terminal: lost}
start: [{stage: meeting}]
transitions:
  - {from: meeting, to: won}
  - {from: "*", to: lost}
reminders:
  - {id: meeting-reminder, event: meeting, before: 2h, notify: client, channel: sms}
"""


def remind_codes(text: str, event: str, now: str, horizon: timedelta = timedelta(0)) -> list[str]:
    ev = Evaluator(load_ruleset_source(Source("r.yaml", text)), horizon=horizon)
    record = {"id": "R", "stage": "meeting",
              "history": [{"stage": "meeting", "at": "2026-11-01T10:00:00+03:00"}],
              "events": [{"type": "meeting", "at": event}]}
    return [f.due.isoformat() for f in ev.evaluate_one(record, datetime.fromisoformat(now))
            if f.code == "remind" and f.due]


def test_reminder_due_exactly_at_the_next_run_waits_for_that_run() -> None:
    """Schedule every 15 min; run at 09:05, next at 09:15. A reminder due 09:15 (meeting 11:15)
    is left to the 09:15 run; one due 09:14 is sent now; the 09:15 run sends the first."""
    scheduled = REMIND + 'schedule: {evaluate: "*/15 8-19 * * mon-fri"}\n'
    assert remind_codes(scheduled, "2026-11-20T11:15:00+03:00", "2026-11-20T09:05:00+03:00") == []
    assert remind_codes(scheduled, "2026-11-20T11:14:00+03:00",
                        "2026-11-20T09:05:00+03:00") == ["2026-11-20T09:14:00+03:00"]
    assert remind_codes(scheduled, "2026-11-20T11:15:00+03:00",
                        "2026-11-20T09:15:00+03:00") == ["2026-11-20T09:15:00+03:00"]


def test_reminder_over_the_weekend_is_sent_by_the_last_run_before_it() -> None:
    """Friday's last run is 19:45; the next is Monday 08:00. A reminder due Mon 07:00 (meeting
    09:00) must go out on Friday evening, or it would be late."""
    scheduled = REMIND + 'schedule: {evaluate: "*/15 8-19 * * mon-fri"}\n'
    assert remind_codes(scheduled, "2026-11-23T09:00:00+03:00",
                        "2026-11-20T19:45:00+03:00") == ["2026-11-23T07:00:00+03:00"]


def test_reminders_without_a_schedule_use_the_horizon_and_never_after_the_event() -> None:
    assert remind_codes(REMIND, "2026-11-20T11:10:00+03:00", "2026-11-20T09:05:00+03:00") == []
    assert remind_codes(REMIND, "2026-11-20T11:10:00+03:00", "2026-11-20T09:05:00+03:00",
                        timedelta(minutes=5)) == ["2026-11-20T09:10:00+03:00"]
    assert remind_codes(REMIND, "2026-11-20T11:00:00+03:00", "2026-11-20T09:05:00+03:00") == [
        "2026-11-20T09:00:00+03:00"]  # due before now, event still ahead: sent (late)
    assert remind_codes(REMIND, "2026-11-20T09:05:00+03:00", "2026-11-20T09:05:00+03:00") == []


BUSINESS_REMIND = REMIND.replace("before: 2h,", "before: 2 business hours,") + """
calendars:
  workdays: {hours: ["09:00-13:00", "14:00-18:00"], holidays: {country: RU}}
"""


def test_a_business_lead_time_is_due_at_the_latest_instant_it_allows() -> None:
    """Two working hours before Friday 10:00 begin at Thursday 17:00 sharp: one working hour
    that evening, one on Friday morning; over a weekend, from Friday afternoon."""
    assert remind_codes(BUSINESS_REMIND, "2026-11-20T10:00:00+03:00", "2026-11-19T09:00:00+03:00",
                        timedelta(days=1)) == ["2026-11-19T17:00:00+03:00"]
    assert remind_codes(BUSINESS_REMIND, "2026-11-23T09:30:00+03:00", "2026-11-20T09:00:00+03:00",
                        timedelta(days=1)) == ["2026-11-20T16:30:00+03:00"]
    # An event during lunch: the working hour before it ends at 13:00, so 11:00.
    assert remind_codes(BUSINESS_REMIND, "2026-11-20T13:30:00+03:00", "2026-11-20T09:00:00+03:00",
                        timedelta(days=1)) == ["2026-11-20T11:00:00+03:00"]


def test_closed_deals_get_no_sla_task_or_reminder_findings(b2b: Evaluator) -> None:
    lost = {**SAMPLE[0], "stage": "lost", "fields": {"loss_reason": "budget"},
            "history": [*SAMPLE[0]["history"], {"stage": "lost",
                                                "at": "2026-11-19T10:00:00+03:00"}]}
    assert b2b.evaluate_one(lost, NOW) == []


def test_no_next_task(b2b: Evaluator) -> None:
    found = b2b.evaluate_one({**SAMPLE[3], "tasks": []}, NOW)
    assert [(f.code, f.rule, f.severity) for f in found] == [
        ("no-next-task", "tasks.require_next", "warning")]


BAD = [
    Record("deals.jsonl:2", error="malformed JSON: unexpected end of data"),
    {"stage": "meeting"},
    {"id": "X1"},
    {"id": "X2", "stage": "negotiation"},
    {"id": "X3", "stage": "meeting", "history": [{"stage": "meeting", "at": "last week"}]},
    {"id": "X4", "stage": "meeting", "history": [
        {"stage": "qualification", "at": "2026-11-10T10:00:00+03:00"},
        {"stage": "meeting", "at": "2026-11-09T10:00:00+03:00"}]},
    {"id": "A-100", "stage": "meeting"},
]


def test_bad_records_are_reported_and_the_rest_still_evaluated(b2b: Evaluator) -> None:
    stream = [SAMPLE[0], *BAD, SAMPLE[2]]
    found = list(b2b.evaluate(stream, NOW))
    bad = [(f.details["record"], f.deal, f.message) for f in found if f.code == "bad-record"]
    assert bad == [
        ("deals.jsonl:2", None, "deals.jsonl:2: malformed JSON: unexpected end of data"),
        ("record 3", None, "record 3: is missing"),
        ("record 4", "X1", "record 4: the deal has no stage and no history"),
        ("record 5", "X2", "record 5: stage 'negotiation' is not in the regulation"),
        ("record 6", "X3", "record 6: 'last week' is not an ISO 8601 time "
                           "(e.g. 2026-11-20T09:05:00+03:00)"),
        ("record 7", "X4", "record 7: history is out of time order: entry 1 "
                           "(2026-11-09 10:00:00+03:00) is before entry 0 "
                           "(2026-11-10 10:00:00+03:00)"),
        ("record 8", "A-100", "record 8: deal id 'A-100' already appeared earlier in the input"),
    ]
    paths = [f.details.get("path") for f in found if f.code == "bad-record"]
    assert paths == [None, "/id", "/stage", "/stage", "/history/0/at", "/history/1/at", "/id"]
    assert {f.deal for f in found if f.code != "bad-record"} == {"A-100", "A-102"}


def test_times_without_an_offset_are_read_in_the_ruleset_zone(b2b: Evaluator) -> None:
    naive = {**SAMPLE[3], "history": [{"stage": "find_dm", "at": "2026-11-16T10:00:00"},
                                      {"stage": "qualification", "at": "2026-11-18T10:00:00"}],
             "tasks": [{"id": "A-103-1", "due": "2026-11-18T17:00:00", "done": False}]}
    [overdue] = b2b.evaluate_one(naive, NOW)
    assert overdue.at == datetime.fromisoformat("2026-11-18T18:00:00+03:00")


def test_per_run_memory_stays_bounded(b2b: Evaluator) -> None:
    from pipeline_rules.evaluate import context

    run = b2b.run(NOW)
    zone = b2b.compiled.zone
    start = datetime.fromisoformat("2026-03-01T00:00:00+00:00")  # across Moscow's year
    moments = [start + timedelta(minutes=7 * i) for i in range(context._STAMPS + 500)]
    texts = [run.iso(m) for m in moments]
    assert len(run._stamps) <= context._STAMPS  # formatted instants are forgotten in bulk
    assert texts == [m.astimezone(zone).isoformat() for m in moments]
    assert run.iso(moments[0]) == "2026-03-01T03:00:00+03:00"  # asked again after the purge
    assert run.time(moments[0]) == "2026-03-01 03:00"


def test_the_language_belongs_to_the_run(b2b: Evaluator) -> None:
    deal = SAMPLE[0]
    english = b2b.findings(parse_deal(deal, b2b.compiled.zone), b2b.run(NOW))
    russian = b2b.findings(parse_deal(deal, b2b.compiled.zone), b2b.run(NOW, lang="ru"))
    assert [f.code for f in russian] == [f.code for f in english]
    assert all(r.message != e.message for r, e in zip(russian, english, strict=True))
    assert russian == Evaluator(b2b.compiled, lang="ru").findings(
        parse_deal(deal, b2b.compiled.zone), Evaluator(b2b.compiled, lang="ru").run(NOW))
