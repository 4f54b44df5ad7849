"""Routing rules: does every alert name someone who can exist?"""

from __future__ import annotations

from collections.abc import Iterator

from pipeline_rules.ruleset.checks.context import CheckContext
from pipeline_rules.ruleset.checks.registry import rule
from pipeline_rules.ruleset.model import Ref, Ruleset
from pipeline_rules.ruleset.problems import Problem, Severity
from pipeline_rules.ruleset.routing import BUILTIN_ROLES, FIELD_PREFIX


def notify_refs(rs: Ruleset) -> Iterator[Ref]:
    """Every role a ``notify`` of the ruleset names, in document order of its section."""
    for sla in rs.slas:
        for level in (*sla.warn_levels, *sla.breach_levels):
            yield from level.roles
    for entry in rs.entry_actions():
        yield from entry.roles
    if rs.pauses is not None:
        yield from rs.pauses.roles
    if rs.routing is not None:
        for _code, refs in rs.routing.notify:
            yield from refs


def _named_fields(rs: Ruleset) -> set[str]:
    """Deal fields the ruleset itself names (in ``require`` and conditions)."""
    names: set[str] = set()
    for move in rs.transitions:
        names.update(move.require)
        names.update(c.field for c in (*move.when, *move.unless))
    for start in rs.starts:
        names.update(c.field for c in start.when)
    return names


@rule("unknown-role", Severity.WARNING)
def unknown_role(ctx: CheckContext) -> Iterator[Problem]:
    """A `notify` role that nothing can provide.

    ## What it finds
    A role in a `notify:` (warning and escalation levels, `on_enter`, `end.on_won` /
    `end.on_lost`, `pauses`, `routing.notify`) that is not `owner`, `manager` or `client`, not
    a team under `teams:`, not a person under `people:` or in a team, not written as a deal
    field (`fields.<name>`) and not a deal field the ruleset names elsewhere (in `require` or a
    condition).

    ## Why it matters
    Every alert must reach a person. A role that is a typo (`manger`) or a person nobody
    declared resolves to nobody on every deal: each alert becomes an `unrouted` finding instead
    of a message.

    ## Example
    ```yaml
    sla:
      - id: proposal-decision
        stage: proposal
        limit: 5 business days
        on_breach: [{after: 2 business days, notify: head_of_sales}]
    ```

    ## Use instead
    ```yaml
    people:
      head_of_sales: {description: "Head of sales"}
    # or, when each deal's record carries the person in a field:
    #   on_breach: [{after: 2 business days, notify: fields.head_of_sales}]
    ```

    ## Known limits
    A bare name that is a deal field no rule mentions is reported although deals may carry
    it: write it as `fields.<name>` to say so.
    """
    rs = ctx.ruleset
    known = set(BUILTIN_ROLES) | {t.name for t in rs.teams} | {p.name for p in rs.people}
    for team in rs.teams:
        known.update(team.members)
        if team.manager is not None:
            known.add(team.manager)
    known |= _named_fields(rs)
    for ref in notify_refs(rs):
        if ref.name.startswith(FIELD_PREFIX) or ref.name in known:
            continue
        yield Problem("unknown-role", {"role": ref.name}, path=ref.path)
