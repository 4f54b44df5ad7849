"""The alert lifecycle: a deal's findings at an instant against its alerts before it.

* A finding with no alert (or whose alert was resolved) opens one: ``open``.
* An action whose due instant has come becomes ``due``, and a ``delivered`` delivery is queued
  with its payload frozen; the sink's success makes it ``delivered``.
* An alert whose finding is gone is ``resolved``; a queued delivery not yet made is cancelled,
  and an action already delivered gets a ``retracted`` delivery under the same key (its
  success makes the alert ``retracted``) — when new input took its cause away (the meeting
  moved, the deal moved on). An action that goes by time alone (its event began) is over:
  resolved, never retracted.

An action's key is the evaluator's (the same inputs give the same key in every run); a
violation's is a digest of the finding without what embeds the evaluation time
(:func:`~pipeline_rules.evaluate.wake.stable`), so a warning that moves to its next level is a
new alert and the old one is resolved. Everything here is pure: the runtime applies the plan
to its store in one transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import orjson

from pipeline_rules.evaluate.findings import ACTION, Finding
from pipeline_rules.evaluate.wake import stable
from pipeline_rules.runtime.store import ACTIVE, Alert, to_us


def alert_key(finding: Finding) -> str:
    """The stable key of the alert that follows ``finding``."""
    if finding.key is not None:
        return finding.key
    parts = list(stable(finding))
    del parts[6]  # the message: worded per language, not part of what happened
    text = orjson.dumps(parts, default=_plain, option=orjson.OPT_NON_STR_KEYS)
    return hashlib.sha256(text).hexdigest()[:32]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return to_us(value)
    if isinstance(value, tuple):
        return list(value)
    return str(value)


def payload(finding: Finding) -> str:
    """A finding as the JSON an alert carries."""
    return orjson.dumps(finding.to_dict()).decode("utf-8")


@dataclass
class Plan:
    """What one evaluation of a deal changes: alerts with the status they had before (None:
    new) and a note, deliveries to queue (key, event, payload) and alerts whose queued
    deliveries are cancelled."""

    alerts: list[tuple[Alert, str | None, str]] = field(default_factory=list)
    deliveries: list[tuple[str, str, str]] = field(default_factory=list)
    cancel: list[str] = field(default_factory=list)
    #: The earliest due instant of an action still waiting for it (wakes the deal).
    next_due: int | None = None


def delivery(alert: Alert, event: str) -> str:
    """The payload of a delivery: the event, the alert's key, deal and finding."""
    return orjson.dumps({"event": event, "key": alert.key, "ruleset": alert.ruleset,
                         "deal": alert.deal, "alert": orjson.loads(alert.payload)}
                        ).decode("utf-8")


def reconcile(previous: Sequence[Alert], findings: Sequence[Finding], ruleset: str,
              deal: str, at: int, by_time: bool = False,
              texts: Sequence[str] | None = None) -> Plan:
    """The transitions that bring a deal's alerts in line with its findings at ``at``.

    ``by_time``: the deal is judged again with no new input (a tick). An action that then
    goes is over, not wrong — a reminder is not emitted once its event has begun — so a
    delivered one is resolved without a retraction (a queued one is still cancelled: too late
    to be of use). ``texts``: the findings' :func:`payload`, when the caller has them."""
    plan = Plan()
    if texts is None:
        texts = [payload(finding) for finding in findings]
    before = {alert.key: alert for alert in previous}
    seen: set[str] = set()
    for finding, text in zip(findings, texts, strict=True):
        if finding.code == "bad-record":
            continue
        key = alert_key(finding)
        if key in seen:
            continue  # one alert per key, however often a check repeats a finding
        seen.add(key)
        old = before.get(key)
        due = to_us(finding.due) if finding.kind == ACTION and finding.due else None
        if old is None or old.status not in ACTIVE:
            alert = Alert(key, ruleset, deal, finding.kind, finding.code, finding.rule, "open",
                          due, text, at if old is None else old.opened, at)
            plan.alerts.append((alert, None if old is None else old.status,
                                "raised" if old is None else "raised again"))
        elif old.status == "open":
            # Most deals judged again find their open alerts as they were: kept as they are.
            alert = old if old.payload == text and old.due == due else replace(
                old, payload=text, due=due)
        else:
            continue  # queued or delivered: its payload is frozen
        if alert.due is not None and alert.due <= at:
            due_alert = replace(alert, status="due", updated=at)
            plan.alerts.append((due_alert, alert.status, "due"))
            plan.deliveries.append((key, "delivered", delivery(due_alert, "delivered")))
        elif alert is not old and old is not None and old.status == "open" \
                and alert.payload != old.payload:
            plan.alerts.append((replace(alert, updated=at), "open", "updated"))
        if alert.status == "open" and alert.due is not None and alert.due > at:
            plan.next_due = alert.due if plan.next_due is None else min(plan.next_due,
                                                                       alert.due)
    for key, old in before.items():
        if key in seen or old.status not in ACTIVE:
            continue
        over = by_time and old.kind == ACTION
        resolved = replace(old, status="resolved", updated=at)
        plan.alerts.append((resolved, old.status, "over" if over else "cause gone"))
        if old.status == "due":
            plan.cancel.append(key)
        elif old.status == "delivered" and not over:
            plan.deliveries.append((key, "retracted", delivery(old, "retracted")))
    return plan


__all__ = ["Plan", "alert_key", "delivery", "payload", "reconcile"]
