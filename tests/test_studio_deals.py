"""The studio's deals and what-if functions (pipeline_rules/studio/deals.py) on the examples."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from pipeline_rules.cli import main
from pipeline_rules.ruleset.catalog import compile_path
from pipeline_rules.ruleset.compiled import CompiledRuleset
from pipeline_rules.studio.context import compile_named
from pipeline_rules.studio.deals import (
    LoadError,
    Period,
    PeriodError,
    check_period,
    find_record,
    findings_at,
    load_deals,
    time_span,
    timeline,
    what_if,
)
from tests.helpers import ROOT

DEALS = str(ROOT / "examples" / "deals.jsonl")
RULESET = ROOT / "rulesets" / "b2b_sales.yaml"
WIDE = ROOT / "examples" / "wide_export"
NOW = datetime.fromisoformat("2026-11-20T09:05:00+03:00")


@pytest.fixture(scope="module")
def b2b() -> CompiledRuleset:
    return compile_path(RULESET)


def tightened(limit: str = "2d") -> CompiledRuleset:
    """The reference regulation with the meeting SLA tightened from 7d to ``limit``."""
    text = RULESET.read_text("utf-8")
    assert "limit: 7d" in text
    return compile_named("b2b_sales.yaml", text.replace("limit: 7d", f"limit: {limit}", 1))


def test_loads_the_example_deals_with_their_span(b2b: CompiledRuleset) -> None:
    counts: list[int] = []
    loaded = load_deals(DEALS, b2b.zone, progress=counts.append)
    assert [r.deal for r in loaded.records] == [f"A-10{i}" for i in range(6)]
    assert loaded.bad == () and loaded.bad_count == 0 and loaded.capped is None
    assert counts[-1] == 6
    span = time_span(loaded.deals.values())
    assert span is not None
    # A-101 entered 'request' on 14 Sep; A-102's task is due 18 Dec: the slider's ends.
    assert span.to_dict() == {"start": "2026-09-14T10:00:00+03:00",
                              "end": "2026-12-18T10:00:00+03:00"}
    assert loaded.summary()["span"] == span.to_dict()


def test_bad_lines_are_kept_out_with_their_line_numbers(tmp_path: Path,
                                                        b2b: CompiledRuleset) -> None:
    lines = Path(DEALS).read_text("utf-8").splitlines()
    bad_time = json.loads(lines[1])
    bad_time["history"][0]["at"] = "yesterday"
    text = "\n".join([lines[0], "{not json", json.dumps(bad_time), lines[0], lines[2]]) + "\n"
    path = tmp_path / "deals.jsonl"
    path.write_text(text, "utf-8")
    loaded = load_deals(str(path), b2b.zone)
    assert [r.deal for r in loaded.records] == ["A-100", "A-102"]
    assert [(b.line, b.path) for b in loaded.bad] == [(2, ""), (3, "/history/0/at"),
                                                      (4, "/id")]
    assert "malformed JSON" in loaded.bad[0].message
    assert "yesterday" in loaded.bad[1].message
    assert "A-100" in loaded.bad[2].message and f"{path}:1" in loaded.bad[2].message
    assert loaded.summary()["bad"] == 3


def test_a_file_past_the_cap_loads_the_first_deals_and_names_the_cap(
        tmp_path: Path, b2b: CompiledRuleset) -> None:
    record = json.loads(Path(DEALS).read_text("utf-8").splitlines()[0])
    path = tmp_path / "many.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for n in range(1, 1201):
            out.write(json.dumps({**record, "id": f"D-{n}"}) + "\n")
    counts: list[int] = []
    loaded = load_deals(str(path), b2b.zone, cap=1100, progress=counts.append)
    assert counts == [500, 1000, 1100]
    assert len(loaded.records) == 1100 and loaded.records[-1].deal == "D-1100"
    assert loaded.capped is not None and "1,100" in loaded.capped
    assert loaded.summary()["capped"] == loaded.capped
    full = load_deals(str(path), b2b.zone, cap=5000)
    assert len(full.records) == 1200 and full.capped is None


def test_a_load_can_be_stopped(tmp_path: Path, b2b: CompiledRuleset) -> None:
    record = json.loads(Path(DEALS).read_text("utf-8").splitlines()[0])
    path = tmp_path / "many.jsonl"
    path.write_text("".join(json.dumps({**record, "id": f"D-{n}"}) + "\n"
                            for n in range(600)), "utf-8")

    class StoppedError(Exception):
        pass

    def stop() -> None:
        raise StoppedError

    with pytest.raises(StoppedError):
        load_deals(str(path), b2b.zone, stop=stop)


def test_a_wide_csv_export_loads_through_its_mapping() -> None:
    compiled = compile_path(WIDE / "ruleset.yaml")
    loaded = load_deals(str(WIDE / "deals.csv"), compiled.zone, str(WIDE / "mapping.yaml"))
    assert len(loaded.records) == 240 and loaded.bad_count == 0
    deal = loaded.deals["OPP-0002"]
    assert deal.manager is not None  # joined from the teams table
    assert [h.stage for h in deal.history] == ["engaging", "won"]


def test_a_csv_without_a_mapping_is_refused_clearly(b2b: CompiledRuleset) -> None:
    with pytest.raises(LoadError) as caught:
        load_deals(str(WIDE / "deals.csv"), b2b.zone)
    assert caught.value.code == "mapping-needed"
    assert "--mapping" in caught.value.message


def test_a_mapping_that_does_not_fit_the_csv_gives_the_mapping_lint(tmp_path: Path) -> None:
    text = (WIDE / "mapping.yaml").read_text("utf-8").replace("engage_date", "engaged_on")
    for name in ("sales_teams.csv", "accounts.csv", "deals.csv"):
        (tmp_path / name).write_bytes((WIDE / name).read_bytes())
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(text, "utf-8")
    compiled = compile_path(WIDE / "ruleset.yaml")
    with pytest.raises(LoadError) as caught:
        load_deals(str(tmp_path / "deals.csv"), compiled.zone, str(mapping))
    error = caught.value
    assert error.code == "mapping-does-not-fit"
    assert [d.rule for d in error.diagnostics] == ["mapping-column"]
    line = text.splitlines().index("  engaging: engaged_on") + 1
    assert error.diagnostics[0].line == line
    assert "'engaged_on'" in error.message and f"mapping.yaml:{line}:" in error.message


def test_findings_per_deal_are_what_evaluate_writes(b2b: CompiledRuleset) -> None:
    loaded = load_deals(DEALS, b2b.zone)
    result = findings_at(b2b, loaded.records, NOW)
    run = CliRunner().invoke(main, ["evaluate", str(RULESET), DEALS, "--now", NOW.isoformat(),
                                    "--format", "jsonl", "--lang", "en"])
    assert run.exit_code == 0, run.output
    evaluated = [orjson.loads(line) for line in run.stdout.splitlines() if line.strip()]
    assert [f for row in result["deals"] for f in row["findings"]] == evaluated
    codes = {row["deal"]: sorted(f["code"] for f in row["findings"]) for row in result["deals"]}
    # examples/EXPECTED.md, deal by deal.
    assert codes == {"A-100": ["escalate", "remind", "sla-breach"],
                     "A-101": ["cycle-breach", "escalate", "escalate", "sla-breach"],
                     "A-102": ["next-task-too-far"], "A-103": ["task-overdue"],
                     "A-104": ["skipped-stage"], "A-105": []}
    assert result["summary"]["escalate"] == 3


def test_findings_move_with_now(b2b: CompiledRuleset) -> None:
    records = load_deals(DEALS, b2b.zone).records
    before = findings_at(b2b, records, datetime.fromisoformat("2026-11-13T09:00:00+03:00"))
    a100 = next(row for row in before["deals"] if row["deal"] == "A-100")
    # Three days into the 7-day meeting SLA: not even the 50 % warning yet; its task, due
    # 20 Nov 11:00, is then 7 days 2 hours away, over the 7-day gap allowed.
    assert [(f["code"], f["rule"]) for f in a100["findings"]] == [
        ("next-task-too-far", "tasks.max_gap.default")]


def test_timeline_of_a_breached_deal(b2b: CompiledRuleset) -> None:
    record = find_record(load_deals(DEALS, b2b.zone).records, "A-100")
    assert record is not None
    line = timeline(b2b, record, NOW)
    assert [(b["stage"], b["entered"], b["left"]) for b in line["stages"]] == [
        ("find_dm", "2026-11-02T11:00:00+03:00", "2026-11-05T16:00:00+03:00"),
        ("qualification", "2026-11-05T16:00:00+03:00", "2026-11-10T12:00:00+03:00"),
        ("meeting", "2026-11-10T12:00:00+03:00", None)]
    sla, cycle = line["slas"]
    assert sla["rule"] == "meeting-stall" and sla["breached"]
    # The whole cycle (45 days from 2 Nov 11:00) still runs.
    assert (cycle["rule"], cycle["deadline"], cycle["breached"]) == (
        "whole-cycle", "2026-12-17T11:00:00+03:00", False)
    assert sla["deadline"] == "2026-11-17T12:00:00+03:00"
    # 50 % and 80 % of 7 days after Tue 10 Nov 12:00.
    assert [(w["percent"], w["at"]) for w in sla["warnings"]] == [
        (50, "2026-11-14T00:00:00+03:00"), (80, "2026-11-16T02:24:00+03:00")]
    assert [(a["code"], a["due"], a["notify"], a["recipient"], a["planned"])
            for a in line["actions"]] == [
        ("escalate", "2026-11-17T12:00:00+03:00", "manager", "anna", False),
        ("remind", "2026-11-20T09:00:00+03:00", "client", None, False),
        ("escalate", "2026-12-17T11:00:00+03:00", "manager", "anna", True)]
    assert line["events"] == [{"type": "meeting", "at": "2026-11-20T11:00:00+03:00"}]
    assert line["tasks"][0]["overdue"] is False
    assert line["start"] == "2026-11-02T11:00:00+03:00"
    assert line["end"] == "2026-12-17T11:00:00+03:00"


def test_timeline_of_a_deal_over_its_whole_cycle(b2b: CompiledRuleset) -> None:
    record = find_record(load_deals(DEALS, b2b.zone).records, "A-101")
    assert record is not None
    line = timeline(b2b, record, NOW)
    # Past visits keep their timers: the meeting and proposal SLAs, met; the invoice, breached.
    assert [(s["rule"], s["visit"], s["breached"]) for s in line["slas"]] == [
        ("meeting-stall", 2, False), ("proposal-decision", 3, False),
        ("invoice-payment", 4, True), ("whole-cycle", None, True)]
    cycle = line["slas"][-1]
    # examples/EXPECTED.md: started 14 Sep, over 45 days.
    assert (cycle["span"], cycle["from"], cycle["to"], cycle["since"], cycle["deadline"]) == (
        True, "start", "end", "2026-09-14T10:00:00+03:00", "2026-10-29T10:00:00+03:00")
    breach = next(f for f in line["findings"] if f["code"] == "cycle-breach")
    assert breach["at"] == cycle["deadline"]
    assert [(a["rule"], a["recipient"]) for a in line["actions"]] == [
        ("invoice-payment", "anna"), ("whole-cycle", "anna")]


def test_timeline_before_the_breach_shows_what_is_planned(b2b: CompiledRuleset) -> None:
    record = find_record(load_deals(DEALS, b2b.zone).records, "A-100")
    assert record is not None
    line = timeline(b2b, record, datetime.fromisoformat("2026-11-12T09:00:00+03:00"))
    sla = line["slas"][0]
    assert not sla["breached"] and [w["passed"] for w in sla["warnings"]] == [False, False]
    assert [(a["code"], a["due"], a["recipient"], a["planned"]) for a in line["actions"]] == [
        ("escalate", "2026-11-17T12:00:00+03:00", "anna", True),
        ("remind", "2026-11-20T09:00:00+03:00", None, True),
        ("escalate", "2026-12-17T11:00:00+03:00", "anna", True)]


def test_timeline_deadline_skips_a_holiday(b2b: CompiledRuleset) -> None:
    deal = {"id": "H-1", "stage": "proposal", "source": "email", "owner": "olga",
            "manager": "anna", "history": [
                {"stage": "request", "at": "2026-10-28T10:00:00+03:00"},
                {"stage": "qualification", "at": "2026-10-29T10:00:00+03:00"},
                {"stage": "meeting", "at": "2026-10-30T10:00:00+03:00"},
                {"stage": "proposal", "at": "2026-11-02T10:00:00+03:00"}]}
    from pipeline_rules.deals.model import Record

    line = timeline(b2b, Record("test:1", deal), datetime.fromisoformat(
        "2026-11-03T10:00:00+03:00"))
    proposal = next(s for s in line["slas"] if s["rule"] == "proposal-decision")
    # Five business days from Mon 2 Nov: Wed 4 Nov is Unity Day in Russia, so Tue 10 Nov.
    assert proposal["deadline"] == "2026-11-10T10:00:00+03:00"


def test_timeline_across_the_end_of_summer_time() -> None:
    compiled = compile_path(WIDE / "ruleset.yaml")
    loaded = load_deals(str(WIDE / "deals.csv"), compiled.zone, str(WIDE / "mapping.yaml"))
    record = find_record(loaded.records, "OPP-0030")  # engaged on 3 Sep 2025, still engaging
    assert record is not None
    line = timeline(compiled, record, datetime.fromisoformat("2025-10-01T12:00:00+02:00"))
    engagement = next(s for s in line["slas"] if s["rule"] == "engagement")
    assert engagement["since"] == "2025-09-03T00:00:00+02:00"
    # 60 civil days on: midnight in Berlin again, now on winter time.
    assert engagement["deadline"] == "2025-11-02T00:00:00+01:00"
    assert not engagement["breached"]
    [escalate] = [a for a in line["actions"] if a["code"] == "escalate"]
    assert escalate["planned"] and escalate["notify"] == "manager" and escalate["recipient"]
    assert line["stages"][0] == {"stage": "prospecting", "title": "Prospecting",
                                 "entered": None, "left": "2025-09-03T00:00:00+02:00",
                                 "current": False, "undated": True}


def test_timeline_of_a_deal_the_ruleset_cannot_judge(b2b: CompiledRuleset) -> None:
    from pipeline_rules.deals.model import Record

    line = timeline(b2b, Record("test:1", {"id": "X", "stage": "nowhere"}), NOW)
    assert line["path"] == "/stage" and "nowhere" in line["error"]


def test_what_if_a_tightened_sla(b2b: CompiledRuleset) -> None:
    records = load_deals(DEALS, b2b.zone).records
    result = what_if(b2b, tightened("2d"), records, NOW,
                     Period(NOW - timedelta(days=60), NOW, timedelta(days=1)))
    impact = result["impact"]
    # A-100's breach comes five days earlier: it moves; nothing appears or disappears.
    assert (impact["appears"], impact["disappears"], impact["moves"]) == (0, 0, 2)
    moved = {(c["deal"], c["new"]["code"], c["old"]["at"], c["new"]["at"])
             for c in impact["changes"]}
    assert ("A-100", "sla-breach", "2026-11-17T12:00:00+03:00",
            "2026-11-12T12:00:00+03:00") in moved
    back = result["backtest"]
    assert back["points"] == 61
    breach = next(c for c in back["changes"]
                  if c["code"] == "sla-breach" and c["rule"] == "meeting-stall")
    assert breach["added"] > 0
    assert "deal A-100 at 2026-11-12 12:00" in breach["examples_added"]
    assert back["net"] == sum(c["added"] - c["removed"] for c in back["changes"]) > 0
    meeting = next(s for s in result["dwell"] if s["stage"] == "meeting")
    assert (meeting["saved"]["seconds"], meeting["draft"]["seconds"]) == (7 * 86400, 2 * 86400)
    assert meeting["draft"]["breach_share"] > meeting["saved"]["breach_share"]
    assert meeting["dwell"]["count"] == 3


def test_what_if_a_new_sla_makes_findings_appear(b2b: CompiledRuleset) -> None:
    text = RULESET.read_text("utf-8").replace(
        "  - id: meeting-stall\n",
        "  - id: qualify-fast\n    stage: qualification\n    limit: 1d\n"
        "  - id: meeting-stall\n", 1)
    draft = compile_named("b2b_sales.yaml", text)
    result = what_if(b2b, draft, load_deals(DEALS, b2b.zone).records, NOW)
    appeared = [(c["deal"], c["new"]["code"], c["new"]["rule"])
                for c in result["impact"]["changes"] if c["change"] == "appears"]
    assert ("A-103", "sla-breach", "qualify-fast") in appeared
    assert result["backtest"] is None


def test_a_backtest_of_too_many_deals_for_its_points_is_refused() -> None:
    period = Period(NOW - timedelta(days=30), NOW, timedelta(days=1))
    check_period(period, deals=3000, max_work=100_000)  # 31 points × 3,000 deals
    with pytest.raises(PeriodError, match=r"4,000 deals at 31 points \(124,000 deal-points\)"):
        check_period(period, deals=4000, max_work=100_000)


@pytest.mark.parametrize(("start", "end", "every", "words"), [
    ("2026-11-20", "2026-11-01", timedelta(days=1), "ends before it starts"),
    ("2025-01-01", "2026-11-01", timedelta(days=1), "at most 366 days"),
    ("2026-01-01", "2026-11-01", timedelta(minutes=5), "use a longer step"),
    ("2026-01-01", "2026-11-01", timedelta(0), "longer than zero"),
])
def test_periods_the_studio_refuses(start: str, end: str, every: timedelta,
                                    words: str) -> None:
    period = Period(datetime.fromisoformat(start + "T00:00:00+00:00"),
                    datetime.fromisoformat(end + "T00:00:00+00:00"), every)
    with pytest.raises(PeriodError, match=words):
        check_period(period)
