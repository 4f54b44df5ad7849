"""Graph rules: can every deal get from a start to an end, along one main path?

All rules here run on the stage graph (stages as nodes, declared moves as edges, ``from: "*"``
expanded to every non-terminal stage) in time linear in stages + transitions; `parallel-stages`
repeats its linear pass once per distinct start stage, less the starts inside a single chain
another start has already been checked for.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterator, Sequence
from functools import lru_cache

from pipeline_rules.ruleset.checks.context import CheckContext
from pipeline_rules.ruleset.checks.registry import rule
from pipeline_rules.ruleset.graph import StageGraph, reach
from pipeline_rules.ruleset.model import Condition, Stage, StartDef
from pipeline_rules.ruleset.problems import Problem, Severity
from pipeline_rules.ruleset.source import join

#: Words and phrases that name a limbo stage. A trailing ``*`` matches any word ending, which
#: covers English inflections and Russian cases (``отлож*``: отложено, отложен, отложить ...).
GAP_VOCABULARY: tuple[str, ...] = (
    "postpone*", "on hold", "hold", "paus*", "defer*", "delayed", "suspend*", "frozen", "freez*",
    "limbo", "dormant", "conditional refusal", "conditionally refused", "conditional reject*",
    "maybe later", "call back later", "not now", "no decision", "undecided", "think* it over",
    "отлож*", "условн* отказ*", "пауз*", "на паузе", "заморож*", "на удержании", "перенес*",
    "не сейчас", "позже", "подумают", "думают", "без решения",
    # waiting forms: "waiting for budget", "awaiting payment", "ждём бюджет", "ожидание оплаты"
    "waiting for", "waiting on", "wait for", "awaiting", "pending*", "ждем", "ждут", "ожида*",
)


def _stage_by_id(ctx: CheckContext) -> dict[str, Stage]:
    stages: dict[str, Stage] = {}
    for stage in ctx.ruleset.stages:
        stages.setdefault(stage.id, stage)
    return stages


@rule("unreachable-stage", Severity.ERROR)
def unreachable_stage(ctx: CheckContext) -> Iterator[Problem]:
    """A stage that no start can reach.

    ## What it finds
    A stage to which there is no chain of declared moves from any start stage.

    ## Why it matters
    No deal can ever be in it by the rules: either a move is missing, or the stage is left over
    from an old regulation and confuses the people who read it and the CRM that shows it.

    ## Example
    ```yaml
    start: [{stage: request}]
    transitions:
      - {from: request, to: proposal}
      - {from: demo, to: proposal}     # nothing leads to demo
    ```

    ## Use instead
    ```yaml
    transitions:
      - {from: request, to: demo}
      - {from: demo, to: proposal}
    ```
    """
    graph = ctx.graph
    if not graph.starts:
        return
    for stage_id, stage in _stage_by_id(ctx).items():
        if stage_id not in graph.reachable:
            yield Problem("unreachable-stage", {"stage": stage_id}, path=join(stage.path, "id"))


@rule("dead-end", Severity.ERROR)
def dead_end(ctx: CheckContext) -> Iterator[Problem]:
    """A non-terminal stage with no way out.

    ## What it finds
    A stage that is neither won nor lost and has no declared move out of it (a "trap state").

    ## Why it matters
    A deal that enters it can never be closed, won or lost; it stays open forever and breaks
    every SLA and conversion figure. Even a stage with no way forward needs a way to lost.

    ## Example
    ```yaml
    transitions:
      - {from: proposal, to: invoice}
      # nothing leaves invoice
    ```

    ## Use instead
    ```yaml
    transitions:
      - {from: proposal, to: invoice}
      - {from: invoice, to: paid}
      - {from: "*", to: lost, require: [loss_reason]}
    ```
    """
    graph = ctx.graph
    for stage_id, stage in _stage_by_id(ctx).items():
        if graph.is_open(stage_id) and not graph.successors[stage_id]:
            yield Problem("dead-end", {"stage": stage_id}, path=join(stage.path, "id"))


@rule("no-path-to-won", Severity.ERROR)
def no_path_to_won(ctx: CheckContext) -> Iterator[Problem]:
    """A non-terminal stage from which the won end cannot be reached.

    ## What it finds
    An open stage with moves out of it, none of which leads, directly or through other stages,
    to a won stage. (A stage with no moves at all is a `dead-end` and is reported only there.)

    ## Why it matters
    A deal there can only be lost. Either a move forward is missing, or the stage is a dressed-up
    refusal and should be the lost end with a reason.

    ## Example
    ```yaml
    transitions:
      - {from: proposal, to: review}
      - {from: review, to: lost}
    ```

    ## Use instead
    ```yaml
    transitions:
      - {from: proposal, to: review}
      - {from: review, to: invoice}
      - {from: "*", to: lost, require: [loss_reason]}
    ```
    """
    graph = ctx.graph
    if not graph.won:
        return
    for stage_id, stage in _stage_by_id(ctx).items():
        if (graph.is_open(stage_id) and graph.successors[stage_id]
                and stage_id not in graph.reaches_won):
            yield Problem("no-path-to-won", {"stage": stage_id}, path=join(stage.path, "id"))


def _normal(text: str) -> str:
    """Lower-case words separated by single spaces; ``_``, ``-`` and ``.`` separate words."""
    return " ".join(re.findall(r"[^\W_]+", text.lower().replace("ё", "е")))


@lru_cache(maxsize=16)
def _vocabulary_pattern(vocabulary: tuple[str, ...]) -> re.Pattern[str]:
    """One regex for the whole vocabulary; group ``e<i>`` is entry ``i``."""
    alternatives = []
    # Longer entries first: where two match at the same place, the fuller phrase is named
    # ("ждем бюджета" rather than "ждем").
    by_length = sorted(enumerate(vocabulary), key=lambda item: -len(item[1]))
    for i, entry in by_length:
        words = []
        for word in entry.split():
            core = re.escape(_normal(word.rstrip("*"))).replace(r"\ ", " ")
            if core:
                words.append(core + r"\w*" if word.endswith("*") else core)
        if words:
            alternatives.append(f"(?P<e{i}>{' '.join(words)})")
    if not alternatives:
        return re.compile(r"(?!)")
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b")


def vocabulary_match(text: str, vocabulary: Sequence[str]) -> str | None:
    """The words of ``text`` (normalised) that a vocabulary entry matches, or None."""
    found = _vocabulary_pattern(tuple(vocabulary)).search(_normal(text))
    return found.group(0) if found is not None else None


def _limbo_by_shape(graph: StageGraph, stage: str) -> bool:
    """From ``stage`` a deal can only go back (to an earlier stage of its cycle) or to lost."""
    if not graph.is_open(stage) or stage in graph.starts or stage not in graph.reachable:
        return False
    component = graph.component
    back = False
    for target in graph.successors[stage]:
        if target in graph.lost:
            continue
        if target in graph.won:
            return False
        same_cycle = component[target] == component[stage]
        if not same_cycle or graph.index[target] > graph.index[stage]:
            return False
        back = True
    return back


@rule("gap-stage", Severity.ERROR)
def gap_stage(ctx: CheckContext) -> Iterator[Problem]:
    """A limbo stage such as "Postponed", "On hold" or "Conditional refusal".

    ## What it finds
    A stage found either way:

    * **by shape** — an open stage, not a start, from which a deal can only go *back* or *out*:
      every move out of it leads to a lost stage or back to an earlier stage of the same loop
      (a stage declared before it, from which it can be reached again), and at least one leads
      back. No move leads forward (to won, to a later stage, or out of the loop);
    * **by name** — its id or title contains a word of the limbo vocabulary, as whole words
      (`ё` read as `е`, a trailing `*` matches any ending): postponed, on hold, paused, deferred,
      frozen, conditional refusal, maybe later, waiting for ..., awaiting, pending, отложено,
      условный отказ, пауза, заморожено, перенесено, позже, ждём ..., ожидание ..., ... A stage
      named so is reported whatever its exits (a "waiting for budget" stage with a move forward
      is still a parking place). Extend it with `lint: {gap_vocabulary: [...]}`.

    ## Why it matters
    A limbo stage is not allowed: a deal stays in the real stage it has reached, and a wait is
    recorded on the deal as a pause with its reason, which stops the clock honestly. A stage such
    as "Postponed" is a gap that hurts or kills the analytics: a deal parked there has no owner
    of its next step, its real state (waiting for a budget, lost to a competitor) is hidden, and
    stall figures stop meaning anything.

    ## Example
    ```yaml
    stages:
      - {id: proposal}
      - {id: postponed, title: "Отложено"}
    transitions:
      - {from: proposal, to: postponed}
      - {from: postponed, to: proposal}
    ```

    ## Use instead
    ```yaml
    stages:
      - {id: proposal}
    # the deal stays in proposal; a pause on the deal stops pausable SLAs:
    # pauses: [{from: 2026-11-01T00:00:00+03:00, to: 2026-11-15T00:00:00+03:00,
    #           reason: "budget approved in December"}]
    ```
    """
    vocabulary = ctx.gap_vocabulary or GAP_VOCABULARY
    graph = ctx.graph
    for stage_id, stage in _stage_by_id(ctx).items():
        if stage.terminal is not None or stage_id in graph.terminal:
            continue
        word = vocabulary_match(f"{stage.id} {stage.title}", vocabulary)
        if word is not None:
            yield Problem("gap-stage.word", {"stage": stage_id, "word": word},
                          path=join(stage.path, "id"))
        elif _limbo_by_shape(graph, stage_id):
            yield Problem("gap-stage.shape", {"stage": stage_id}, path=join(stage.path, "id"))


@rule("parallel-stages", Severity.ERROR)
def parallel_stages(ctx: CheckContext) -> Iterator[Problem]:
    """Two open stages a deal could be in as alternatives, neither leading to the other.

    ## What it finds
    A fork on the main path. Take the open (non-terminal) stages reachable from one start stage,
    with each loop of stages counted as one step; they must form a single chain in which every
    stage leads to the next. Two of them are parallel when neither can be reached from the other.
    Alternative start stages (cold and inbound) are not parallel: each start is checked on its
    own. Skip moves are fine (`qualification → proposal` beside `qualification → meeting →
    proposal`): they keep the order. Each stage is reported once, at its id, naming one stage
    declared before it that it is parallel to (a three-way fork gives two findings).

    ## Why it matters
    The open stages form one sequence: parallel stages kill the analytics. A deal can be in only
    one stage; if "Legal review" and "Technical review" run side by side, the CRM shows one of
    them at random, and dwell time and conversion per stage lose their meaning.

    ## Example
    ```yaml
    transitions:
      - {from: proposal, to: legal_review}
      - {from: proposal, to: tech_review}
      - {from: legal_review, to: invoice}
      - {from: tech_review, to: invoice}
    ```

    ## Use instead
    ```yaml
    transitions:
      - {from: proposal, to: review}      # one stage; the two reviews are tasks in it
      - {from: review, to: invoice}
    ```
    """
    graph = ctx.graph
    stages = _stage_by_id(ctx)
    reported: set[str] = set()
    in_chain: set[str] = set()
    for number, start in enumerate(graph.starts, 1):
        if start in in_chain:
            continue
        forks: list[str] = []
        for later, earlier in _parallel(graph, start, reported, forks):
            yield Problem("parallel-stages", {"stage": later, "other": earlier},
                          path=join(stages[later].path, "id"))
        if not forks and number < len(graph.starts):
            # Every stage reachable from a start in a single chain is ordered with every other,
            # so a later start inside it has nothing to report: skip its pass.
            in_chain |= reach([start], graph.successors)


def _parallel(graph: StageGraph, start: str, reported: set[str],
              forks: list[str]) -> Iterator[tuple[str, str]]:
    """The stages (reachable from ``start``) first found parallel to another, each with that
    other stage (declared before it when it was found as the later of the two); each is added
    to ``reported``, and stages already in it are not found again. The first stage of each
    step with several ready is added to ``forks``, reported or not.

    Kahn's topological sort on the loops-condensed graph: two components ready at the same
    time have no path between them, and the sort is a single chain exactly when at most one
    component is ready at every step. At each step the head of the queue is paired with every
    other ready component; of each pair the later-declared stage is reported. Pairing each head
    with the whole queue would be quadratic in a wide fork, so the later-declared partners of
    the head come from a heap of the unreported ones, and the head's own earlier partner (the
    first in the queue declared before it) from a scan that never passes a position twice.
    """
    # With one start, what it reaches is what the graph found reachable.
    reached = graph.reachable if len(graph.starts) == 1 else reach([start], graph.successors)
    members = [s for s in reached if graph.is_open(s)]
    component = graph.component
    first_member: dict[int, str] = {}
    for stage in sorted(members, key=graph.index.__getitem__):
        first_member.setdefault(component[stage], stage)
    indegree = dict.fromkeys(first_member, 0)
    edges: dict[int, set[int]] = {c: set() for c in first_member}
    for stage in members:
        for target in graph.successors[stage]:
            source_c, target_c = component[stage], component.get(target)
            if target_c in edges and target_c != source_c and target_c not in edges[source_c]:
                edges[source_c].add(target_c)
                indegree[target_c] += 1

    def order(c: int) -> int:
        return graph.index[first_member[c]]

    queue = sorted((c for c, d in indegree.items() if d == 0), key=order)
    # Ready components whose stage was not reported when they joined, latest-declared first.
    waiting = [(-order(c), c) for c in queue if first_member[c] not in reported]
    heapq.heapify(waiting)
    position = {c: i for i, c in enumerate(queue)}
    head = 0
    while head < len(queue):
        current = queue[head]
        stage, rank = first_member[current], order(current)
        if len(queue) - head > 1:
            forks.append(stage)
            if stage not in reported:
                for i in range(head + 1, len(queue)):
                    if order(queue[i]) < rank:
                        reported.add(stage)
                        yield stage, first_member[queue[i]]
                        break
            while waiting and -waiting[0][0] > rank:
                _, other = heapq.heappop(waiting)
                later = first_member[other]
                if position[other] > head and later not in reported:
                    reported.add(later)
                    yield later, stage
        head += 1
        for target_c in sorted(edges[current], key=order):
            indegree[target_c] -= 1
            if indegree[target_c] == 0:
                position[target_c] = len(queue)
                queue.append(target_c)
                if first_member[target_c] not in reported:
                    heapq.heappush(waiting, (-order(target_c), target_c))


def _implies(narrow: Condition, broad: Condition) -> bool:
    """Whether every deal that passes ``narrow`` passes ``broad`` (tests on one field)."""
    if narrow.field != broad.field:
        return False
    if narrow.op == broad.op and narrow.value == broad.value:
        return True
    if broad.op != "in" or not isinstance(broad.value, tuple):
        return False
    if narrow.op == "eq":
        return narrow.value in broad.value
    if narrow.op == "in" and isinstance(narrow.value, tuple):
        return all(v in broad.value for v in narrow.value)
    return False


def _tests(start: StartDef) -> list[tuple[str, str, str]]:
    return sorted((c.field, c.op, repr(c.value)) for c in start.when)


def _shadows(broad: StartDef, narrow: StartDef) -> bool:
    """Whether ``broad`` matches every deal ``narrow`` matches (each of its tests is implied by
    one of ``narrow``'s)."""
    return all(any(_implies(n, b) for n in narrow.when) for b in broad.when)


@rule("shadowed-start", Severity.WARNING)
def shadowed_start(ctx: CheckContext) -> Iterator[Problem]:
    """A start definition that can never be chosen: a broader one before it takes its deals.

    ## What it finds
    A `start:` entry whose every deal is matched by an earlier entry with conditions: each test
    of the earlier one is implied by a test of the later one (the same test, `eq` a value
    inside an `in` list, an `in` list inside a larger one). An earlier entry with no `when` at
    all, or with the very same tests, is `invalid-start`'s to report. A deal starts at the
    first entry it matches, so the later one never fires. The finding stands at the later
    entry and names the line and column of the earlier one.

    ## Why it matters
    A start that never fires is a dead rule that looks alive: inbound calls meant to start at
    `request` start at `find_dm` instead, and nobody sees why. It is the "postponed" limbo in
    another form: a path the regulation describes that no deal can take.

    ## Example
    ```yaml
    start:
      - {id: inbound, when: {source: [web_form, inbound_call, email]}, stage: request}
      - {id: web, when: {source: web_form, region: north}, stage: find_dm}
    ```

    ## Use instead
    ```yaml
    start:
      - {id: web, when: {source: web_form, region: north}, stage: find_dm}
      - {id: inbound, when: {source: [web_form, inbound_call, email]}, stage: request}
    ```

    ## Known limits
    Only tests that can be compared by their text are compared (`eq`, `in`, the same operator
    with the same value); a range test (`gt`) or a plugin operator never counts as broader.
    """
    starts = ctx.ruleset.starts
    positions = ctx.ruleset.positions
    for i, later in enumerate(starts):
        for earlier in starts[:i]:
            if earlier.when and _tests(earlier) != _tests(later) and _shadows(earlier, later):
                at = positions.value(earlier.path)
                yield Problem("shadowed-start",
                              {"start": later.id, "by": earlier.id, "line": at.line,
                               "column": at.column}, path=later.path)
                break
