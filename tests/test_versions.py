"""Versions in force, by hand: each timer judged by the version in force when it began, moves
by the one in force when made, tasks and reminders by the one in force at ``now``; a finding
names its version; an unchanged rule keeps its action keys across a switch; re-based deals; the
folder's checks."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from helpers import ROOT

from pipeline_rules.cli import main
from pipeline_rules.evaluate import Evaluator
from pipeline_rules.evaluate.findings import Finding
from pipeline_rules.ruleset.catalog import compile_path, load_catalog
from pipeline_rules.ruleset.versions import Versions

EXAMPLE = ROOT / "examples" / "versions" / "b2b_sales"
BASE = (ROOT / "rulesets" / "b2b_sales.yaml").read_text("utf-8")
MSK = "+03:00"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text + MSK)


def version(revision: str, effective: str, **replace: str) -> str:
    text = BASE.replace("version: 1\n",
                        f"version: 1\nrevision: {revision}\neffective: {effective}\n", 1)
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


def folder(tmp_path: Path, *texts: str) -> Path:
    where = tmp_path / "b2b_sales"
    where.mkdir()
    for number, text in enumerate(texts, 1):
        (where / f"v{number}.yaml").write_text(text, encoding="utf-8")
    return where


def evaluator(path: Path) -> Evaluator:
    catalog = load_catalog(path)
    (ruleset_id,) = catalog.versions
    return Evaluator(catalog.rulesets[ruleset_id], versions=catalog.versions[ruleset_id])


def meeting_deal(entered: str, deal_id: str = "D-1", **fields: Any) -> dict[str, Any]:
    return {"id": deal_id, "stage": "meeting", "source": "cold", "owner": "o", "manager": "m",
            "fields": fields,
            "history": [{"stage": "find_dm", "at": entered + "T08:00:00" + MSK},
                        {"stage": "qualification", "at": entered + "T09:00:00" + MSK},
                        {"stage": "meeting", "at": entered + "T10:00:00" + MSK}],
            "tasks": [{"id": "t", "due": "2027-01-20T10:00:00" + MSK, "done": False}]}


def only(findings: list[Finding], code: str, rule: str | None = None) -> list[Finding]:
    return [f for f in findings if f.code == code and (rule is None or f.rule == rule)]


def test_the_example_folder_is_one_ruleset_in_two_versions() -> None:
    catalog = load_catalog(EXAMPLE)
    assert catalog.single and list(catalog.versions) == ["b2b-sales"]
    versions = catalog.versions["b2b-sales"]
    assert [c.revision for c in versions.entries] == ["1", "2"]
    assert versions.at(at("2026-11-30T23:59:59")).revision == "1"
    assert versions.at(at("2026-12-01T00:00:00")).revision == "2"
    assert catalog.rulesets["b2b-sales"] is versions.latest


def test_a_stage_entered_under_v1_keeps_7d_after_v2_takes_effect() -> None:
    judge = evaluator(EXAMPLE)
    # Entered 25 Nov under v1 (7d: due 2 Dec 10:00); v2 (8d) took effect on 1 Dec.
    findings = judge.evaluate_one(meeting_deal("2026-11-25"), at("2026-12-02T12:00:00"))
    (breach,) = only(findings, "sla-breach", "meeting-stall")
    assert breach.details["deadline"] == "2026-12-02T10:00:00+03:00"
    assert breach.version == "1" and breach.to_dict()["version"] == "1"
    # Tasks are judged by the version in force now.
    assert {f.version for f in findings if f.rule and f.rule.startswith("tasks")} <= {"2"}


def test_a_stage_entered_after_v2_takes_effect_gets_8d() -> None:
    judge = evaluator(EXAMPLE)
    findings = judge.evaluate_one(meeting_deal("2026-12-01"), at("2026-12-08T12:00:00"))
    assert not only(findings, "sla-breach", "meeting-stall")  # 7d would have run out at 10:00
    later = judge.evaluate_one(meeting_deal("2026-12-01"), at("2026-12-09T12:00:00"))
    (breach,) = only(later, "sla-breach", "meeting-stall")
    assert breach.details["deadline"] == "2026-12-09T10:00:00+03:00" and breach.version == "2"


def test_the_escalation_key_stays_the_same_across_the_switch() -> None:
    judge = evaluator(EXAMPLE)
    deal = meeting_deal("2026-11-20")  # 7d under v1: due 27 Nov 10:00
    before = only(judge.evaluate_one(deal, at("2026-11-28T12:00:00")), "escalate")
    after = only(judge.evaluate_one(deal, at("2026-12-03T12:00:00")), "escalate")
    assert before and [f.key for f in before] == [f.key for f in after]
    assert [f.due for f in before] == [f.due for f in after]
    # Judged by v2 alone the same deal would be due a day later, under another key.
    v2 = Evaluator(compile_path(EXAMPLE / "v2.yaml"))
    alone = only(v2.evaluate_one(deal, at("2026-12-03T12:00:00")), "escalate")
    assert alone and alone[0].key != before[0].key


def test_a_span_started_under_v1_is_judged_by_v1(tmp_path: Path) -> None:
    where = folder(tmp_path, version("1", "2026-01-01T00:00:00+03:00"),
                   version("2", "2026-12-01T00:00:00+03:00", **{"limit: 45d": "limit: 60d"}))
    judge = evaluator(where)
    # The cycle began 1 Oct under v1 (45d: due 15 Nov 08:00), v2 gives 60d.
    deal = meeting_deal("2026-10-01")
    (breach,) = only(judge.evaluate_one(deal, at("2026-12-02T12:00:00")), "cycle-breach")
    assert breach.version == "1" and breach.details["limit"] == "45d"
    # A cycle begun under v2 gets 60 days.
    fresh = meeting_deal("2026-12-01", "D-2")
    assert not only(judge.evaluate_one(fresh, at("2027-01-20T12:00:00")), "cycle-breach")
    (late,) = only(judge.evaluate_one(fresh, at("2027-02-01T12:00:00")), "cycle-breach")
    assert late.version == "2" and late.details["limit"] == "60d"


def test_a_rebased_deal_is_judged_by_the_version_in_force_when_rebased() -> None:
    judge = evaluator(EXAMPLE)
    deal = meeting_deal("2026-11-25", rebased_at="2026-12-01T12:00:00+03:00")
    findings = judge.evaluate_one(deal, at("2026-12-02T12:00:00"))
    assert not only(findings, "sla-breach", "meeting-stall")  # 8d from 25 Nov: 3 Dec 10:00
    later = judge.evaluate_one(deal, at("2026-12-03T12:00:00"))
    (breach,) = only(later, "sla-breach", "meeting-stall")
    assert breach.version == "2" and breach.details["deadline"] == "2026-12-03T10:00:00+03:00"


def test_a_bad_rebase_instant_is_a_bad_record_with_its_pointer() -> None:
    judge = evaluator(EXAMPLE)
    deal = meeting_deal("2026-11-25", rebased_at="soon")
    (bad,) = judge.evaluate_one(deal, at("2026-12-02T12:00:00"))
    assert bad.code == "bad-record" and bad.details["path"] == "/fields/rebased_at"
    assert "/fields/rebased_at is not a time" in bad.message


def test_a_history_older_than_every_version_is_said(tmp_path: Path) -> None:
    judge = evaluator(EXAMPLE)
    findings = judge.evaluate_one(meeting_deal("2026-10-20"), at("2026-11-02T12:00:00"))
    (said,) = only(findings, "before-versions")
    assert said.version == "1" and said.severity == "warning"
    assert said.at == at("2026-10-20T08:00:00")


def test_moves_are_judged_by_the_version_in_force_when_made(tmp_path: Path) -> None:
    # v2 allows qualification → proposal; a jump made under v1 stays illegal, one under v2 not.
    allow = {"  - {from: qualification, to: meeting}\n":
             "  - {from: qualification, to: meeting}\n"
             "  - {from: qualification, to: proposal}\n"}
    where = folder(tmp_path, version("1", "2026-01-01T00:00:00+03:00"),
                   version("2", "2026-12-01T00:00:00+03:00", **allow))
    judge = evaluator(where)

    def jumped(day: str) -> dict[str, Any]:
        deal = meeting_deal(day)
        deal["history"][-1]["stage"] = deal["stage"] = "proposal"
        return deal
    now = at("2026-12-05T12:00:00")
    old = judge.evaluate_one(jumped("2026-11-20"), now)
    new = judge.evaluate_one(jumped("2026-12-02"), now)
    moves = ("skipped-stage", "illegal-transition")
    assert [f.version for f in old if f.code in moves] == ["1"]
    assert not [f for f in new if f.code in moves]


def test_unversioned_findings_have_no_version_field() -> None:
    plain = Evaluator(compile_path(ROOT / "rulesets" / "b2b_sales.yaml"))
    findings = plain.evaluate_one(meeting_deal("2026-11-20"), at("2026-12-03T12:00:00"))
    assert findings and all("version" not in f.to_dict() for f in findings)


def test_evaluate_command_on_a_versions_folder(tmp_path: Path) -> None:
    deals = tmp_path / "deals.jsonl"
    deals.write_text(json.dumps(meeting_deal("2026-11-25")) + "\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["evaluate", str(EXAMPLE), str(deals), "--now",
                                       "2026-12-02T12:00:00+03:00", "--format", "jsonl"])
    rows = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    breach = [r for r in rows if r["code"] == "sla-breach"]
    assert breach and breach[0]["version"] == "1", result.output



def test_parquet_findings_carry_the_version_column(tmp_path: Path) -> None:
    """The Parquet findings of a versions folder have the version each JSON finding names,
    those of a plain ruleset a null one; read back, both are the JSON findings."""
    import pyarrow.parquet as pq  # the parquet extra; the dev extra installs it

    from pipeline_rules.outputs.parquet import read_findings

    deals = tmp_path / "deals.jsonl"
    deals.write_text(json.dumps(meeting_deal("2026-11-25")) + "\n"
                     + json.dumps(meeting_deal("2026-12-01", "D-2")) + "\n", encoding="utf-8")
    now = ["--now", "2026-12-10T12:00:00+03:00"]
    for ruleset, name in ((EXAMPLE, "folder"), (ROOT / "rulesets" / "b2b_sales.yaml", "plain")):
        out = tmp_path / f"{name}.parquet"
        written = CliRunner().invoke(main, ["evaluate", str(ruleset), str(deals), *now,
                                            "--output", str(out)])
        assert written.exit_code in (0, 1), written.output
        shown = CliRunner().invoke(main, ["evaluate", str(ruleset), str(deals), *now,
                                          "--format", "jsonl"])
        rows = [json.loads(line) for line in shown.output.splitlines()
                if line.startswith("{")]
        column = pq.read_table(out, columns=["version"]).column("version").to_pylist()
        assert column == [r.get("version") for r in rows]
        assert [stored.finding for stored in read_findings(str(out))] == rows
        if name == "folder":
            assert {"1", "2"} <= set(column)
        else:
            assert rows and set(column) == {None}

# -- the folder's checks ------------------------------------------------------------------------

def _problems(path: Path) -> list[str]:
    catalog = load_catalog(path)
    assert not catalog.versions
    return [f"{Path(d.file).name}:{d.line}:{d.column}: {d.message}"
            for problem in catalog.problems for d in problem.diagnostics]


def test_two_versions_at_one_instant_make_the_folder_unusable(tmp_path: Path) -> None:
    where = folder(tmp_path, version("1", "2026-12-01T00:00:00+03:00"),
                   version("2", "2026-12-01"))
    assert _problems(where) == [
        "v2.yaml:5:1: two versions take effect at 2026-12-01: this one and "
        f"{where / 'v1.yaml'}; which one is in force is unclear"]


def test_a_version_that_changes_the_id_is_refused(tmp_path: Path) -> None:
    where = folder(tmp_path, version("1", "2026-11-01"),
                   version("2", "2026-12-01", **{"id: b2b-sales": "id: b2b-sales-2"}))
    (problem,) = _problems(where)
    assert problem.startswith("v2.yaml:6:1: this version changes the ruleset id to "
                              "'b2b-sales-2'; the folder's versions are of 'b2b-sales'")


def test_a_file_without_a_revision_in_a_versions_folder_is_refused(tmp_path: Path) -> None:
    where = folder(tmp_path, version("1", "2026-11-01"), BASE)
    (problem,) = _problems(where)
    assert problem.startswith("v2.yaml:3:1: a versions folder")


def test_a_directory_of_rulesets_holds_versions_folders(tmp_path: Path) -> None:
    folder(tmp_path, version("1", "2026-11-01"), version("2", "2026-12-01"))
    (tmp_path / "retail.yaml").write_bytes((ROOT / "rulesets" / "retail.yaml").read_bytes())
    catalog = load_catalog(tmp_path)
    assert not catalog.single and sorted(catalog.rulesets) == ["b2b-sales", "retail-orders"]
    assert [c.revision for c in catalog.versions["b2b-sales"].entries] == ["1", "2"]


def test_versions_order_by_instant_not_by_file_name(tmp_path: Path) -> None:
    where = folder(tmp_path, version("b", "2026-12-01"), version("a", "2026-11-01"))
    versions: Versions = load_catalog(where).versions["b2b-sales"]
    assert [c.revision for c in versions.entries] == ["a", "b"]


@pytest.mark.parametrize("when, expected", [("2026-10-01T00:00:00+03:00", 1),
                                            ("2026-11-01T00:00:00+03:00", 0)])
def test_lint_warns_when_no_version_is_in_force_yet(when: str, expected: int) -> None:
    from pipeline_rules.lint.versions import lint_versions

    found = lint_versions(EXAMPLE, datetime.fromisoformat(when))
    assert len(found) == expected
    if found:
        assert found[0].severity.value == "warning" and found[0].path == "/effective"
        assert found[0].rule == "versions-none-in-force"


def test_lint_reports_a_folder_whose_versions_clash(tmp_path: Path) -> None:
    where = folder(tmp_path, version("1", "2026-12-01T00:00:00+03:00"),
                   version("1", "2026-12-01", **{"id: b2b-sales": "id: b2b"}))
    result = CliRunner().invoke(main, ["lint", "--no-source", "--color", "never", "--lang", "en",
                                       str(where)])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if "[versions-" in line]
    v2 = where / "v2.yaml"
    # Each folder rule reports on the file it finds the problem in, in file order.
    assert lines == [
        f"{v2}:4:1: error [versions-same-revision] revision '1' is already taken by "
        f"{where / 'v1.yaml'}",
        f"{v2}:5:1: error [versions-same-instant] two versions take effect at 2026-12-01: this "
        f"one and {where / 'v1.yaml'}; which one is in force is unclear",
        f"{v2}:6:1: error [versions-mixed-id] this version changes the ruleset id to 'b2b'; the "
        f"folder's versions are of 'b2b-sales' ({where / 'v1.yaml'})"]


def test_lint_warns_about_a_folder_not_in_force_yet(tmp_path: Path) -> None:
    where = folder(tmp_path, version("1", "2999-01-01"))
    args = ["lint", "--no-source", "--color", "never", "--lang", "en", str(tmp_path)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0
    assert (f"{where / 'v1.yaml'}:5:1: warning [versions-none-in-force] no version of "
            "'b2b-sales' is in force yet: the first takes effect 2999-01-01") in result.output
    assert CliRunner().invoke(main, [*args, "--strict"]).exit_code == 1


# -- the HTTP service -------------------------------------------------------------------------

def test_the_service_serves_a_versions_folder_and_reloads_it(tmp_path: Path) -> None:
    import shutil

    from pipeline_rules.server.registry import Registry
    from pipeline_rules.server.service import check_transition, evaluate

    where = folder(tmp_path, version("1", "2020-01-01T00:00:00+03:00"),
                   version("2", "2021-01-01T00:00:00+03:00", **{"limit: 7d": "limit: 8d"}))
    shutil.copy(ROOT / "rulesets" / "retail.yaml", tmp_path / "retail.yaml")
    registry = Registry(tmp_path)
    assert [e["event"] for e in registry.refresh()] == ["ruleset-loaded", "ruleset-loaded"]
    listing = {entry["file"]: entry for entry in registry.listing()}
    assert listing["b2b_sales"]["status"] == "ok" and listing["b2b_sales"]["id"] == "b2b-sales"
    assert listing["b2b_sales"]["versions"] == [
        {"revision": "1", "effective": "2020-01-01T00:00:00+03:00", "file": "b2b_sales/v1.yaml"},
        {"revision": "2", "effective": "2021-01-01T00:00:00+03:00", "file": "b2b_sales/v2.yaml"}]
    assert "versions" not in listing["retail.yaml"]
    served = registry.get("b2b-sales")
    assert served is not None
    deal = meeting_deal("2020-12-25")  # entered under v1: 7 days
    result = evaluate(served, [("/deals/0", deal)], at("2021-01-02T12:00:00"), "en")
    (breach,) = [f for f in result.findings if f["code"] == "sla-breach"]
    assert breach["version"] == "1" and breach["at"] == "2021-01-01T10:00:00+03:00"
    decision = check_transition(served, deal, "proposal", "en")
    assert decision["allowed"] and decision["version"] == "2"  # v2 is in force now
    # A version edited: the folder is reloaded whole; a broken edit keeps the last good one.
    (where / "v2.yaml").write_text(version("2", "2021-01-01T00:00:00+03:00",
                                           **{"limit: 7d": "limit: 9d"}), encoding="utf-8")
    assert [e["event"] for e in registry.refresh()] == ["ruleset-reloaded"]
    (where / "v3.yaml").write_text(version("3", "2021-01-01T00:00:00+03:00"), encoding="utf-8")
    events = registry.refresh()
    assert [e["event"] for e in events] == ["ruleset-error"]
    assert "two versions take effect" in events[0]["first"]
    assert registry.get("b2b-sales") is not None


def test_plain_check_transition_answers_have_no_version() -> None:
    from pipeline_rules.server.registry import Version, build_version
    from pipeline_rules.server.service import check_transition

    data = (ROOT / "rulesets" / "b2b_sales.yaml").read_bytes()
    served = build_version("b2b_sales.yaml", data, at("2026-11-20T09:00:00"))
    assert isinstance(served, Version)
    decision = check_transition(served, meeting_deal("2026-11-10"), "proposal", "en")
    assert "version" not in decision


# -- backtest and analyze -----------------------------------------------------------------------

def _backtest(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["backtest", *args, str(ROOT / "examples" / "deals.jsonl"),
                                       "--from", "2026-11-01", "--to", "2026-12-10",
                                       "--format", "json"])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.output[result.output.index("{"):])
    return data


def test_backtest_compares_two_versions_of_one_ruleset() -> None:
    data = _backtest(f"{EXAMPLE}@1", "--compare", "@2")
    moved = {(c["code"], c["rule"]): (c["added"], c["removed"]) for c in data["changes"]}
    assert moved[("sla-breach", "meeting-stall")] == (1, 1)  # 7 days → 8 days for A-100
    assert data["changes"][0]["examples_removed"] == ["deal A-100 at 2026-11-17 12:00"]


def test_backtest_of_a_folder_judges_each_point_by_the_version_in_force() -> None:
    # A-100 entered its meeting under v1: the folder judges it as v1 alone does.
    data = _backtest(str(EXAMPLE), "--compare", "@1")
    assert [(c["code"], c["added"], c["removed"]) for c in data["changes"]] == [
        ("before-versions", 0, 1)]  # only the folder says a history predates its versions


def test_backtest_names_a_missing_revision() -> None:
    result = CliRunner().invoke(main, ["backtest", f"{EXAMPLE}@9",
                                       str(ROOT / "examples" / "deals.jsonl"),
                                       "--from", "2026-11-01", "--to", "2026-11-02"])
    assert result.exit_code == 2 and "has no revision '9' (it has 1, 2)" in result.output


def test_analyze_times_each_visit_by_the_version_in_force_when_it_began() -> None:
    from pipeline_rules.analytics import analyze

    versions = load_catalog(EXAMPLE).versions["b2b-sales"]

    def left_after(entered: str, deal_id: str) -> dict[str, Any]:
        deal = meeting_deal(entered, deal_id)
        deal["stage"] = "proposal"
        start = datetime.fromisoformat(entered + "T10:00:00" + MSK)
        # 7.5 days in the meeting stage: over 7 days, within 8.
        deal["history"].append({"stage": "proposal",
                                "at": (start + (at("2026-01-08T22:00:00")
                                                - at("2026-01-01T10:00:00"))).isoformat()})
        return deal
    deals = [left_after("2026-11-10", "under-v1"), left_after("2026-12-02", "under-v2")]
    now = at("2026-12-20T12:00:00")
    report = analyze(versions.latest, deals, now, versions)
    (meeting,) = [s for s in report.stages if s.stage == "meeting"]
    assert meeting.sla_limit == "8d"  # the report shows the version in force now
    assert meeting.breached == 1  # the visit begun under v1 went over its 7 days
    plain = analyze(versions.latest, deals, now)
    (alone,) = [s for s in plain.stages if s.stage == "meeting"]
    assert alone.breached == 0


def test_check_judges_a_move_by_the_version_in_force_when_made(tmp_path: Path) -> None:
    allow = {"  - {from: qualification, to: meeting}\n":
             "  - {from: qualification, to: meeting}\n"
             "  - {from: qualification, to: proposal}\n"}
    where = folder(tmp_path, version("1", "2026-01-01T00:00:00+03:00"),
                   version("2", "2026-12-01T00:00:00+03:00", **allow))
    deal = meeting_deal("2026-11-20")
    deal["history"].pop()
    deal["stage"] = "qualification"
    file = tmp_path / "deal.json"
    file.write_text(json.dumps(deal), encoding="utf-8")
    args = ["check", str(where), "--deal", str(file), "--to", "proposal", "--format", "json",
            "--lang", "en", "--now"]
    before = CliRunner().invoke(main, [*args, "2026-11-30T12:00:00+03:00"])
    after = CliRunner().invoke(main, [*args, "2026-12-01T12:00:00+03:00"])
    assert (before.exit_code, after.exit_code) == (1, 0)
    assert json.loads(before.output)["version"] == "1"
    assert json.loads(after.output)["version"] == "2"


def test_every_lint_format_carries_the_folders_problems(tmp_path: Path) -> None:
    where = folder(tmp_path, version("1", "2026-11-01"), version("2", "2026-11-01"))
    for fmt in ("json", "sarif", "github"):
        result = CliRunner().invoke(main, ["lint", "--format", fmt, "--lang", "en", str(where)])
        assert result.exit_code == 1, (fmt, result.output)
        assert "two versions take effect at 2026-11-01" in result.output, fmt
    sarif = CliRunner().invoke(main, ["lint", "--format", "sarif", str(where)])
    (found,) = json.loads(sarif.output)["runs"][0]["results"]
    # A registered rule: the result points at its rule entry, which has its help.
    assert found["ruleId"] == "versions-same-instant"
    rules = json.loads(sarif.output)["runs"][0]["tool"]["driver"]["rules"]
    assert rules[found["ruleIndex"]]["id"] == "versions-same-instant"
    assert found["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 5, "startColumn": 1, "snippet": {"text": "effective: 2026-11-01"}}


def test_a_judge_of_versions_crosses_to_worker_processes(tmp_path: Path) -> None:
    import pickle

    from pipeline_rules.deals.model import Record
    from pipeline_rules.evaluate.judge import Judge, Runs, judge_records

    judge = Judge.of(load_catalog(EXAMPLE))
    copy = pickle.loads(pickle.dumps(judge))
    records = [Record(f"record {n}", meeting_deal(day, f"D-{n}"))
               for n, day in enumerate(("2026-11-20", "2026-11-25", "2026-12-01"))]
    now = at("2026-12-09T12:00:00")

    def findings(of: Judge) -> list[dict[str, Any]]:
        return [f.to_dict() for judged in judge_records(of, records, Runs(now))
                for f in judged.findings]
    assert findings(copy) == findings(judge)
    assert {f["version"] for f in findings(copy) if f["code"] == "sla-breach"} == {"1", "2"}


def test_a_switch_on_the_night_clocks_go_back_on_a_business_calendar(tmp_path: Path) -> None:
    """Berlin leaves summer time on 25 October 2026; version 2 takes effect that night (local
    time, no offset: read in the ruleset's zone) and gives the request 3 business days, not 2,
    on the plant's calendar."""
    text = (ROOT / "rulesets" / "manufacturing.yaml").read_text("utf-8")
    where = tmp_path / "manufacturing"
    where.mkdir()
    for revision, effective, limit in (("1", "2026-01-01", "2"), ("2", "2026-10-25T03:00", "3")):
        body = text.replace("version: 1\n", f"version: 1\nrevision: {revision}\n"
                                            f"effective: {effective}\n", 1)
        body = body.replace("    limit: 2 business days\n", f"    limit: {limit} business days\n")
        (where / f"v{revision}.yaml").write_text(body, encoding="utf-8")
    versions = load_catalog(where).versions["manufacturing"]
    assert versions.instants[1] == datetime.fromisoformat("2026-10-25T03:00:00+01:00")
    judge = Evaluator(versions.latest, versions=versions)

    def request(entered: str) -> dict[str, Any]:
        return {"id": entered, "stage": "request", "source": "web_form",
                "history": [{"stage": "request", "at": entered}],
                "tasks": [{"id": "t", "due": "2026-10-30T10:00:00+01:00", "done": False}]}
    # Entered on Friday under summer time and version 1: 2 business days, due Tuesday 10:00 CET.
    friday = judge.evaluate_one(request("2026-10-23T10:00:00+02:00"),
                                datetime.fromisoformat("2026-10-27T12:00:00+01:00"))
    (breach,) = only(friday, "sla-breach", "request-response")
    assert breach.version == "1" and breach.details["deadline"] == "2026-10-27T10:00:00+01:00"
    # Entered on Monday under version 2: 3 business days, due Thursday 10:00.
    monday = judge.evaluate_one(request("2026-10-26T10:00:00+01:00"),
                                datetime.fromisoformat("2026-10-29T12:00:00+01:00"))
    (later,) = only(monday, "sla-breach", "request-response")
    assert later.version == "2" and later.details["deadline"] == "2026-10-29T10:00:00+01:00"


ROUTED = ROOT / "examples" / "b2b_sales_routed.yaml"


def routed_folder(tmp_path: Path) -> Path:
    """The routed reference ruleset in two versions (the second from 1 Nov 2026, with a longer
    proposal limit), its owner → manager file beside them."""
    text = ROUTED.read_text("utf-8")
    where = tmp_path / "routed"
    where.mkdir()
    (where / "managers.csv").write_bytes((ROUTED.parent / "managers.csv").read_bytes())
    for revision, effective in (("1", "2026-01-01"), ("2", "2026-11-01")):
        body = text.replace("version: 1\n", f"version: 1\nrevision: {revision}\n"
                            f"effective: {effective}\n", 1)
        (where / f"v{revision}.yaml").write_text(body, encoding="utf-8")
    return where


def test_entry_actions_pause_limits_and_routing_work_on_versions(tmp_path: Path) -> None:
    """A deal whose history began under v1 gets, from a versions folder, the same stage-entry
    actions, pause-limit violation and routed alerts as from the one file (they were left out
    once for a deal judged by more than one version)."""
    catalog = load_catalog(routed_folder(tmp_path))
    (ruleset_id,) = catalog.versions
    judge = Evaluator(catalog.rulesets[ruleset_id], versions=catalog.versions[ruleset_id])
    plain = Evaluator(compile_path(ROUTED))
    deal = {"id": "R-1", "stage": "proposal", "source": "cold", "owner": "olga",
            "history": [{"stage": "find_dm", "at": "2026-10-20T10:00:00" + MSK},
                        {"stage": "qualification", "at": "2026-10-21T10:00:00" + MSK},
                        {"stage": "meeting", "at": "2026-10-22T10:00:00" + MSK},
                        {"stage": "proposal", "at": "2026-11-23T10:00:00" + MSK}],
            "tasks": [{"id": "t", "due": "2026-11-24T10:00:00" + MSK, "done": False}],
            "pauses": [{"from": "2026-11-02T09:00:00" + MSK, "to": None, "reason": "budget"}]}
    now = at("2026-11-23T12:00:00")

    def acts(findings: list[Finding]) -> list[tuple[str, str | None, str | None]]:
        return sorted((f.code, f.rule, f.key) for f in findings
                      if f.code in ("create-task", "pause-too-long", "notify"))

    versioned = judge.evaluate_one(deal, now)
    expected = acts(plain.evaluate_one(deal, now))
    assert {code for code, _, _ in expected} == {"create-task", "pause-too-long", "notify"}
    assert acts(versioned) == expected
    assert {f.version for f in versioned if f.code in ("create-task", "pause-too-long")} == {"2"}


# -- re-basing a deal through the API and over HTTP ----------------------------------------------

def test_rebase_records_the_instant_and_judges_by_the_version_then_in_force() -> None:
    from pipeline_rules.evaluate import rebase

    judge = evaluator(EXAMPLE)
    deal = meeting_deal("2026-11-25")  # entered under v1 (7d): breached 2 Dec 10:00
    assert only(judge.evaluate_one(deal, at("2026-12-02T12:00:00")), "sla-breach")
    rebased = rebase(judge, deal, at("2026-12-02T12:00:00"))
    assert rebased.version == "2"
    assert rebased.effective is not None and rebased.effective.isoformat() == \
        "2026-12-01T00:00:00+03:00"
    assert rebased.deal["fields"] == {"rebased_at": "2026-12-02T12:00:00+03:00"}
    assert deal["fields"] == {}  # the caller's record is left as it was
    # From then on the deal is on v2 (8d from 25 Nov: 3 Dec 10:00), wherever it is judged.
    assert not only(rebased.findings, "sla-breach", "meeting-stall")
    (breach,) = only(judge.evaluate_one(rebased.deal, at("2026-12-03T12:00:00")),
                     "sla-breach", "meeting-stall")
    assert breach.version == "2"


def test_rebase_refuses_a_bad_deal_naming_it() -> None:
    from pipeline_rules.deals.model import DealError
    from pipeline_rules.evaluate import rebase

    judge = evaluator(EXAMPLE)
    bad = meeting_deal("2026-11-25")
    bad["history"][1]["at"] = "yesterday"
    with pytest.raises(DealError) as caught:
        rebase(judge, bad, at("2026-12-02T12:00:00"))
    assert caught.value.path == "/history/1/at"
    nowhere = {**meeting_deal("2026-11-25"), "stage": "limbo"}
    with pytest.raises(DealError) as caught:
        rebase(judge, nowhere, at("2026-12-02T12:00:00"))
    assert caught.value.path == "/stage"


def test_rebase_on_a_ruleset_not_kept_in_versions_records_the_instant() -> None:
    from pipeline_rules.evaluate import rebase

    plain = Evaluator(compile_path(ROOT / "rulesets" / "b2b_sales.yaml"))
    deal = meeting_deal("2026-11-25")
    rebased = rebase(plain, deal, at("2026-12-02T12:00:00"))
    assert (rebased.version, rebased.effective) == (None, None)
    assert rebased.deal["fields"] == {"rebased_at": "2026-12-02T12:00:00+03:00"}
    assert rebased.findings == plain.evaluate_one(rebased.deal, at("2026-12-02T12:00:00"))
    assert only(rebased.findings, "sla-breach", "meeting-stall")  # one version: the same 7d


def test_rebase_over_http(tmp_path: Path) -> None:
    import shutil

    from fastapi.testclient import TestClient

    from pipeline_rules.server import Settings, create_app

    shutil.copytree(EXAMPLE, tmp_path / "b2b_sales")
    shutil.copy(ROOT / "rulesets" / "retail.yaml", tmp_path / "retail.yaml")
    client = TestClient(create_app(Settings(str(tmp_path))))
    deal = meeting_deal("2026-11-25")
    answer = client.post("/v1/rebase", json={"ruleset": "b2b-sales", "deal": deal,
                                             "now": "2026-12-02T12:00:00+03:00"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["ruleset"], body["version"], body["effective"]) == (
        "b2b-sales", "2", "2026-12-01T00:00:00+03:00")
    assert body["deal"]["fields"]["rebased_at"] == "2026-12-02T12:00:00+03:00"
    assert not [f for f in body["findings"] if f["code"] == "sla-breach"]
    assert body["summary"] == dict(Counter(f["code"] for f in body["findings"]))
    # The re-based deal, evaluated later, stays on v2.
    later = client.post("/v1/evaluate", json={"ruleset": "b2b-sales", "deal": body["deal"],
                                              "now": "2026-12-03T12:00:00+03:00"}).json()
    assert [f["version"] for f in later["findings"] if f["code"] == "sla-breach"] == ["2"]
    # Bad input: 4xx with a pointer, never a 500.
    bad = {**deal, "history": [{**deal["history"][0], "at": "soon"}, *deal["history"][1:]]}
    refused = client.post("/v1/rebase", json={"ruleset": "b2b-sales", "deal": bad})
    assert refused.status_code == 422
    assert (refused.json()["error"], refused.json()["path"]) == ("bad-deal",
                                                                 "/deal/history/0/at")
    when = client.post("/v1/rebase", json={"ruleset": "b2b-sales", "deal": deal, "now": "soon"})
    assert when.status_code == 422 and when.json()["path"] == "/now"
    retail = {"id": "R-1", "stage": "new_order", "history": [{"stage": "new_order",
                                                        "at": "2026-12-01T10:00:00+03:00"}]}
    plain = client.post("/v1/rebase", json={"ruleset": "retail-orders", "deal": retail,
                                            "now": "2026-12-02T12:00:00+03:00"})
    assert plain.status_code == 200, plain.text
    assert plain.json()["version"] is None and plain.json()["effective"] is None
    unknown = client.post("/v1/rebase", json={"ruleset": "nope", "deal": deal})
    assert unknown.status_code == 404
    assert "/v1/rebase" in client.get("/openapi.json").json()["paths"]


def test_folder_rules_obey_suppression_comments_and_the_config(tmp_path: Path) -> None:
    """The folder rules are rules like the others: a comment in the file they report on, or
    the lint configuration, turns them off (and a folder a rule is silenced for is still not
    used: lint says so, the catalog decides)."""
    silenced = "revision: 1  # pipeline-rules: disable=versions-same-revision\n"
    where = folder(tmp_path, version("1", "2026-11-01"),
                   version("1", "2026-12-01").replace("revision: 1\n", silenced))
    args = ["lint", "--no-source", "--color", "never", "--lang", "en", str(where)]
    assert "[versions-same-revision]" not in CliRunner().invoke(main, args).output
    config = tmp_path / "lint.yaml"
    config.write_text("rules: {versions-same-instant: off}\n", encoding="utf-8")
    (tmp_path / "other").mkdir()
    clash = folder(tmp_path / "other", version("1", "2026-11-01"), version("2", "2026-11-01"))
    plain = CliRunner().invoke(main, [*args[:-1], str(clash)])
    assert plain.exit_code == 1 and "[versions-same-instant]" in plain.output
    quiet = CliRunner().invoke(main, [*args[:-1], "--config", str(config), str(clash)])
    assert "[versions-same-instant]" not in quiet.output and quiet.exit_code == 0
