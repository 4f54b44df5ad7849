"""Structure rules: do the names in the ruleset fit together?"""

from __future__ import annotations

import re
from collections.abc import Iterator

from pipeline_rules.ruleset.checks.context import CheckContext
from pipeline_rules.ruleset.checks.registry import rule
from pipeline_rules.ruleset.model import CYCLE_END, CYCLE_START, Ref
from pipeline_rules.ruleset.problems import Problem, Severity
from pipeline_rules.ruleset.source import join
from pipeline_rules.suggest import Suggestions

STAGE_ID = re.compile(r"[\w.-]+\Z")
RESERVED_IDS = frozenset({"*", CYCLE_START, CYCLE_END, "default"})
#: How many won stages an `ambiguous-end` finding names.
LISTED_WON = 10


def _unknown(ref: Ref, suggest: Suggestions, at_key: bool) -> Problem:
    suggestion = suggest(ref.name)
    return Problem("unknown-stage.suggest" if suggestion else "unknown-stage",
                   {"name": ref.name, "suggestion": suggestion}, path=ref.path, at_key=at_key)


@rule("duplicate-stage", Severity.ERROR, blocks_use=True)
def duplicate_stage(ctx: CheckContext) -> Iterator[Problem]:
    """Two stages with one id.

    ## What it finds
    A stage whose `id` was already used by an earlier stage.

    ## Why it matters
    Moves, SLAs and deal histories name stages by id; with two stages of one id nobody can tell
    which one a deal is in, and analytics merge two different things.

    ## Example
    ```yaml
    stages:
      - {id: meeting, title: "Meeting scheduled"}
      - {id: meeting, title: "Meeting held"}
    ```

    ## Use instead
    ```yaml
    stages:
      - {id: meeting_scheduled, title: "Meeting scheduled"}
      - {id: meeting_held, title: "Meeting held"}
    ```
    """
    first: dict[str, str] = {}
    for stage in ctx.ruleset.stages:
        if stage.id in first:
            line = ctx.ruleset.positions.value(first[stage.id]).line
            yield Problem("duplicate-stage", {"stage": stage.id, "line": line},
                          path=join(stage.path, "id"))
        else:
            first[stage.id] = join(stage.path, "id")


@rule("duplicate-id", Severity.ERROR, blocks_use=True)
def duplicate_id(ctx: CheckContext) -> Iterator[Problem]:
    """Two SLAs, reminders or start definitions with one id.

    ## What it finds
    An `id` already used by an earlier SLA or reminder (they share one namespace: findings name
    the rule that caused them by this id), or by an earlier start definition.

    ## Why it matters
    Every finding and action carries the id of the rule that caused it, and actions are keyed by
    it so a CRM never sends one twice. Two rules with one id make findings ambiguous and can make
    two different reminders share a key, so one of them is never sent.

    ## Example
    ```yaml
    sla:
      - {id: stall, stage: meeting, limit: 7d}
      - {id: stall, stage: proposal, limit: 5 business days}
    ```

    ## Use instead
    ```yaml
    sla:
      - {id: meeting-stall, stage: meeting, limit: 7d}
      - {id: proposal-stall, stage: proposal, limit: 5 business days}
    ```
    """
    rs = ctx.ruleset
    groups = [[(s.id, s.path) for s in rs.slas] + [(r.id, r.path) for r in rs.reminders],
              [(s.id, s.path) for s in rs.starts if rs.positions.has(join(s.path, "id"))]]
    for group in groups:
        first: dict[str, str] = {}
        for ident, path in group:
            at = join(path, "id")
            if ident in first:
                line = rs.positions.value(first[ident]).line
                yield Problem("duplicate-id", {"id": ident, "line": line}, path=at)
            else:
                first[ident] = at


@rule("invalid-stage-id", Severity.ERROR, blocks_use=True)
def invalid_stage_id(ctx: CheckContext) -> Iterator[Problem]:
    """A stage id that is empty, has spaces or punctuation, or is a reserved word.

    ## What it finds
    Stage ids must be one word of letters, digits, `_`, `-` or `.` (not starting with `-` or
    `.`). The words `start`, `end`, `default` and `*` are reserved: they have a meaning in SLA
    spans, task gaps and moves.

    ## Why it matters
    Ids are what CRMs send and what histories store; a space or an empty id breaks CSV mappings,
    URLs and command lines. Put the human wording in `title`.

    ## Example
    ```yaml
    stages:
      - id: "Meeting scheduled"
    ```

    ## Use instead
    ```yaml
    stages:
      - id: meeting
        title: "Meeting scheduled"
    ```
    """
    for stage in ctx.ruleset.stages:
        if stage.id in RESERVED_IDS:
            yield Problem("invalid-stage-id.reserved", {"stage": stage.id},
                          path=join(stage.path, "id"))
        elif not STAGE_ID.match(stage.id):
            yield Problem("invalid-stage-id", {"stage": stage.id}, path=join(stage.path, "id"))
        elif stage.id[0] in "-.":
            yield Problem("invalid-stage-id.start", {"stage": stage.id},
                          path=join(stage.path, "id"))


@rule("unknown-stage", Severity.ERROR, blocks_use=True)
def unknown_stage(ctx: CheckContext) -> Iterator[Problem]:
    """A start, end, move, SLA, task gap or reminder that names a stage that does not exist.

    ## What it finds
    Every place a stage is named — `start[].stage`, `end.won`/`end.lost`, `transitions[].from`
    and `.to`, `sla[].stage`/`.from`/`.to` (besides the words `start` and `end`), the keys of
    `tasks.max_gap` (besides `default`) and `reminders[].stages` — checked against the declared
    stage ids, with the nearest id suggested.

    ## Why it matters
    A misspelt stage name makes a move impossible or a timer that never runs, silently.

    ## Example
    ```yaml
    transitions:
      - {from: meting, to: proposal}
    ```

    ## Use instead
    ```yaml
    transitions:
      - {from: meeting, to: proposal}
    ```
    """
    rs = ctx.ruleset
    known = ctx.stage_ids
    refs: list[Ref] = [s.stage for s in rs.starts]
    refs += [*rs.won, *rs.lost]
    for move in rs.transitions:
        refs += [*move.sources, move.target]
    for sla in rs.slas:
        refs += [r for r in (sla.stage,) if r is not None]
        refs += [r for r in (sla.span_from,) if r is not None and r.name != CYCLE_START]
        refs += [r for r in (sla.span_to,) if r is not None and r.name != CYCLE_END]
    for reminder in rs.reminders:
        refs += reminder.stages
    suggest = Suggestions(known)
    for ref in refs:
        if ref.name not in known:
            yield _unknown(ref, suggest, at_key=False)
    if rs.tasks is not None:
        # A task gap names its stage by the key of the entry: point at the key.
        for gap in rs.tasks.max_gap:
            if gap.stage != "default" and gap.stage not in known:
                yield _unknown(Ref(gap.stage, gap.path), suggest, at_key=True)


@rule("invalid-transition", Severity.ERROR, blocks_use=True)
def invalid_transition(ctx: CheckContext) -> Iterator[Problem]:
    """A move from a stage to itself, or out of a terminal stage.

    ## What it finds
    A transition whose `to` is one of its `from` stages, or whose `from` names a won or lost
    stage.

    ## Why it matters
    Staying in a stage is not a move: it would reset the stage's timers without progress.
    Won and lost stages end the cycle; a move out of them reopens closed deals behind the
    analytics' back — start a new deal (a new cycle) instead.

    ## Example
    ```yaml
    transitions:
      - {from: meeting, to: meeting}
      - {from: lost, to: qualification}
    ```

    ## Use instead
    ```yaml
    transitions:
      - {from: meeting, to: proposal}
    ```
    """
    terminal = ctx.graph.terminal
    for move in ctx.ruleset.transitions:
        for source in move.sources:
            if source.name == move.target.name:
                yield Problem("invalid-transition.self", {"stage": source.name},
                              path=move.target.path)
            elif source.name in terminal:
                yield Problem("invalid-transition.terminal", {"stage": source.name},
                              path=source.path)


@rule("no-start", Severity.ERROR, blocks_use=True)
def no_start(ctx: CheckContext) -> Iterator[Problem]:
    """No start definition: nothing says where a deal's cycle begins.

    ## What it finds
    A ruleset without `start:` entries.

    ## Why it matters
    Every kind of deal has a defined first stage: cold sales start at searching the
    decision-maker, inbound ones at the request. Without a start the engine cannot tell which
    stage a new deal may enter, which stages are reachable, or when a whole-cycle SLA begins.

    ## Example
    ```yaml
    stages: [{id: request}, {id: paid, terminal: won}, {id: lost, terminal: lost}]
    ```

    ## Use instead
    ```yaml
    start:
      - {id: inbound, stage: request, when: {source: [web_form, inbound_call]}}
    ```
    """
    if not ctx.ruleset.starts:
        where = "/start" if ctx.ruleset.positions.has("/start") else "/stages"
        yield Problem("no-start", {}, path=where, at_key=True)


@rule("invalid-start", Severity.ERROR, blocks_use=True)
def invalid_start(ctx: CheckContext) -> Iterator[Problem]:
    """A start definition that can never apply or starts a cycle in a terminal stage.

    ## What it finds
    A start in a won or lost stage; a start whose `when` is the same as an earlier one's; any
    start after one without `when` (the catch-all takes every deal first).

    ## Why it matters
    Start definitions are tried in order and the first that matches a deal wins; a shadowed one
    is dead text that readers believe in.

    ## Example
    ```yaml
    start:
      - {id: any, stage: request}
      - {id: cold, stage: find_dm, when: {source: cold}}
    ```

    ## Use instead
    ```yaml
    start:
      - {id: cold, stage: find_dm, when: {source: cold}}
      - {id: any, stage: request}
    ```
    """
    terminal = ctx.graph.terminal
    seen: dict[tuple[tuple[str, str, str], ...], str] = {}
    catch_all: str | None = None
    for start in ctx.ruleset.starts:
        if start.stage.name in terminal:
            yield Problem("invalid-start.terminal", {"stage": start.stage.name},
                          path=start.stage.path)
        if catch_all is not None:
            yield Problem("invalid-start.after-catch-all", {"start": start.id, "other": catch_all},
                          path=start.path)
            continue
        conditions = tuple(sorted((c.field, c.op, repr(c.value)) for c in start.when))
        if not conditions:
            catch_all = start.id
        elif conditions in seen:
            yield Problem("invalid-start.same-conditions",
                          {"start": start.id, "other": seen[conditions]}, path=start.path)
        else:
            seen[conditions] = start.id


@rule("no-end", Severity.ERROR, blocks_use=True)
def no_end(ctx: CheckContext) -> Iterator[Problem]:
    """No won stage or no lost stage: the cycle has no defined end.

    ## What it finds
    A ruleset where no stage is won (`terminal: won` or listed in `end.won`) or none is lost.

    ## Why it matters
    Where the cycle ends (payment or shipment) is a decision to write down.
    Without a won end no deal is ever finished; without a lost end a dead deal stays open forever
    and pollutes SLA and conversion figures.

    ## Example
    ```yaml
    stages: [{id: request}, {id: proposal}, {id: paid}]
    ```

    ## Use instead
    ```yaml
    stages: [{id: request}, {id: proposal}, {id: paid, terminal: won}, {id: lost, terminal: lost}]
    end: {won: paid, lost: lost}
    ```
    """
    graph = ctx.graph
    path = "/end" if ctx.ruleset.positions.has("/end") else "/stages"
    if not graph.won:
        yield Problem("no-end.won", {}, path=path, at_key=True)
    if not graph.lost:
        yield Problem("no-end.lost", {}, path=path, at_key=True)


@rule("ambiguous-end", Severity.WARNING, blocks_use=True)
def ambiguous_end(ctx: CheckContext) -> Iterator[Problem]:
    """A cycle with more than one won end, or stages whose terminal kind contradicts `end:`.

    ## What it finds
    More than one won stage; a stage marked `terminal: lost` but listed in `end.won` (or the
    other way round). Each finding lists the won stages, the first ten of them when there are
    more.

    ## Why it matters
    The cycle ends at payment (service takes over) *or* at shipment (the manager stays with
    logistics) — a choice, made once. Two won ends make cycle length, win rate and the
    whole-cycle SLA depend on which one a manager happened to pick.

    ## Example
    ```yaml
    stages:
      - {id: paid, terminal: won}
      - {id: shipped, terminal: won}
    ```

    ## Use instead
    ```yaml
    stages:
      - {id: paid}
      - {id: shipped, terminal: won}
    ```
    """
    rs = ctx.ruleset
    marked = {s.id: s.terminal for s in rs.stages}
    contradicted: set[str] = set()
    for kind, refs in (("won", rs.won), ("lost", rs.lost)):
        for ref in refs:
            declared = marked.get(ref.name)
            if declared is not None and declared != kind:
                contradicted.add(ref.name)
                yield Problem("ambiguous-end.contradiction",
                              {"stage": ref.name, "declared": declared, "listed": kind},
                              path=ref.path)
    # A contradicted stage is reported once, above, not again as a second won end.
    won = [s for s in rs.stages if s.id in ctx.graph.won and s.id not in contradicted]
    if len(won) > 1:
        # Every finding names the won stages: a bounded number of them, or a file with
        # thousands of won stages would give a report quadratic in its size.
        names = ", ".join(s.id for s in won[:LISTED_WON])
        more = len(won) - LISTED_WON
        message = "ambiguous-end.won-many" if more > 0 else "ambiguous-end.won"
        for stage in won[1:]:
            yield Problem(message, {"stage": stage.id, "stages": names, "more": f"{more:,}"},
                          path=join(stage.path, "id"))


@rule("unknown-action", Severity.ERROR, blocks_use=True)
def unknown_action(ctx: CheckContext) -> Iterator[Problem]:
    """An SLA's `on_breach` naming an action that `actions:` does not define.

    ## What it finds
    Names in `sla[].on_breach` missing from the `actions:` map, with the nearest name suggested.

    ## Why it matters
    A stalled deal is escalated: the manager must learn of it at once. An escalation that names a
    missing action is never sent.

    ## Example
    ```yaml
    sla:
      - {id: meeting-stall, stage: meeting, limit: 7d, on_breach: [escalte]}
    actions:
      escalate: {notify: manager}
    ```

    ## Use instead
    ```yaml
    sla:
      - {id: meeting-stall, stage: meeting, limit: 7d, on_breach: [escalate]}
    ```
    """
    known = frozenset(a.name for a in ctx.ruleset.actions)
    suggest = Suggestions(known)
    for sla in ctx.ruleset.slas:
        for ref in sla.on_breach:
            if ref.name not in known:
                suggestion = suggest(ref.name)
                yield Problem("unknown-action.suggest" if suggestion else "unknown-action",
                              {"name": ref.name, "suggestion": suggestion}, path=ref.path)


@rule("unknown-calendar", Severity.ERROR, blocks_use=True)
def unknown_calendar(ctx: CheckContext) -> Iterator[Problem]:
    """An SLA, task rule or reminder naming a calendar that `calendars:` does not define.

    ## What it finds
    `sla[].calendar`, `tasks.calendar` and `reminders[].calendar` values missing from the
    `calendars:` map, with the nearest name suggested.

    ## Why it matters
    Business-day timers need their calendar; without it the engine cannot tell a weekend from a
    working day.

    ## Example
    ```yaml
    sla:
      - {id: proposal-decision, stage: proposal, limit: 5 business days, calendar: workday}
    calendars:
      workdays: {week: [mon, tue, wed, thu, fri]}
    ```

    ## Use instead
    ```yaml
    sla:
      - {id: proposal-decision, stage: proposal, limit: 5 business days, calendar: workdays}
    ```
    """
    known = frozenset(c.name for c in ctx.ruleset.calendars)
    refs = [s.calendar for s in ctx.ruleset.slas if s.calendar is not None]
    if ctx.ruleset.tasks is not None and ctx.ruleset.tasks.calendar is not None:
        refs.append(ctx.ruleset.tasks.calendar)
    refs += [r.calendar for r in ctx.ruleset.reminders if r.calendar is not None]
    suggest = Suggestions(known)
    for ref in refs:
        if ref.name not in known:
            suggestion = suggest(ref.name)
            yield Problem("unknown-calendar.suggest" if suggestion else "unknown-calendar",
                          {"name": ref.name, "suggestion": suggestion}, path=ref.path)


@rule("unknown-plugin", Severity.ERROR, blocks_use=True)
def unknown_plugin(ctx: CheckContext) -> Iterator[Problem]:
    """A `plugins:` entry that names no installed plugin.

    ## What it finds
    Names in `plugins:` that no installed package registers as an entry point in the groups
    `pipeline_rules.checks`, `pipeline_rules.conditions` or `pipeline_rules.actions`, with the
    nearest installed name suggested.

    ## Why it matters
    A ruleset that needs a plugin cannot run without it: the evaluator and the HTTP service refuse
    to load it. Plugins are found only by these names — never by a module path in the YAML.

    ## Example
    ```yaml
    plugins: [big-deal]
    ```

    ## Use instead
    ```yaml
    plugins: [big-deals]    # pip install the package that provides it
    ```
    """
    names = ctx.ruleset.plugins
    if not names:
        return
    from pipeline_rules.ruleset.plugins import installed_names

    known = installed_names()
    suggest = Suggestions(known)
    for i, name in enumerate(names):
        if name not in known:
            suggestion = suggest(name)
            yield Problem("unknown-plugin.suggest" if suggestion else "unknown-plugin",
                          {"name": name, "suggestion": suggestion}, path=join("/plugins", i))


@rule("unknown-operator", Severity.ERROR, blocks_use=True)
def unknown_operator(ctx: CheckContext) -> Iterator[Problem]:
    """A condition operator that is neither built in nor added by an enabled plugin.

    ## What it finds
    Operators in `when`/`unless` maps (of starts and moves) other than `eq`, `ne`, `in`,
    `not_in`, `gt`, `gte`, `lt`, `lte`, `exists`, unless a plugin listed in `plugins:` adds that
    operator; a misspelt built-in gets the nearest one suggested.

    ## Why it matters
    An unknown operator cannot be evaluated: the condition would never hold, and the move it
    guards would be refused for every deal.

    ## Example
    ```yaml
    transitions:
      - {from: proposal, to: invoice, when: {amount: {greater: 100000}}}
    ```

    ## Use instead
    ```yaml
    transitions:
      - {from: proposal, to: invoice, when: {amount: {gt: 100000}}}
    ```
    """
    from pipeline_rules.ruleset.conditions import BUILTIN_OPERATORS

    rs = ctx.ruleset
    conditions = [c for s in rs.starts for c in s.when]
    conditions += [c for m in rs.transitions for c in (*m.when, *m.unless)]
    strange = [c for c in conditions if c.op not in BUILTIN_OPERATORS]
    if not strange:
        return
    from pipeline_rules.ruleset.plugins import CONDITIONS, installed

    added = set(installed(CONDITIONS)) & set(rs.plugins)
    suggest = Suggestions(BUILTIN_OPERATORS | added)
    for condition in strange:
        if condition.op not in added:
            suggestion = suggest(condition.op)
            yield Problem("unknown-operator.suggest" if suggestion else "unknown-operator",
                          {"op": condition.op, "suggestion": suggestion}, path=condition.path,
                          at_key=True)
