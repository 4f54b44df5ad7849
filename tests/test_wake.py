"""The next change instant (``Evaluator.next_change``) against brute force.

Four rulesets are probed: the reference one, a Berlin one with business calendars, the routed
example (warning and escalation levels with recipients, ``unrouted`` findings, pause limits,
stage-entry and end actions, a schedule) and a ruleset kept in three versions whose limits,
task gaps, grace and reminder lead differ (the version in force per check, and the switch to the
next version while a deal waits).

For a deal judged at ``now`` with wake ``w``: at every instant t with now <= t < w the findings
are those at ``now`` (compared by :func:`~pipeline_rules.evaluate.wake.stable`, which sets aside
what embeds the evaluation time by design: ``at`` of findings dated now, a too-far task's
``latest``, a warning's used percentage); at ``w`` they differ when the wake says it is exact.
A wake that is only a safe earlier bound (``exact=False``) is checked for the first property
only. With no wake, nothing changes over the following year.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline_rules.deals.model import Deal
from pipeline_rules.evaluate import Evaluator
from pipeline_rules.evaluate.intake import intake
from pipeline_rules.evaluate.wake import TICK, Wake, stable
from pipeline_rules.ruleset.catalog import load_catalog, load_ruleset, load_ruleset_source
from pipeline_rules.ruleset.source import Source

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
  - {id: offer}
  - {id: won, terminal: won}
  - {id: lost, terminal: lost}
start: [{stage: open}]
transitions:
  - {from: open, to: offer}
  - {from: offer, to: won}
  - {from: "*", to: lost}
sla:
  - {id: wall, stage: open, limit: 30h, warn: [50, 90], on_breach: [escalate]}
  - {id: days, stage: offer, limit: 2 business days, calendar: office, warn: [25, 75]}
  - {id: hours, stage: open, limit: 8 business hours, calendar: office, pausable: true,
     warn: [20]}
  - {id: cycle, from: start, to: end, limit: 6d}
tasks:
  require_next: true
  calendar: office
  max_gap: {default: 2 business days, offer: 20h}
  overdue_grace: 2 business hours
reminders:
  - {id: call, event: call, before: 3 business hours, calendar: office, notify: owner,
     channel: email}
  - {id: visit, event: visit, before: 90m, notify: client, channel: sms}
actions:
  escalate: {notify: manager, channel: crm_task}
"""


VERSIONED = ROOT / "examples" / "versions" / "b2b_sales" / "v2.yaml"


def versions_folder(where: Path) -> Path:
    """Three versions of the reference regulation: from 1 November, from noon on 21 November
    (a shorter task gap, a longer reminder lead) and from 30 December 15:00 (more grace, a
    shorter meeting limit)."""
    v2 = VERSIONED.read_text(encoding="utf-8")
    def version(revision: str, effective: str, *changes: tuple[str, str]) -> str:
        text = v2.replace("revision: 2", f"revision: {revision}").replace(
            "2026-12-01T00:00:00", effective)
        for old, new in changes:
            assert old in text, old
            text = text.replace(old, new)
        return text

    texts = [version("1", "2026-11-01T00:00:00", ("limit: 8d", "limit: 7d")),
             version("2", "2026-11-21T12:00:00", ("default: 7d", "default: 5d"),
                     ("before: 2h", "before: 3h")),
             version("3", "2026-12-30T15:00:00", ("overdue_grace: 1h", "overdue_grace: 2h"),
                     ("limit: 8d", "limit: 6d"))]
    folder = where / "b2b_sales"
    folder.mkdir()
    for number, text in enumerate(texts, 1):
        (folder / f"v{number}.yaml").write_text(text, encoding="utf-8")
    return folder


ROUTED_EXAMPLE = ROOT / "examples" / "b2b_sales_routed.yaml"


def routed_versions_folder(where: Path) -> Path:
    """Three versions of the routed example, whose pause limits, entry actions, entry window
    and routed levels differ: from 1 November (pauses 10 business days, a day's entry window),
    from noon on 21 November (pauses 3 business days, a meeting entry that creates a task,
    an entry window of 4 business hours) and from 30 December 15:00 (pauses 2 days, the
    proposal's first routed level at 30 % of 15 business days, not 50 % of 5, the request's
    entry action gone)."""
    routed = ROUTED_EXAMPLE.read_text(encoding="utf-8")

    def version(revision: str, effective: str, *changes: tuple[str, str]) -> str:
        text = routed.replace("version: 1\n", f"version: 1\nrevision: {revision}\n"
                              f"effective: {effective}+03:00\n", 1)
        for old, new in changes:
            assert old in text, old
            text = text.replace(old, new)
        return text

    meeting = ("  - id: meeting\n    title: \"Встреча назначена\"\n",
               "  - id: meeting\n    title: \"Встреча назначена\"\n    on_enter:\n"
               "      - create_task: {title: \"Confirm the meeting\", due: 1 business days}\n")
    texts = [version("1", "2026-11-01T00:00:00", ("\n  lookup: managers.csv",
                                                  "\n  entry_window: 1d\n"
                                                  "  lookup: managers.csv")),
             version("2", "2026-11-21T12:00:00", meeting,
                     ("max: 10 business days", "max: 3 business days"),
                     ("\n  lookup: managers.csv", "\n  entry_window: 4 business hours\n"
                      "  lookup: managers.csv")),
             version("3", "2026-12-30T15:00:00", meeting,
                     ("max: 10 business days", "max: 2d"),
                     ("{at: 50%, notify: owner}", "{at: 30%, notify: owner}"),
                     ("limit: 5 business days", "limit: 15 business days"),
                     ("    on_enter:                      # routing: an inbound request gets "
                      "an owner at once\n      - assign: {team: sales, by: round-robin}\n",
                      ""))]
    folder = where / "b2b_sales_routed"
    folder.mkdir()
    shutil.copy(ROOT / "examples" / "managers.csv", folder / "managers.csv")
    for number, text in enumerate(texts, 1):
        (folder / f"v{number}.yaml").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def evaluators(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Evaluator]:
    b2b = load_ruleset(ROOT / "rulesets" / "b2b_sales.yaml")
    berlin = load_ruleset_source(Source("berlin.yaml", BERLIN))
    routed = load_ruleset(ROOT / "examples" / "b2b_sales_routed.yaml")
    catalog = load_catalog(versions_folder(tmp_path_factory.mktemp("versions")))
    (name,) = catalog.versions
    versions = catalog.versions[name]
    assert [c.revision for c in versions.entries] == ["1", "2", "3"]
    folder = tmp_path_factory.mktemp("routed-versions")
    routed_catalog = load_catalog(routed_versions_folder(folder))
    (routed_name,) = routed_catalog.versions
    routed_versions = routed_catalog.versions[routed_name]
    assert [c.revision for c in routed_versions.entries] == ["1", "2", "3"]
    routed_evaluator = Evaluator(routed_catalog.rulesets[routed_name], versions=routed_versions)
    judged = routed_evaluator.run(BASES[2]).versions
    assert judged is not None and judged.pauses_any and judged.entries_any
    return {"b2b": Evaluator(b2b), "berlin": Evaluator(berlin, horizon=timedelta(minutes=45)),
            "berlin-now": Evaluator(berlin), "routed": Evaluator(routed),
            "versions": Evaluator(catalog.rulesets[name], versions=versions),
            "routed-versions": routed_evaluator}


def view(evaluator: Evaluator, deal: Deal, t: datetime) -> list[str]:
    run = evaluator.run(t)
    return sorted(repr(stable(f)) for f in evaluator.findings(deal, run))


def wake_of(evaluator: Evaluator, deal: Deal, t: datetime) -> Wake | None:
    return evaluator.next_change(deal, evaluator.run(t))


# Around the autumn and spring clock changes in Berlin, and a Russian holiday season.
BASES = [datetime.fromisoformat(s) for s in (
    "2026-10-22T10:30:00+02:00", "2026-03-26T16:10:00+01:00", "2026-12-29T11:00:00+03:00",
    "2026-11-20T09:05:00+03:00", "2027-01-08T17:45:00+03:00")]
B2B_STAGES = ["meeting", "proposal", "invoice", "qualification", "paid"]
STAGES = {"b2b": B2B_STAGES, "berlin": ["open", "offer", "won"], "berlin-now": ["open", "offer"],
          "routed": [*B2B_STAGES, "request", "lost"], "versions": B2B_STAGES,
          "routed-versions": [*B2B_STAGES, "request", "lost"]}
HISTORY = {"meeting": ["find_dm", "qualification", "meeting"],
           "proposal": ["request", "qualification", "meeting", "proposal"],
           "invoice": ["request", "qualification", "meeting", "proposal", "invoice"],
           "qualification": ["find_dm", "qualification"],
           "paid": ["request", "qualification", "meeting", "proposal", "invoice", "paid"],
           "request": ["request"], "lost": ["request", "qualification", "lost"],
           "open": ["open"], "offer": ["open", "offer"], "won": ["open", "offer", "won"]}
EVENTS = {"b2b": ["meeting"], "berlin": ["call", "visit"], "berlin-now": ["call", "visit"],
          "routed": ["meeting"], "versions": ["meeting"], "routed-versions": ["meeting"]}
#: Who a routed deal names: an owner the lookup file gives a manager, one it does not, none.
OWNERS = ["olga", "ivan", None]
MANAGERS = ["m", None]

minutes = st.integers(min_value=-60 * 24 * 9, max_value=60 * 24 * 12)


#: The rulesets of the first property test, and of the second (what routing and versions add).
PLAIN = ("b2b", "berlin", "berlin-now")
ROUTED = ("routed", "versions", "berlin")
#: Of the third: pause limits, entry actions and routing on a ruleset kept in versions.
ROUTED_VERSIONS = ("routed-versions",)
ROUTED_LIKE = ("routed", "routed-versions")


@st.composite
def cases(draw: st.DrawFn, names: tuple[str, ...] = PLAIN,
          stay: int = 0) -> tuple[str, dict[str, Any], datetime]:
    """A deal of one of ``names`` and an instant to judge it at; with ``stay`` (minutes), the
    deal has been in its stage up to that long (long enough to pass a limit and its
    escalation levels), else the entries fall anywhere in the last 10 days."""
    name = draw(st.sampled_from(names))
    now = draw(st.sampled_from(BASES)) + timedelta(minutes=draw(
        st.integers(min_value=0, max_value=60 * 24 * 3)))
    stage = draw(st.sampled_from(STAGES[name]))
    stages = HISTORY[stage]
    if stay:
        last = draw(st.integers(min_value=1, max_value=stay))
        ago = [last + m for m in sorted(draw(st.lists(
            st.integers(min_value=1, max_value=60 * 24 * 10), min_size=len(stages) - 1,
            max_size=len(stages) - 1)), reverse=True)] + [last]
    else:
        ago = sorted(draw(st.lists(st.integers(min_value=1, max_value=60 * 24 * 10),
                                   min_size=len(stages), max_size=len(stages))), reverse=True)
    history = [{"stage": s, "at": (now - timedelta(minutes=m)).isoformat()}
               for s, m in zip(stages, ago, strict=True)]
    tasks = [{"id": f"T{i}", "due": (now + timedelta(minutes=draw(minutes))).isoformat(),
              "done": draw(st.booleans())}
             for i in range(draw(st.integers(min_value=0, max_value=2)))]
    events = [{"type": draw(st.sampled_from(EVENTS[name])),
               "at": (now + timedelta(minutes=draw(minutes))).isoformat()}
              for _ in range(draw(st.integers(min_value=0, max_value=2)))]
    fields: dict[str, Any] = {"amount": 1, "payment_date": "x", "loss_reason": "x"}
    record: dict[str, Any] = {"id": "D", "stage": stage, "fields": fields,
                              "source": "web_form" if stages[0] == "request" else "cold",
                              "owner": "o", "manager": "m",
                              "history": history, "tasks": tasks, "events": events}
    if name in ROUTED_LIKE:
        record["owner"] = draw(st.sampled_from(OWNERS))
        record["manager"] = draw(st.sampled_from(MANAGERS))
        if draw(st.booleans()):
            record["tasks"].append({"id": "undated", "done": False})
    if stay and draw(st.booleans()):
        # A dates-only export: wall-clock limits count civil days in the ruleset's zone.
        record["whole_days"] = True
    if name in ("versions", "routed-versions") and draw(st.booleans()):
        fields["rebased_at"] = (now - timedelta(minutes=draw(
            st.integers(min_value=0, max_value=60 * 24 * 12)))).isoformat()
    if name in ROUTED_VERSIONS or draw(st.booleans()):
        # The routed ruleset's pause limit is 10 business days: reach back far enough (under
        # versions, far enough for a pause begun under an earlier version than ``now``'s).
        back = 60 * 24 * {"routed": 20, "routed-versions": 30}.get(name, 9)
        start = now + timedelta(minutes=draw(st.integers(min_value=-back,
                                                         max_value=60 * 24 * 12)))
        end = None if draw(st.booleans()) else start + timedelta(
            minutes=draw(st.integers(min_value=1, max_value=60 * 24 * 3)))
        record["pauses"] = [{"from": start.isoformat(), "reason": "r",
                             "to": end.isoformat() if end else None}]
    return name, record, now


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases(), probes=st.lists(st.floats(min_value=0, max_value=1), max_size=4))
def test_findings_hold_until_the_wake_and_change_at_it(
        evaluators: dict[str, Evaluator], case: tuple[str, dict[str, Any], datetime],
        probes: list[float]) -> None:
    check_wake(evaluators, case, probes)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases(ROUTED, stay=60 * 24 * 14),
       probes=st.lists(st.floats(min_value=0, max_value=1), max_size=4))
def test_routed_and_versioned_findings_hold_until_the_wake_and_change_at_it(
        evaluators: dict[str, Evaluator], case: tuple[str, dict[str, Any], datetime],
        probes: list[float]) -> None:
    """The same property for routed alerts (warning and escalation levels, ``unrouted``),
    pause limits, entry actions, the version in force per check, and deals from dates-only
    exports (civil days across Berlin's clock changes)."""
    check_wake(evaluators, case, probes)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases(ROUTED_VERSIONS, stay=60 * 24 * 14),
       probes=st.lists(st.floats(min_value=0, max_value=1), max_size=4))
def test_pauses_entries_and_routing_under_versions_hold_until_the_wake(
        evaluators: dict[str, Evaluator], case: tuple[str, dict[str, Any], datetime],
        probes: list[float]) -> None:
    """The same property for a routed ruleset kept in versions: a pause limit judged by the
    version in force when the pause began, entry actions and their window by the one in force
    at the entry, routed levels by the one each timer began under."""
    check_wake(evaluators, case, probes)


def test_a_routed_level_under_versions_is_the_version_its_timer_began_under(
        evaluators: dict[str, Evaluator]) -> None:
    """A proposal entered under version 2 (the owner's level at 50 % of 5 business days) and
    judged under version 3 (30 % of 15): it wakes at version 2's level, after the New Year
    holidays, with the routed alert to the owner."""
    stages = ["request", "qualification", "meeting", "proposal"]
    record = {"id": "D", "stage": "proposal", "source": "web_form", "owner": "olga",
              "manager": "m", "fields": {"amount": 1},
              "history": [{"stage": stage, "at": f"2026-12-{20 + 3 * i}T10:00:00+03:00"}
                          for i, stage in enumerate(stages)]}
    now = datetime.fromisoformat("2026-12-31T10:00:00+03:00")
    evaluator = evaluators["routed-versions"]
    deal = intake(record, evaluator.compiled)
    assert isinstance(deal, Deal)
    wake = wake_of(evaluator, deal, now)
    assert wake is not None and wake.exact
    # 20 business hours from Tuesday 29 December 10:00: 7 that day, 8 on the 30th, none from
    # the 31st to 10 January (holidays and a weekend), 4 + 1 on Monday 11 January.
    assert wake.at == datetime.fromisoformat("2027-01-11T15:00:00+03:00")
    routed = [(f.details["recipient"], f.details["for"])
              for f in evaluator.findings(deal, evaluator.run(wake.at))
              if f.code == "notify" and f.rule == "proposal-decision"]
    assert routed == [("olga", "sla-warning")]
    check_wake(evaluators, ("routed-versions", record, now), [0.5])


def check_wake(evaluators: dict[str, Evaluator], case: tuple[str, dict[str, Any], datetime],
               probes: list[float]) -> None:
    name, record, now = case
    evaluator = evaluators[name]
    deal = intake(record, evaluator.compiled)
    assert isinstance(deal, Deal), deal
    before = view(evaluator, deal, now)
    wake = wake_of(evaluator, deal, now)
    if wake is None:
        for days in (1, 40, 365):
            assert view(evaluator, deal, now + timedelta(days=days)) == before
        return
    assert wake.at > now
    span = wake.at - now
    for t in [now + TICK, wake.at - TICK] + [now + span * p for p in probes]:
        if now <= t < wake.at:
            assert view(evaluator, deal, t) == before, (t, wake)
    if wake.exact:
        assert view(evaluator, deal, wake.at) != before, wake


def test_a_warning_then_a_breach_then_nothing(evaluators: dict[str, Evaluator]) -> None:
    """The 30h wall SLA of a deal that entered at 10:00: 50 % at 01:00, 90 % at 13:00 the next
    day, breached at 16:00; the 8-business-hour SLA (20 % warning) and the 6-day cycle wake it
    too, in their turn."""
    evaluator = evaluators["berlin"]
    entered = datetime.fromisoformat("2026-11-23T10:00:00+01:00")  # a Monday
    deal = intake({"id": "D", "stage": "open", "history": [
        {"stage": "open", "at": entered.isoformat()}], "tasks": [
        {"id": "T", "due": "2026-11-24T10:00:00+01:00", "done": False}]}, evaluator.compiled)
    assert isinstance(deal, Deal)
    seen = []
    t = entered
    for _ in range(12):
        wake = wake_of(evaluator, deal, t)
        if wake is None:
            break
        seen.append(wake.at.astimezone(entered.tzinfo).isoformat())
        t = wake.at
    assert seen == [
        "2026-11-23T11:36:00+01:00",  # 20 % of 8 business hours (96 min)
        "2026-11-24T01:00:00+01:00",  # 50 % of 30h
        "2026-11-24T11:00:00+01:00",  # 8 business hours used: the pausable SLA breached
        "2026-11-24T12:00:00.000001+01:00",  # the task's 2 business hours of grace ran out
        "2026-11-24T13:00:00+01:00",  # 90 % of 30h
        "2026-11-24T16:00:00+01:00",  # 30h: breached, escalated
        "2026-11-29T10:00:00+01:00",  # the 6-day cycle
    ]


def test_an_open_pause_means_no_wake_from_a_pausable_sla(
        evaluators: dict[str, Evaluator]) -> None:
    evaluator = evaluators["berlin"]
    deal = intake({"id": "D", "stage": "open",
                   "history": [{"stage": "open", "at": "2026-11-23T10:00:00+01:00"}],
                   "pauses": [{"from": "2026-11-23T10:30:00+01:00", "to": None, "reason": "r"}],
                   "tasks": [{"id": "T", "due": "2026-11-24T10:00:00+01:00", "done": True}]},
                  evaluator.compiled)
    assert isinstance(deal, Deal)
    wake = wake_of(evaluator, deal, datetime.fromisoformat("2026-11-23T11:00:00+01:00"))
    # Only the wall SLA's 50 % (the pausable one stands still at 30 of its 96 minutes).
    assert wake == Wake(datetime.fromisoformat("2026-11-24T01:00:00+01:00"))


MSK = "+03:00"


def walk(evaluator: Evaluator, deal: Deal, start: datetime, steps: int = 12
         ) -> list[tuple[str, bool]]:
    """The wakes one after another from ``start`` (local time in Moscow, exact or not)."""
    seen = []
    t = start
    for _ in range(steps):
        wake = wake_of(evaluator, deal, t)
        if wake is None:
            break
        seen.append((wake.at.astimezone(start.tzinfo).isoformat(), wake.exact))
        t = wake.at
    return seen


def notes(evaluator: Evaluator, deal: Deal, t: datetime) -> list[tuple[str, str, str | None]]:
    """The routed alerts and escalations at ``t``: (code, level, recipient)."""
    return sorted((f.code, str(f.details.get("level", "")), f.details.get("recipient"))
                  for f in evaluator.findings(deal, evaluator.run(t))
                  if f.code in ("notify", "escalate", "create-task", "unrouted"))


def proposal_deal(evaluator: Evaluator, owner: str, **more: Any) -> Deal:
    """A routed deal that entered the proposal stage on Monday 23 November 10:00."""
    record = {"id": "D", "stage": "proposal", "source": "web_form", "owner": owner,
              "history": [{"stage": "request", "at": "2026-11-20T10:00:00" + MSK},
                          {"stage": "qualification", "at": "2026-11-20T12:00:00" + MSK},
                          {"stage": "meeting", "at": "2026-11-21T12:00:00" + MSK},
                          {"stage": "proposal", "at": "2026-11-23T10:00:00" + MSK}],
              "tasks": [{"id": "T", "due": "2026-11-25T10:00:00" + MSK, "done": False}],
              **more}
    deal = intake(record, evaluator.compiled)
    assert isinstance(deal, Deal), deal
    return deal


def test_a_routed_deal_wakes_at_each_level_and_at_the_close_of_its_entry_window(
        evaluators: dict[str, Evaluator]) -> None:
    """The routed example's proposal SLA (5 business days on 09-13 and 14-18 working hours):
    the entry's create-task action leaves after its 1-day window, the task's 1 h grace runs
    out, the 50 % level tells the owner, 80 % the owner and the manager, the breach escalates,
    and 2 business days later the head of sales is told; then the 45-day cycle."""
    evaluator = evaluators["routed"]
    deal = proposal_deal(evaluator, "olga")
    entered = datetime.fromisoformat("2026-11-23T10:00:00" + MSK)
    assert walk(evaluator, deal, entered) == [
        ("2026-11-24T10:00:00.000001+03:00", True),  # the entry window closes
        ("2026-11-25T11:00:00.000001+03:00", True),  # the task's grace runs out
        ("2026-11-25T15:00:00+03:00", True),  # 50 %: 20 of 40 working hours
        ("2026-11-27T10:00:00+03:00", True),  # 80 %
        ("2026-11-30T10:00:00+03:00", True),  # breached: escalated to the manager
        ("2026-12-02T10:00:00+03:00", True),  # + 2 business days: the head of sales
        ("2027-01-04T10:00:00+03:00", True),  # the 45-day cycle
    ]
    assert ("create-task", "", "olga") in notes(evaluator, deal, entered)
    level = ("notify", "+2 business days", "head_of_sales")
    second = datetime.fromisoformat("2026-12-02T10:00:00" + MSK)
    assert level not in notes(evaluator, deal, second - TICK)
    assert level in notes(evaluator, deal, second)


def test_a_pause_wakes_a_routed_deal_when_it_passes_the_limit_and_when_it_ends(
        evaluators: dict[str, Evaluator]) -> None:
    """``pauses.max`` is 10 business days: a pause opened on Monday 23 November 11:00 is too
    long from Monday 7 December 11:00; one that ends on 9 December stops being reported then."""
    evaluator = evaluators["routed"]
    t = datetime.fromisoformat("2026-12-04T12:00:00" + MSK)
    for end, expected in ((None, "2026-12-07T11:00:00+03:00"),
                          ("2026-12-09T10:00:00" + MSK, "2026-12-07T11:00:00+03:00")):
        deal = proposal_deal(evaluator, "olga", pauses=[
            {"from": "2026-11-23T11:00:00" + MSK, "to": end, "reason": "client away"}])
        wakes = [w for w, _ in walk(evaluator, deal, t, 3)]
        assert expected in wakes
        limit = datetime.fromisoformat(expected)
        codes = [f.code for f in evaluator.findings(deal, evaluator.run(limit))]
        assert "pause-too-long" in codes
        assert "pause-too-long" not in [
            f.code for f in evaluator.findings(deal, evaluator.run(limit - TICK))]
        if end is not None:
            assert "2026-12-09T10:00:00+03:00" in [w for w, _ in walk(evaluator, deal, limit, 3)]


def test_a_versioned_deal_wakes_by_the_version_its_timer_began_under(tmp_path: Path) -> None:
    """The example folder: version 1 (meeting limit 7d) until 1 December, version 2 (8d) after.
    A meeting entered on 25 November 10:00 keeps version 1's levels across the switch (50 % at
    3.5 days, 80 % at 5.6 days, breach at 7 days; version 2 would say 4, 6.4 and 8 days); the
    switch itself is a safe earlier wake."""
    catalog = load_catalog(ROOT / "examples" / "versions" / "b2b_sales")
    (name,) = catalog.versions
    evaluator = Evaluator(catalog.rulesets[name], versions=catalog.versions[name])
    deal = intake({"id": "D", "stage": "meeting", "source": "cold", "owner": "o", "manager": "m",
                   "history": [{"stage": "find_dm", "at": "2026-11-20T08:00:00" + MSK},
                               {"stage": "qualification", "at": "2026-11-20T09:00:00" + MSK},
                               {"stage": "meeting", "at": "2026-11-25T10:00:00" + MSK}],
                   "tasks": [{"id": "t", "due": "2026-12-03T10:00:00" + MSK, "done": False}]},
                  evaluator.compiled)
    assert isinstance(deal, Deal)
    start = datetime.fromisoformat("2026-11-26T10:00:00" + MSK)
    assert walk(evaluator, deal, start, 4) == [
        ("2026-11-28T22:00:00+03:00", True),  # 50 % of 7 days
        ("2026-12-01T00:00:00+03:00", False),  # version 2 takes effect
        ("2026-12-01T00:24:00+03:00", True),  # 80 % of 7 days
        ("2026-12-02T10:00:00+03:00", True),  # 7 days: breached under version 1
    ]


def test_a_reminder_is_routed_like_every_alert(tmp_path: Path) -> None:
    """A reminder to the manager reaches the manager the lookup file names for the owner, and
    one for an owner nobody manages says so (an ``unrouted`` finding due with it); the wake
    comes at the scheduled run that emits it."""
    text = (ROOT / "examples" / "b2b_sales_routed.yaml").read_text(encoding="utf-8")
    assert "    notify: client\n    channel: sms" in text
    (tmp_path / "routed.yaml").write_text(text.replace(
        "    notify: client\n    channel: sms", "    notify: manager\n    channel: sms"),
        encoding="utf-8")
    (tmp_path / "managers.csv").write_bytes(
        (ROOT / "examples" / "managers.csv").read_bytes())
    evaluator = Evaluator(load_ruleset(tmp_path / "routed.yaml"))
    meeting = "2026-11-26T15:00:00" + MSK
    for owner, recipient in (("dmitry", "boris"), ("zoe", None)):
        deal = intake({"id": "D", "stage": "meeting", "source": "cold", "owner": owner,
                       "history": [{"stage": "find_dm", "at": "2026-11-20T08:00:00" + MSK},
                                   {"stage": "qualification", "at": "2026-11-20T09:00:00" + MSK},
                                   {"stage": "meeting", "at": "2026-11-25T10:00:00" + MSK}],
                       "tasks": [{"id": "t", "due": "2026-11-27T10:00:00" + MSK,
                                  "done": False}],
                       "events": [{"type": "meeting", "at": meeting}]}, evaluator.compiled)
        assert isinstance(deal, Deal)
        before = datetime.fromisoformat("2026-11-26T12:00:00" + MSK)
        wake = wake_of(evaluator, deal, before)
        # Due at 13:00, itself a scheduled run (every 15 minutes): that run emits it.
        assert wake == Wake(datetime.fromisoformat("2026-11-26T13:00:00" + MSK))
        assert "remind" not in [f.code for f in evaluator.findings(
            deal, evaluator.run(wake.at - TICK))]
        found = evaluator.findings(deal, evaluator.run(wake.at))
        (remind,) = [f for f in found if f.code == "remind"]
        assert remind.details["recipient"] == recipient
        unrouted = [f for f in found if f.code == "unrouted" and f.details["for"] == "remind"]
        assert len(unrouted) == (recipient is None)
        if recipient is None:
            assert "zoe" in remind.details["unrouted"]


@pytest.mark.parametrize(("window", "entered", "closes"), [
    # 2 hours on the wall clock: the action goes just after 12:00.
    ("2h", "2026-11-23T10:00:00", "2026-11-23T12:00:00.000001+03:00"),
    # 4 business hours on 09-13 and 14-18 from Friday 16:30: 1.5 h on Friday, 2.5 h on
    # Monday (09:00-11:30).
    ("4 business hours", "2026-11-27T16:30:00", "2026-11-30T11:30:00.000001+03:00"),
    # Entered on Saturday: 4 business hours before Monday 13:00 is Monday 09:00, after the
    # entry (a moment earlier it is still Friday, before it), so the action goes at 13:00.
    ("4 business hours", "2026-11-28T12:00:00", "2026-11-30T13:00:00+03:00"),
])
def test_an_entry_action_wakes_its_deal_when_the_entry_window_closes(
        tmp_path: Path, window: str, entered: str, closes: str) -> None:
    text = (ROOT / "examples" / "b2b_sales_routed.yaml").read_text(encoding="utf-8")
    assert "routing:\n" in text
    (tmp_path / "routed.yaml").write_text(text.replace(
        "routing:\n", f"routing:\n  entry_window: {window}\n"), encoding="utf-8")
    (tmp_path / "managers.csv").write_bytes((ROOT / "examples" / "managers.csv").read_bytes())
    evaluator = Evaluator(load_ruleset(tmp_path / "routed.yaml"))
    deal = intake({"id": "D", "stage": "proposal", "source": "web_form", "owner": "olga",
                   "history": [{"stage": "request", "at": "2026-11-20T10:00:00" + MSK},
                               {"stage": "qualification", "at": "2026-11-20T12:00:00" + MSK},
                               {"stage": "meeting", "at": "2026-11-21T12:00:00" + MSK},
                               {"stage": "proposal", "at": entered + MSK}],
                   "tasks": [{"id": "T", "due": "2026-12-01T10:00:00" + MSK, "done": False}]},
                  evaluator.compiled)
    assert isinstance(deal, Deal)
    start = datetime.fromisoformat(entered + MSK)
    wake = wake_of(evaluator, deal, start)
    assert wake is not None and wake.exact
    assert wake.at.astimezone(start.tzinfo).isoformat() == closes

    def created(t: datetime) -> bool:
        return "create-task" in [f.code for f in evaluator.findings(deal, evaluator.run(t))]

    assert created(start) and created(wake.at - TICK) and not created(wake.at)


def test_a_dates_only_breach_across_spring_forward_is_reported_at_its_wake(
        evaluators: dict[str, Evaluator]) -> None:
    """A dates-only deal counts civil days: 6 days from 25 March 10:10 (CET) end on 31 March
    10:10 CEST, 5 days 23 hours later. The check used to skip the SLA until 6 elapsed days had
    passed, so the breach its wake announced came an hour late."""
    evaluator = evaluators["berlin"]
    deal = intake({"id": "D", "stage": "open", "whole_days": True,
                   "history": [{"stage": "open", "at": "2026-03-25T10:10:00+01:00"}]},
                  evaluator.compiled)
    assert isinstance(deal, Deal)
    deadline = datetime.fromisoformat("2026-03-31T10:10:00+02:00")
    wake = wake_of(evaluator, deal, datetime.fromisoformat("2026-03-30T12:00:00+02:00"))
    assert wake == Wake(deadline)

    def cycle(t: datetime) -> list[str]:
        return [f.code for f in evaluator.findings(deal, evaluator.run(t))
                if f.rule == "cycle"]

    assert cycle(deadline - TICK) == []
    assert cycle(deadline) == ["cycle-breach"]
