"""Routing: every alert reaches a person, or says why it cannot.

A role is resolved per deal (:func:`resolve`):

* ``owner`` — the deal's owner;
* ``manager`` — the deal's manager; else the owner's manager from ``people:``, then from the
  team that lists the owner, then from the ``routing.lookup`` file;
* ``client`` — the deal's contact (the ``client`` field when the record has one, else the CRM's
  own contact of the deal, named ``client``);
* a team declared under ``teams:`` — the team itself (its members in ``details.members``);
* a person declared under ``people:`` — that person;
* ``fields.<name>``, or any other name — the deal field of that name.

Each routed alert is a ``notify`` action due when its level is reached, keyed by the ruleset,
the rule, the deal, the alert's code, level and role, and the due instant: the same inputs give
the same key in every run. A role that does not resolve still gives its action (``recipient``
null, the reason in ``details.unrouted``) and an ``unrouted`` violation saying why.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from pipeline_rules import i18n
from pipeline_rules.deals.model import Deal
from pipeline_rules.evaluate.context import Run
from pipeline_rules.evaluate.findings import ACTION, Finding
from pipeline_rules.ruleset.routing import FIELD_PREFIX, Directory

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Violation codes whose routing their own check does (levels of an SLA).
ROUTED_BY_CHECK = frozenset({"sla-warning", "sla-breach", "cycle-breach"})
_ROLE_TERMS = frozenset({"owner", "manager", "client"})

Reason = tuple[str, dict[str, Any]]


def resolve(role: str, deal: Deal, directory: Directory) -> tuple[str | None, Reason | None]:
    """Who ``role`` is on this deal, or None and the reason (a catalog key and arguments)."""
    if role == "owner":
        return (deal.owner, None) if deal.owner else (None, ("unrouted.no-owner", {}))
    if role == "manager":
        return _manager(deal, directory)
    if role == "client":
        client = deal.fields.get("client")
        return (str(client) if client not in (None, "") else "client"), None
    if role in directory.teams:
        return role, None
    if role in directory.people:
        return role, None
    name = role.removeprefix(FIELD_PREFIX)
    value = deal.fields.get(name)
    if value in (None, ""):
        return None, ("unrouted.no-field", {"field": name})
    return str(value), None


def _manager(deal: Deal, directory: Directory) -> tuple[str | None, Reason | None]:
    if deal.manager:
        return deal.manager, None
    owner = deal.owner
    if not owner:
        return None, ("unrouted.no-manager-no-owner", {})
    found = directory.managers.get(owner)
    if found:
        return found, None
    team = directory.team_of.get(owner)
    if team is not None and directory.lookup is None:
        return None, ("unrouted.team-without-manager", {"owner": owner, "team": team})
    places: list[tuple[str, Mapping[str, object]]] = [
        ("unrouted.in-team", {"name": team}) for team in directory.teams]
    if directory.lookup is not None:
        places.append(("unrouted.in-lookup", {"name": directory.lookup}))
    if not places:
        return None, ("unrouted.no-manager-nowhere", {"owner": owner})
    return None, ("unrouted.no-manager", {"owner": owner, "where": i18n.Choices(tuple(places))})


def addressed(run: Run, deal: Deal, role: str | None) -> tuple[str | None, str | None]:
    """Who an ``actions:`` or reminder addressed to ``role`` reaches, and why nobody when it
    reaches nobody (the client and an unnamed role are the CRM's to address: None, no
    reason)."""
    if role is None or role == "client":
        return None, None
    person, reason = resolve(role, deal, run.compiled.directory)
    if reason is None:
        return person, None
    return None, i18n.render(reason[0], reason[1], run.lang)


def role_name(role: str, lang: str) -> str:
    """A role as a person reads it: the built-in roles translated, names as written."""
    return i18n.render(f"role.{role}", {}, lang) if role in _ROLE_TERMS else role


def action_name(name: str, lang: str) -> str:
    """An ``actions:`` name as a person reads it: as written in English; translated where the
    catalog knows it (``escalate``), else quoted as written."""
    if lang == i18n.DEFAULT:
        return name
    return i18n.catalog(lang).get(f"action.{name}") or f"'{name}'"


def about(code: str, lang: str) -> str:
    """What a routed alert is about, in words."""
    return i18n.render(f"about.{code}", {}, lang)


def notify(run: Run, deal: Deal, roles: Iterable[str], *, code: str, rule: str, due: datetime,
           level: str = "", channel: str | None = None, key_at: datetime | None = None,
           **details: Any) -> Iterator[Finding]:
    """A ``notify`` action for each role (and an ``unrouted`` violation for each role that does
    not resolve), due at ``due``, about a finding ``code`` of ``rule`` (keyed by ``key_at``
    instead of ``due`` when given)."""
    directory = run.compiled.directory
    lang = run.lang
    topic = run.word(f"about.{code}")
    for role in roles:
        person, reason = resolve(role, deal, directory)
        args = {"role": run.word(f"role.{role}") if role in _ROLE_TERMS else role,
                "recipient": person or "—", "about": topic, "rule": rule, "level": level}
        extra: dict[str, Any] = {"recipient": person, "for": code}
        if level:
            extra["level"] = level
        if person is not None and person in directory.teams:
            extra["members"] = list(directory.teams[person])
        key_of = f"notify\x1f{code}\x1f{level}\x1f{role}"
        if reason is None:
            text = run.text(("notify", role, person or "", code, rule), "finding.notify", args)
            yield run.action("notify", rule, deal.id, deal.stage, due, "finding.notify", args,
                             role, channel, key_of, key_at, text, **extra, **details)
            continue
        why = i18n.render(reason[0], reason[1], lang)
        yield run.action("notify", rule, deal.id, deal.stage, due, "finding.notify-unrouted",
                         {**args, "reason": why}, role, channel, key_of, key_at,
                         **extra, unrouted=why, **details)
        yield unrouted(run, deal, role, code, rule, due, why)


def unrouted_detail(why: str | None) -> dict[str, Any]:
    """The ``unrouted`` detail of an action that reaches nobody (none when it reaches someone)."""
    return {} if why is None else {"unrouted": why}


def unrouted(run: Run, deal: Deal, role: str, code: str, rule: str, at: datetime,
             why: str) -> Finding:
    """The violation saying an alert reaches nobody, and why."""
    return run.violation("unrouted", rule, deal.id, deal.stage, at,
                         {"role": role_name(role, run.lang), "about": about(code, run.lang),
                          "rule": rule, "reason": why},
                         role=role, reason=why, **{"for": code})


def route_findings(found: list[Finding], deal: Deal, run: Run) -> list[Finding]:
    """The notify actions for the violations that ``routing:`` routes (SLA levels are routed by
    their own check)."""
    directory = run.compiled.directory
    routed: list[Finding] = []
    now = None
    for finding in found:
        if finding.kind == ACTION or finding.code in ROUTED_BY_CHECK:
            continue
        roles = directory.route(finding.code)
        if not roles:
            continue
        key_at = None
        if now is None:
            now = run.local(run.now)
        if finding.at == now:
            # A situation with no knowable start (a missing or too distant next task) is dated
            # at each run; its alert is keyed by what it is about, so it is delivered once: the
            # task and its due time, else the entry into the stage.
            key_at = _anchor(deal, finding)
        routed.extend(notify(run, deal, roles, code=finding.code,
                             rule=finding.rule or finding.code, due=finding.at, key_at=key_at))
    return routed


def _anchor(deal: Deal, finding: Finding) -> datetime:
    """The instant an undated situation is keyed by: the due time of the task it names, else
    the deal's last entry into its stage, else the start of the epoch."""
    due = finding.details.get("due")
    if isinstance(due, str):
        return datetime.fromisoformat(due)
    for entry in reversed(deal.history):
        if entry.stage == deal.stage:
            return entry.at
    return _EPOCH
