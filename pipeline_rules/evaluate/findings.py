"""Findings: what evaluating a deal reports — violations to look at and actions to take.

Every finding carries the public fields of ``finding.schema.json`` (docs/evaluate.md): ``kind``,
``code``, ``rule``, ``deal``, ``stage``, ``at``, ``message`` and ``ruleset``; a violation its
``severity``; an action its ``action``, ``notify``, ``channel``, ``due`` and ``key``; and the
facts behind it in ``details``. ``at`` is when the situation began (a breach at its deadline, a
warning when its threshold was passed, an overdue task when its grace ran out, an illegal move
when it was made) or, for an action, when it is due; findings whose start is not knowable (a
missing next task, a bad record) are dated at the evaluation time. Because ``at`` and ``due`` do
not depend on when the evaluator runs, the same deal gives the same findings, and every action
the same ``key``, run after run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pipeline_rules import i18n

VIOLATION = "violation"
ACTION = "action"

#: Violation codes (public, listed in docs/evaluate.md), with the severity each is reported at.
VIOLATION_SEVERITY = {
    "sla-warning": "warning",
    "sla-breach": "error",
    "cycle-breach": "error",
    "no-next-task": "warning",
    "next-task-too-far": "warning",
    "task-overdue": "error",
    "illegal-transition": "error",
    "skipped-stage": "error",
    "no-stage-date": "warning",
    "bad-record": "error",
    "plugin-error": "error",
    "before-versions": "warning",
    "pause-too-long": "error",
    "task-without-due": "warning",
    "unrouted": "warning",
}
VIOLATION_CODES = tuple(VIOLATION_SEVERITY)
#: Action codes: a reminder before an event, the actions an SLA breach triggers, an alert
#: routed to a person, and what entering a stage does.
ACTION_CODES = ("remind", "escalate", "notify", "create-task", "assign")


def action_key(ruleset: str, rule: str, deal: str, action: str, due: datetime) -> str:
    """The idempotency key of an action: the same inputs give the same key in every run."""
    # The first 19 characters of isoformat are strftime's "%Y-%m-%dT%H:%M:%S" for the years
    # deals may carry (1900-2999), at half the cost.
    instant = due.astimezone(UTC).isoformat()[:19] + "Z"
    text = "\x1f".join((ruleset, rule, deal, action, instant))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Finding:
    """A violation or an action about one deal."""

    kind: str
    code: str
    rule: str | None
    deal: str | None
    stage: str | None
    at: datetime
    message: str
    ruleset: str
    severity: str | None = None
    action: str | None = None
    notify: str | None = None
    channel: str | None = None
    due: datetime | None = None
    key: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    #: The revision of the ruleset version that produced it (None: the ruleset has no versions).
    version: str | None = None

    def to_dict(self, isoformat: Callable[[datetime], str] = datetime.isoformat
                ) -> dict[str, Any]:
        """JSON-ready form: contract fields first, ``details`` last; absent fields omitted.

        ``isoformat`` writes the times (an evaluation run passes its memoising formatter)."""
        data: dict[str, Any] = {"kind": self.kind, "code": self.code, "rule": self.rule,
                                "deal": self.deal, "stage": self.stage}
        if self.severity is not None:
            data["severity"] = self.severity
        data["at"] = isoformat(self.at)
        data["message"] = self.message
        if self.kind == ACTION:
            data["action"] = self.action
            data["notify"] = self.notify
            data["channel"] = self.channel
            data["due"] = isoformat(self.due) if self.due else None
            data["key"] = self.key
        data["ruleset"] = self.ruleset
        if self.version is not None:
            data["version"] = self.version
        if self.details:
            data["details"] = self.details
        return data


def violation(ruleset: str, code: str, rule: str | None, deal: str | None, stage: str | None,
              at: datetime, message: str, *, produced_by: str | None = None,
              **details: Any) -> Finding:
    """A violation with the severity of its code (``produced_by``: the version's revision)."""
    return Finding(VIOLATION, code, rule, deal, stage, at, message, ruleset,
                   severity=VIOLATION_SEVERITY[code], details=details, version=produced_by)


def bad_record(ruleset: str, at: datetime, origin: str, deal: str | None, reason: str,
               lang: str = i18n.DEFAULT, path: str = "") -> Finding:
    """The finding for a record that could not be evaluated: where it came from and why (with
    the JSON pointer of the bad part, when there is one)."""
    message = i18n.render("finding.bad-record", {"record": origin, "reason": reason}, lang)
    return violation(ruleset, "bad-record", None, deal, None, at, message, record=origin,
                     **({"path": path} if path else {}))


def action(ruleset: str, code: str, rule: str, deal: str, stage: str | None, due: datetime,
           message: str, notify: str | None, channel: str | None, key_of: str | None = None,
           key_at: datetime | None = None, *, produced_by: str | None = None,
           **details: Any) -> Finding:
    """An action due at ``due``, keyed for exactly-once delivery (``key_of`` tells apart
    actions of one code, rule and instant: the level and role of a routed alert; ``key_at``
    keys an action due "now" by the instant its situation is known from instead). The key does
    not depend on the version that produced it: an unchanged rule keeps its keys across
    versions."""
    return Finding(ACTION, code, rule, deal, stage, due, message, ruleset, action=code,
                   notify=notify, channel=channel, due=due,
                   key=action_key(ruleset, rule, deal, key_of or code, key_at or due),
                   details=details, version=produced_by)


def order_key(finding: Finding) -> tuple[datetime, str, str]:
    """Within one deal: by time, then code, then rule."""
    return (finding.at, finding.code, finding.rule or "")
