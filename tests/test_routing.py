"""Routing: every alert reaches a person (or says why it cannot), and entering a stage acts.

The scenarios are worked out by hand in each test's docstring, on the calendar of the reference
regulation: Europe/Moscow, Monday to Friday 09:00–13:00 and 14:00–18:00 (8 working hours a
day), Russian public holidays — Wednesday 4 November 2026 (Unity Day) among them.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from helpers import ROOT

from pipeline_rules.cli import main
from pipeline_rules.evaluate import Evaluator
from pipeline_rules.evaluate.findings import Finding
from pipeline_rules.lint import lint_file
from pipeline_rules.ruleset.catalog import RulesetError, compile_path
from pipeline_rules.server.app import create_app
from pipeline_rules.server.settings import Settings

ROUTED = ROOT / "examples" / "b2b_sales_routed.yaml"

HEAD = """\
version: 1
id: routed
timezone: Europe/Moscow
calendars:
  workdays:
    week: [mon, tue, wed, thu, fri]
    hours: ["09:00-13:00", "14:00-18:00"]
    holidays: {country: RU}
stages:
  - id: request
  - id: proposal
  - {id: paid, terminal: won}
  - {id: lost, terminal: lost}
start: [{id: any, stage: request}]
end: {won: paid, lost: lost}
transitions:
  - {from: request, to: proposal}
  - {from: proposal, to: paid}
  - {from: "*", to: lost}
"""

LEVELS = HEAD + """\
people:
  head_of_sales: {description: "Head of sales"}
sla:
  - id: proposal-decision
    stage: proposal
    limit: 5 business days
    calendar: workdays
    warn:
      - {at: 50%, notify: owner}
      - {at: 80%, notify: [owner, manager]}
    on_breach:
      - {notify: manager}
      - {after: 2 business days, notify: head_of_sales}
"""


def _write(tmp_path: Path, text: str, name: str = "routed.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _deal(deal_id: str, stage: str, entered: str, **extra: Any) -> dict[str, Any]:
    history = [{"stage": "request", "at": "2026-10-01T10:00:00+03:00"}]
    if stage != "request":
        history.append({"stage": stage, "at": entered})
    else:
        history = [{"stage": "request", "at": entered}]
    return {"id": deal_id, "stage": stage, "owner": "olga", "manager": "anna",
            "history": history, "tasks": [{"id": "t", "due": "2026-12-30T10:00:00+03:00"}],
            **extra}


def _evaluate(path: Path, deal: dict[str, Any], now: str, lang: str = "en") -> list[Finding]:
    return Evaluator(compile_path(path)).evaluate_one(deal, datetime.fromisoformat(now), lang)


def _notes(found: list[Finding]) -> list[tuple[str, str | None, str | None, str]]:
    """(level, role, recipient, due in Moscow time) of each notify action."""
    return [(f.details.get("level", ""), f.notify, f.details["recipient"],
             f.at.strftime("%a %d %b %H:%M")) for f in found if f.code == "notify"]


def test_warning_levels_reach_their_recipients_across_a_holiday(tmp_path: Path) -> None:
    """The proposal was sent Monday 2 November 10:00; the limit is 5 business days (40 working
    hours). Working time: Mon 10:00–18:00 less lunch = 7 h; Tue 3 Nov 8 h (15 h); Wed 4 Nov is
    a holiday; Thu 5 Nov 09:00–13:00 makes 19 h and 14:00–15:00 the 20th: **50 % at Thu 5 Nov
    15:00**. Fri 6 Nov makes 31 h; Mon 9 Nov 09:00–10:00 the 32nd: **80 % at Mon 9 Nov 10:00**.
    At Mon 9 Nov 12:00: the 50 % level tells the owner (olga) at Thu 15:00, the 80 % level the
    owner and the manager (anna) at Mon 10:00; one `sla-warning` (80 %) as before."""
    path = _write(tmp_path, LEVELS)
    found = _evaluate(path, _deal("D-1", "proposal", "2026-11-02T10:00:00+03:00"),
                      "2026-11-09T12:00:00+03:00")
    assert _notes(found) == [("50%", "owner", "olga", "Thu 05 Nov 15:00"),
                             ("80%", "owner", "olga", "Mon 09 Nov 10:00"),
                             ("80%", "manager", "anna", "Mon 09 Nov 10:00")]
    assert [f.details["threshold"] for f in found if f.code == "sla-warning"] == [80]
    keys = {f.key for f in found if f.code == "notify"}
    assert len(keys) == 3  # each level and role its own key
    again = _evaluate(path, _deal("D-1", "proposal", "2026-11-02T10:00:00+03:00"),
                      "2026-11-09T12:30:00+03:00")
    assert {f.key for f in again if f.code == "notify"} == keys  # the same keys a run later


def test_breach_and_the_second_escalation_level_two_business_days_later(tmp_path: Path) -> None:
    """The same proposal breaches when its 40th working hour ends: Tue 10 Nov 10:00 (Mon 9 Nov
    ends at 39 h). The first level (no `after`) tells the manager at the breach; the second,
    `after: 2 business days`, is due two working days later at the same working-clock time:
    Thu 12 Nov 10:00. At Wed 11 Nov 12:00 only the first is due; at Thu 12 Nov 10:00 both,
    the second to the head of sales (a person declared under `people:`). Warning levels stop
    once the SLA is breached, as the warning itself does."""
    path = _write(tmp_path, LEVELS)
    deal = _deal("D-1", "proposal", "2026-11-02T10:00:00+03:00")
    wednesday = _evaluate(path, deal, "2026-11-11T12:00:00+03:00")
    assert [f.at.strftime("%a %d %b %H:%M") for f in wednesday if f.code == "sla-breach"] == [
        "Tue 10 Nov 10:00"]
    assert _notes(wednesday) == [("0", "manager", "anna", "Tue 10 Nov 10:00")]
    thursday = _evaluate(path, deal, "2026-11-12T10:00:00+03:00")
    assert _notes(thursday) == [("0", "manager", "anna", "Tue 10 Nov 10:00"),
                                ("+2 business days", "head_of_sales", "head_of_sales",
                                 "Thu 12 Nov 10:00")]


TEAM_AND_LOOKUP = HEAD + """\
teams:
  sales: {members: [olga], manager: anna}
routing:
  lookup: managers.csv
tasks:
  overdue_grace: 1h
"""


def test_a_deal_without_a_manager_is_routed_through_its_team_and_the_lookup_file(
        tmp_path: Path) -> None:
    """Routing is on, so an overdue task tells the owner and the manager. A task due Wed 18 Nov
    17:00 with a 1 h grace is overdue from 18:00. None of the deals names a manager:

    * olga is in team `sales`, whose manager is anna → anna;
    * sergey is not in a team; the lookup file (exported with `;` and a BOM) says boris;
    * nikita is in neither → the action still names the role, with no recipient, and an
      `unrouted` finding says why."""
    (tmp_path / "managers.csv").write_bytes(
        "\ufeffowner;manager\nsergey;boris\n".encode())
    path = _write(tmp_path, TEAM_AND_LOOKUP)
    task = [{"id": "call", "due": "2026-11-18T17:00:00+03:00", "done": False}]
    now = "2026-11-20T09:05:00+03:00"
    recipients = {}
    for owner in ("olga", "sergey", "nikita"):
        deal = {"id": f"D-{owner}", "stage": "request", "owner": owner, "tasks": task,
                "history": [{"stage": "request", "at": "2026-11-16T10:00:00+03:00"}]}
        found = _evaluate(path, deal, now)
        recipients[owner] = [(n[1], n[2]) for n in _notes(found)]
        if owner == "nikita":
            unrouted = [f for f in found if f.code == "unrouted"]
            assert [f.message for f in unrouted] == [
                "overdue task, rule 'tasks.overdue_grace': no manager to notify — the deal has "
                "no manager and the owner 'nikita' is not in team 'sales' or the lookup file "
                "'managers.csv'"]
            assert unrouted[0].at.isoformat() == "2026-11-18T18:00:00+03:00"
            action = next(f for f in found if f.code == "notify" and f.notify == "manager")
            assert action.details["unrouted"].startswith("the deal has no manager")
    assert recipients == {"olga": [("owner", "olga"), ("manager", "anna")],
                          "sergey": [("owner", "sergey"), ("manager", "boris")],
                          "nikita": [("owner", "nikita"), ("manager", None)]}


def test_an_escalation_to_a_missing_manager_is_never_silent() -> None:
    """The reference regulation (no routing block) escalates a breach to the manager; a deal
    exported without one used to get `"recipient": null` and nothing else. Now the escalation
    says why and an `unrouted` violation stands beside it; a deal with a manager is as before."""
    compiled = compile_path(ROOT / "rulesets" / "b2b_sales.yaml")
    deal = json.loads((ROOT / "examples" / "deals.jsonl").read_text("utf-8").splitlines()[0])
    now = datetime.fromisoformat("2026-11-20T09:05:00+03:00")
    with_manager = Evaluator(compiled).evaluate_one(deal, now)
    assert [f.code for f in with_manager] == ["escalate", "sla-breach", "remind"]
    del deal["manager"]
    without = Evaluator(compiled).evaluate_one(deal, now)
    assert [f.code for f in without] == ["escalate", "sla-breach", "unrouted", "remind"]
    escalate = without[0]
    assert escalate.details["recipient"] is None
    assert escalate.details["unrouted"] == (
        "the deal has no manager, and the ruleset declares no people, teams or lookup file to "
        "find the manager of the owner 'sergey'")


ENTRY = HEAD.replace("  - id: request\n", """\
  - id: request
    on_enter:
      - assign: {team: sales, by: round-robin}
      - notify: manager
""").replace("  - id: proposal\n", """\
  - id: proposal
    on_enter:
      - create_task: {title: "Call about the proposal", due: 2 business days}
""") + """\
teams:
  sales: {members: [olga, sergey, ivan], manager: anna}
"""


def _pick(deal: str, entered: str) -> str:
    """The member a round-robin assignment must give (SHA-256 of deal id and entry instant)."""
    instant = datetime.fromisoformat(entered).astimezone(UTC).isoformat()
    digest = hashlib.sha256(f"{deal}\x1f{instant}".encode()).digest()
    return ["olga", "sergey", "ivan"][int.from_bytes(digest[:8], "big") % 3]


def test_on_enter_creates_the_next_task_due_two_business_days_later(tmp_path: Path) -> None:
    """The proposal stage was entered Thu 19 Nov 15:00: the task is due two working days later
    at the same working-clock time, Mon 23 Nov 15:00 (Fri 20, then Mon 23). The action is due
    at the entry and is emitted while the entry is under a day old (no schedule): at Fri 20 Nov
    09:05, yes; at Sat 21 Nov 09:05, no."""
    path = _write(tmp_path, ENTRY)
    deal = _deal("D-7", "proposal", "2026-11-19T15:00:00+03:00")
    found = _evaluate(path, deal, "2026-11-20T09:05:00+03:00")
    task = [f for f in found if f.code == "create-task"]
    assert [(f.at.isoformat(), f.details["task_due"], f.rule) for f in task] == [
        ("2026-11-19T15:00:00+03:00", "2026-11-23T15:00:00+03:00", "on_enter.proposal.0")]
    assert task[0].message == ("entered 'proposal' at 2026-11-19 15:00: create the task "
                               "'Call about the proposal', due 2026-11-23 15:00")
    later = _evaluate(path, deal, "2026-11-21T09:05:00+03:00")
    assert [f for f in later if f.code == "create-task"] == []


def _cli_findings(ruleset: Path, deals: Path, jobs: int) -> list[dict[str, Any]]:
    result = CliRunner().invoke(main, [
        "evaluate", str(ruleset), str(deals), "--now", "2026-11-20T09:05:00+03:00",
        "--format", "jsonl", "--jobs", str(jobs), "--lang", "en"])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_round_robin_is_the_same_across_runs_and_jobs(tmp_path: Path) -> None:
    """Thirty inbound requests entered on Fri 20 Nov between 06:00 and 08:54 (one every 6
    minutes) are each assigned one member of `sales`, chosen by the SHA-256 of the deal id and
    the entry instant — not Python's per-process ``hash`` — so ``--jobs 1`` and ``--jobs 2``
    and a second run give the same owners and keys, and the three members all get deals."""
    path = _write(tmp_path, ENTRY)
    deals = tmp_path / "deals.jsonl"
    lines = []
    expected = {}
    for i in range(30):
        entered = f"2026-11-20T{6 + i // 10:02d}:{(i % 10) * 6:02d}:00+03:00"
        lines.append(json.dumps(_deal(f"R-{i}", "request", entered)))
        expected[f"R-{i}"] = _pick(f"R-{i}", entered)
    deals.write_text("\n".join(lines) + "\n", encoding="utf-8")
    one = _cli_findings(path, deals, 1)
    two = _cli_findings(path, deals, 2)
    again = _cli_findings(path, deals, 1)
    assert one == two == again
    assigned = {f["deal"]: f["details"]["assignee"] for f in one if f["code"] == "assign"}
    assert assigned == expected
    assert set(assigned.values()) == {"olga", "sergey", "ivan"}
    notified = [f for f in one if f["code"] == "notify"]
    assert len(notified) == 30 and {f["details"]["recipient"] for f in notified} == {"anna"}


def test_entry_actions_over_http(tmp_path: Path) -> None:
    """The same entry actions through `POST /v1/evaluate` (the served catalog is a folder)."""
    import warnings

    with warnings.catch_warnings():  # starlette's notice about its httpx client, not ours
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    folder = tmp_path / "rulesets"
    folder.mkdir()
    _write(folder, ENTRY)
    client = TestClient(create_app(Settings(str(folder))))
    entered = "2026-11-20T08:00:00+03:00"
    response = client.post("/v1/evaluate", json={
        "ruleset": "routed", "now": "2026-11-20T09:05:00+03:00",
        "deal": _deal("H-1", "request", entered)})
    assert response.status_code == 200
    findings = response.json()["findings"]
    assert [(f["code"], f.get("notify")) for f in findings] == [
        ("assign", _pick("H-1", entered)), ("notify", "manager")]


PAUSES = HEAD + """\
pauses:
  max: 10 business days
  calendar: workdays
  notify: manager
"""


def test_an_open_pause_past_its_limit(tmp_path: Path) -> None:
    """A pause opened Mon 2 Nov 09:00 may stay open 10 business days: the working days after
    it are 3, 5 (4 Nov is a holiday), 6, 9, 10, 11, 12, 13, 16 and 17 November, so the limit
    runs out Tue 17 Nov 09:00. At Wed 18 Nov 12:00 the open pause is a `pause-too-long`
    violation dated then, routed to the manager as the `pauses` block says; a pause of the
    same start that was closed, or the same open pause on Mon 16 Nov, is not."""
    path = _write(tmp_path, PAUSES)
    open_pause = [{"from": "2026-11-02T09:00:00+03:00", "to": None, "reason": "budget"}]
    deal = _deal("P-1", "request", "2026-10-30T10:00:00+03:00", pauses=open_pause)
    found = _evaluate(path, deal, "2026-11-18T12:00:00+03:00")
    late = [f for f in found if f.code == "pause-too-long"]
    assert [(f.at.isoformat(), f.severity) for f in late] == [
        ("2026-11-17T09:00:00+03:00", "error")]
    assert _notes(found) == [("", "manager", "anna", "Tue 17 Nov 09:00")]
    closed = [{**open_pause[0], "to": "2026-11-18T10:00:00+03:00"}]
    assert not [f for f in _evaluate(path, {**deal, "pauses": closed},
                                     "2026-11-18T12:00:00+03:00") if f.code == "pause-too-long"]
    assert not [f for f in _evaluate(path, deal, "2026-11-16T12:00:00+03:00")
                if f.code == "pause-too-long"]


def test_a_task_without_a_due_time_is_limbo(tmp_path: Path) -> None:
    """With `tasks.require_due`, an open task nobody dated is a `task-without-due` violation;
    a done one is not."""
    path = _write(tmp_path, HEAD + "tasks: {require_due: true}\n")
    deal = _deal("T-1", "request", "2026-11-19T10:00:00+03:00")
    deal["tasks"] = [{"id": "someday", "due": None, "done": False},
                     {"id": "old", "due": None, "done": True}]
    found = _evaluate(path, deal, "2026-11-20T09:05:00+03:00")
    assert [(f.code, f.details["task"]) for f in found if f.kind == "violation"] == [
        ("task-without-due", "someday")]


@pytest.mark.parametrize(("extra", "message"), [
    ("routing: {lookup: nowhere.csv}\n", "lookup file 'nowhere.csv' does not exist"),
    ("routing: {lookup: m.csv}\n", "lookup file 'm.csv', line 3: owner 'olga' is listed again"),
    ("people:\n  anna: {manager: boris}\n  boris: {manager: anna}\n",
     "the chain of managers goes round in a circle: anna → boris → anna"),
    ("teams:\n  sales: {members: []}\nend: {won: paid, lost: lost, on_won: [{assign: {team: "
     "sales}}]}\n", "team 'sales' has no members"),
])
def test_bad_routing_input_is_a_positioned_error(tmp_path: Path, extra: str,
                                                 message: str) -> None:
    """A bad lookup file, a manager cycle or an empty team: the ruleset cannot be used, and
    lint names the place."""
    (tmp_path / "m.csv").write_text("owner,manager\nolga,anna\nolga,boris\n", encoding="utf-8")
    text = HEAD.replace("end: {won: paid, lost: lost}\n", "") \
        if "end:" in extra else HEAD
    path = _write(tmp_path, text + extra)
    with pytest.raises(RulesetError):
        compile_path(path)
    diagnostics = [d for d in lint_file(str(path)) if d.rule == "invalid-routing"]
    assert len(diagnostics) == 1 and message in diagnostics[0].message
    assert diagnostics[0].line > 14


def test_the_routed_example_lints_clean_and_routes_every_alert(tmp_path: Path) -> None:
    """examples/b2b_sales_routed.yaml on examples/deals.jsonl: every violation that asks for a
    person has a notify or escalate action naming one."""
    assert lint_file(str(ROUTED)) == []
    evaluator = Evaluator(compile_path(ROUTED))
    records = [json.loads(line) for line in
               (ROOT / "examples" / "deals.jsonl").read_text("utf-8").splitlines()]
    found = list(evaluator.evaluate(records, datetime.fromisoformat("2026-11-20T09:05:00+03:00")))
    actions = [f for f in found if f.kind == "action" and f.code in ("notify", "escalate")]
    assert actions and all(f.details.get("recipient") for f in actions)
    import jsonschema

    schema = json.loads((ROOT / "schemas" / "finding.schema.json").read_text("utf-8"))
    for finding in found:
        jsonschema.validate(json.loads(json.dumps(finding.to_dict())), schema)
    assert not [f for f in found if f.code == "unrouted"]
    for violation in (f for f in found if f.kind == "violation"):
        assert any(a.deal == violation.deal and a.rule == violation.rule for a in actions), \
            violation


def test_copying_the_example_keeps_its_lookup_file(tmp_path: Path) -> None:
    """The lookup file is read relative to the ruleset, not the working directory."""
    shutil.copy(ROUTED, tmp_path / "r.yaml")
    with pytest.raises(RulesetError):
        compile_path(tmp_path / "r.yaml")
    shutil.copy(ROOT / "examples" / "managers.csv", tmp_path / "managers.csv")
    assert compile_path(tmp_path / "r.yaml").directory.managers["olga"] == "anna"


def test_alerts_about_undated_situations_keep_their_key_run_after_run() -> None:
    """A next task too far away has no knowable start: the violation is dated at each run.
    Its alert is due at once but keyed by the task's due time, so the runs at 09:05 and 09:10
    give the same key (delivered once), and moving the task gives a new one."""
    evaluator = Evaluator(compile_path(ROUTED))
    deal = json.loads((ROOT / "examples" / "deals.jsonl").read_text("utf-8").splitlines()[2])
    assert deal["id"] == "A-102"

    def key(record: dict[str, Any], now: str) -> str | None:
        found = evaluator.evaluate_one(record, datetime.fromisoformat(now))
        (alert,) = [f for f in found if f.code == "notify"]
        assert alert.at == datetime.fromisoformat(now)
        return alert.key

    first = key(deal, "2026-11-20T09:05:00+03:00")
    assert key(deal, "2026-11-20T09:10:00+03:00") == first
    moved = {**deal, "tasks": [{**deal["tasks"][0], "due": "2026-12-17T10:00:00+03:00"}]}
    assert key(moved, "2026-11-20T09:10:00+03:00") != first


def test_an_owner_in_a_team_without_a_manager_is_told_so(tmp_path: Path) -> None:
    """olga is in team `sales`, which names no manager, and there is no lookup file: the
    overdue task's manager alert reaches nobody, and the reason names the team."""
    path = _write(tmp_path, HEAD + "teams:\n  sales: {members: [olga]}\nrouting: {}\n"
                  "tasks: {overdue_grace: 1h}\n")
    deal = {"id": "D-9", "stage": "request", "owner": "olga",
            "tasks": [{"id": "call", "due": "2026-11-18T17:00:00+03:00"}],
            "history": [{"stage": "request", "at": "2026-11-16T10:00:00+03:00"}]}
    found = _evaluate(path, deal, "2026-11-20T09:05:00+03:00")
    assert [f.details["reason"] for f in found if f.code == "unrouted"] == [
        "the deal has no manager, and the owner 'olga' is in team 'sales', which names no "
        "manager"]


LEAST = HEAD.replace("  - id: request\n", """\
  - id: request
    on_enter: [{assign: {team: sales, by: least-loaded}}]
""") + """\
teams:
  sales: {members: [olga, sergey, ivan], manager: anna}
routing:
  lookup: {file: team.csv, owner: Owner, manager: Manager, load: Open deals}
"""


def test_least_loaded_assignment_takes_the_lookup_files_loads(tmp_path: Path) -> None:
    """The export says olga has 12 open deals, sergey 4 and ivan 4 (ivan's written `4,0`, as a
    Russian CRM writes numbers). The least loaded are sergey and ivan; between them the entry's
    hash decides, as round-robin would among those two. Without a load column the ruleset
    cannot be used, and lint says where."""
    (tmp_path / "team.csv").write_text(
        'Owner;Manager;Open deals\nolga;anna;12\nsergey;anna;4\nivan;anna;"4,0"\n',
        encoding="utf-8")
    path = _write(tmp_path, LEAST)
    for i in range(6):
        entered = f"2026-11-20T0{i + 1}:00:00+03:00"
        found = _evaluate(path, _deal(f"L-{i}", "request", entered), "2026-11-20T09:05:00+03:00")
        (assign,) = [f for f in found if f.code == "assign"]
        instant = datetime.fromisoformat(entered).astimezone(UTC).isoformat()
        digest = hashlib.sha256(f"L-{i}\x1f{instant}".encode()).digest()
        assert assign.notify == ["sergey", "ivan"][int.from_bytes(digest[:8], "big") % 2]
        assert assign.message.endswith("(team 'sales', least loaded)")
    no_loads = _write(tmp_path, LEAST.replace(", load: Open deals", ""), "no-loads.yaml")
    with pytest.raises(RulesetError):
        compile_path(no_loads)
    (problem,) = [d for d in lint_file(str(no_loads)) if d.rule == "invalid-routing"]
    assert "needs a load column" in problem.message and problem.line == 11  # the on_enter


def test_a_shadowed_start_names_both_positions(tmp_path: Path) -> None:
    """Starts are tried in order and the first that matches wins. `inbound` (line 17) takes
    sources web_form, inbound_call and email; `web-north` (line 18) asks for source web_form
    and region north — every deal it matches, `inbound` matched first, so it never fires. The
    warning stands at `web-north` (16:5) and names `inbound` at 15:5. Put the narrower start
    first and nothing is reported."""
    starts = ("start:\n"
              "  - {id: inbound, when: {source: [web_form, inbound_call, email]}, stage: request}\n"
              "  - {id: web-north, when: {source: web_form, region: north}, stage: proposal}\n")
    text = HEAD.replace("start: [{id: any, stage: request}]\n", starts)
    path = _write(tmp_path, text)
    (found,) = [d for d in lint_file(str(path)) if d.rule == "shadowed-start"]
    assert (found.line, found.column, found.severity.value) == (16, 5, "warning")
    assert found.message == ("start 'web-north' can never be chosen: start 'inbound' before it "
                             "(line 15, column 5) matches every deal it matches")
    lines = text.splitlines()
    lines[14], lines[15] = lines[15], lines[14]
    swapped = _write(tmp_path, "\n".join(lines) + "\n", "swapped.yaml")
    assert [d for d in lint_file(str(swapped)) if d.rule == "shadowed-start"] == []
