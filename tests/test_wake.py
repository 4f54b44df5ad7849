"""The next change instant (``Evaluator.next_change``) against brute force.

For a deal judged at ``now`` with wake ``w``: at every instant t with now <= t < w the findings
are those at ``now`` (compared by :func:`~pipeline_rules.evaluate.wake.stable`, which sets aside
what embeds the evaluation time by design: ``at`` of findings dated now, a too-far task's
``latest``, a warning's used percentage); at ``w`` they differ when the wake says it is exact.
A wake that is only a safe earlier bound (``exact=False``) is checked for the first property
only. With no wake, nothing changes over the following year.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from helpers import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline_rules.deals.model import Deal
from pipeline_rules.evaluate import Evaluator
from pipeline_rules.evaluate.intake import intake
from pipeline_rules.evaluate.wake import TICK, Wake, stable
from pipeline_rules.ruleset.catalog import load_ruleset, load_ruleset_source
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


@pytest.fixture(scope="module")
def evaluators() -> dict[str, Evaluator]:
    b2b = load_ruleset(ROOT / "rulesets" / "b2b_sales.yaml")
    berlin = load_ruleset_source(Source("berlin.yaml", BERLIN))
    return {"b2b": Evaluator(b2b), "berlin": Evaluator(berlin, horizon=timedelta(minutes=45)),
            "berlin-now": Evaluator(berlin)}


def view(evaluator: Evaluator, deal: Deal, t: datetime) -> list[str]:
    run = evaluator.run(t)
    return sorted(repr(stable(f)) for f in evaluator.findings(deal, run))


def wake_of(evaluator: Evaluator, deal: Deal, t: datetime) -> Wake | None:
    return evaluator.next_change(deal, evaluator.run(t))


# Around the autumn and spring clock changes in Berlin, and a Russian holiday season.
BASES = [datetime.fromisoformat(s) for s in (
    "2026-10-22T10:30:00+02:00", "2026-03-26T16:10:00+01:00", "2026-12-29T11:00:00+03:00",
    "2026-11-20T09:05:00+03:00", "2027-01-08T17:45:00+03:00")]
STAGES = {"b2b": ["meeting", "proposal", "invoice", "qualification", "paid"],
          "berlin": ["open", "offer", "won"], "berlin-now": ["open", "offer"]}
HISTORY = {"meeting": ["find_dm", "qualification", "meeting"],
           "proposal": ["request", "qualification", "meeting", "proposal"],
           "invoice": ["request", "qualification", "meeting", "proposal", "invoice"],
           "qualification": ["find_dm", "qualification"],
           "paid": ["request", "qualification", "meeting", "proposal", "invoice", "paid"],
           "open": ["open"], "offer": ["open", "offer"], "won": ["open", "offer", "won"]}
EVENTS = {"b2b": ["meeting"], "berlin": ["call", "visit"], "berlin-now": ["call", "visit"]}

minutes = st.integers(min_value=-60 * 24 * 9, max_value=60 * 24 * 12)


@st.composite
def cases(draw: st.DrawFn) -> tuple[str, dict[str, Any], datetime]:
    name = draw(st.sampled_from(sorted(STAGES)))
    now = draw(st.sampled_from(BASES)) + timedelta(minutes=draw(
        st.integers(min_value=0, max_value=60 * 24 * 3)))
    stage = draw(st.sampled_from(STAGES[name]))
    stages = HISTORY[stage]
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
    record: dict[str, Any] = {"id": "D", "stage": stage, "source": "cold", "owner": "o",
                              "manager": "m", "fields": {"amount": 1, "payment_date": "x"},
                              "history": history, "tasks": tasks, "events": events}
    if draw(st.booleans()):
        start = now + timedelta(minutes=draw(minutes))
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
