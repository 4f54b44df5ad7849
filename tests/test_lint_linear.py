"""Lint stays linear in stages and moves: the rules that once paired every stage with every
other (a wide fork, many won stages, many misspelt names, many whole-cycle SLAs, a mapping with
many keys) give the findings they gave before, at a cost that grows with the file.

Times are not asserted here (benchmarks/bench_lint.py measures them); these tests pin the
findings of the rewritten rules against the obvious quadratic definitions.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Iterator

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_rules.lint import lint
from pipeline_rules.ruleset import schema
from pipeline_rules.ruleset.graph import StageGraph, build_graph, reach
from pipeline_rules.ruleset.loader import load_document
from pipeline_rules.ruleset.model import build_ruleset
from pipeline_rules.ruleset.schema import ALIKE_MIN, validate
from pipeline_rules.ruleset.source import Source


def _reference_pairs(graph: StageGraph, start: str) -> Iterator[tuple[str, str]]:
    """The pairing as first written: each head of Kahn's queue with every other ready
    component (quadratic in a wide fork)."""
    members = [s for s in reach([start], graph.successors) if graph.is_open(s)]
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

    ready = deque(sorted((c for c, d in indegree.items() if d == 0), key=order))
    while ready:
        if len(ready) > 1:
            head = first_member[ready[0]]
            for other in list(ready)[1:]:
                yield head, first_member[other]
        current = ready.popleft()
        for target_c in sorted(edges[current], key=order):
            indegree[target_c] -= 1
            if indegree[target_c] == 0:
                ready.append(target_c)


def _reference_parallel(text: str) -> set[tuple[str, str]]:
    ruleset = build_ruleset(load_document(Source("r.yaml", text)))
    graph = build_graph(ruleset)
    reported: dict[str, str] = {}
    for start in graph.starts:
        for first, second in _reference_pairs(graph, start):
            later, earlier = sorted((first, second), key=graph.index.__getitem__, reverse=True)
            reported.setdefault(later, earlier)
    return set(reported.items())


@st.composite
def forked_pipelines(draw: st.DrawFn) -> str:
    size = draw(st.integers(2, 12))
    stages = [f"s{i}" for i in range(size)]
    targets = [*stages, "won", "lost"]
    edges = draw(st.sets(st.tuples(st.sampled_from(stages), st.sampled_from(targets)),
                         max_size=size * 3))
    starts = draw(st.lists(st.sampled_from(stages), min_size=1, max_size=4, unique=True))
    order = draw(st.permutations(stages))
    data = {
        "version": 1, "id": "random",
        "stages": [{"id": s} for s in order]
        + [{"id": "won", "terminal": "won"}, {"id": "lost", "terminal": "lost"}],
        "start": [{"id": f"start{i}", "stage": s, "when": {"source": f"src{i}"}}
                  for i, s in enumerate(starts)],
        "transitions": [{"from": a, "to": b} for a, b in sorted(edges) if a != b],
    }
    return yaml.safe_dump(data, sort_keys=False)


def _parallel_found(text: str) -> set[tuple[str, str]]:
    found = [d for d in lint(Source("r.yaml", text)) if d.rule == "parallel-stages"]
    return {(d.message.split("'")[1], d.message.split("'")[3]) for d in found}


@settings(max_examples=400, deadline=None)
@given(forked_pipelines())
def test_parallel_stages_names_the_pairs_the_quadratic_pairing_named(text: str) -> None:
    assert _parallel_found(text) == _reference_parallel(text)


def _star(width: int, declared_backwards: bool = False) -> str:
    """One start fanning out to ``width`` stages that all lead to won."""
    leaves = [f"leaf{i}" for i in range(width)]
    stages = list(reversed(leaves)) if declared_backwards else leaves
    lines = ["version: 1", "id: star", "stages:", "- {id: hub}"]
    lines += [f"- {{id: {s}}}" for s in stages]
    lines += ["- {id: won, terminal: won}", "- {id: lost, terminal: lost}",
              "start:", "- {id: any, stage: hub}", "transitions:"]
    lines += [f"- {{from: hub, to: {s}}}" for s in leaves]
    lines += [f"- {{from: {s}, to: won}}" for s in leaves]
    lines += ['- {from: "*", to: lost}']
    return "\n".join(lines) + "\n"


def test_a_wide_fork_reports_every_leaf_but_the_first_once() -> None:
    for backwards in (False, True):
        assert _parallel_found(_star(300, backwards)) == _reference_parallel(_star(300, backwards))
        found = _parallel_found(_star(5000, backwards))
        assert len(found) == len({stage for stage, _ in found}) == 4999


def test_many_won_stages_list_a_bounded_number_of_names() -> None:
    won = [f"w{i}" for i in range(2000)]
    lines = ["version: 1", "id: many-won", "stages:", "- {id: a}"]
    lines += [f"- {{id: {w}, terminal: won}}" for w in won]
    lines += ["- {id: lost, terminal: lost}", "start:", "- {id: any, stage: a}", "transitions:"]
    lines += [f"- {{from: a, to: {w}}}" for w in won] + ['- {from: "*", to: lost}']
    found = [d for d in lint(Source("r.yaml", "\n".join(lines) + "\n"))
             if d.rule == "ambiguous-end"]
    assert len(found) == 1999
    assert all(len(d.message) < 400 for d in found)
    assert "w0, w1" in found[0].message and "1,990 more" in found[0].message


def test_many_misspelt_stage_names_each_get_a_finding() -> None:
    stages = [f"stage_{i}" for i in range(3000)]
    lines = ["version: 1", "id: typos", "stages:"]
    lines += [f"- {{id: {s}}}" for s in stages]
    lines += ["- {id: won, terminal: won}", "- {id: lost, terminal: lost}", "start:",
              "- {id: any, stage: stage_0}", "transitions:"]
    lines += [f"- {{from: stage_{i}, to: stagе_{i + 1}}}" for i in range(2999)]  # Cyrillic е
    found = [d for d in lint(Source("r.yaml", "\n".join(lines) + "\n"))
             if d.rule == "unknown-stage"]
    assert len(found) == 2999
    # The first names get their suggestion; past the budget, the plain message.
    assert "did you mean 'stage_1'" in found[0].message
    assert all("stagе_" in d.message for d in found)


def test_findings_in_a_large_mapping_have_their_own_positions() -> None:
    names = [f"no-such-rule-{i}" for i in range(3000)]
    text = "version: 1\nid: x\nstages: [{id: a}]\nlint:\n  rules:\n"
    text += "".join(f"    {n}: off\n" for n in names)
    text += "    <<: {merged-rule: off}\n"
    document = load_document(Source("r.yaml", text))
    assert document.positions.key("/lint/rules/no-such-rule-0").line == 6
    assert document.positions.key("/lint/rules/no-such-rule-2999").line == 3005
    assert document.positions.key("/lint/rules/merged-rule").line == 3006
    assert document.positions.has("/lint/rules/merged-rule")
    assert not document.positions.has("/lint/rules/absent")
    found = [d for d in lint(Source("r.yaml", text)) if d.rule == "schema"
             and "no-such-rule" in d.message]
    assert [d.line for d in found] == list(range(6, 3006))


def test_a_stage_sla_is_measured_against_the_shortest_whole_cycle_sla() -> None:
    lines = ["version: 1", "id: slas", "stages:", "- {id: a}", "- {id: won, terminal: won}",
             "- {id: lost, terminal: lost}", "start:", "- {id: any, stage: a}", "transitions:",
             "- {from: a, to: won}", '- {from: "*", to: lost}', "sla:"]
    lines += [f"- {{id: cycle-{i}, from: start, to: end, limit: {40 + i}d}}" for i in range(500)]
    lines += [f"- {{id: stage-{i}, stage: a, limit: {30 + i}d}}" for i in range(500)]
    found = [d for d in lint(Source("r.yaml", "\n".join(lines) + "\n"))
             if d.rule == "inconsistent-sla"]
    # Stage SLAs of 41d and more exceed the shortest whole-cycle SLA (40d): one finding each.
    assert len(found) == 500 - 11
    assert all("'cycle-0' (40d)" in d.message for d in found)


#: Odd parts an entry may have: several differ only in a string the schema does look at.
_ODD = [{"terminal": "won"}, {"terminal": "wen"}, {"terminal": ""}, {"terminal": 1},
        {"from": ["s1", "s1"]}, {"from": ["a", "b"]}, {"from": []}, {"from": "*"}, {"to": 1},
        {"idd": "x"}, {"id": None}, {"when": {"source": "cold"}}, {"when": {"source": 1}},
        {"when": {"amount": {"gte": "x"}}}, {"when": {"amount": {"gte": 5}}},
        {"when": {"amount": {"gt": 1, "lt": "b"}}}, {"require": ["a", "a"]},
        {"require": ["a", "b"]}, {"limit": "1d"}, {"limit": 5}, {"warn": [50, 80]},
        {"warn": ["x"]}, {"on_breach": ["a"]}, {"stage": "start"}, {"title": None}]


@st.composite
def long_lists(draw: st.DrawFn) -> dict[str, object]:
    """A ruleset-shaped document whose top-level lists are long, with odd entries."""
    def entries(template: dict[str, object]) -> list[object]:
        count = draw(st.integers(ALIKE_MIN, ALIKE_MIN + 40))
        # A few odd parts, each given to many entries: entries of one kind meet.
        pool = draw(st.lists(st.sampled_from(_ODD), min_size=1, max_size=4))
        odd = draw(st.dictionaries(st.integers(0, count - 1),
                                   st.lists(st.sampled_from(pool), max_size=2), max_size=30))
        made: list[object] = []
        for i in range(count):
            entry = {k: f"{v}{i}" for k, v in template.items()}
            for part in odd.get(i, []):
                entry.update(part)
            made.append(entry)
        return made

    return {"version": 1, "id": "x",
            "stages": entries({"id": "s"}),
            "transitions": entries({"from": "s", "to": "s"}),
            "sla": entries({"id": "sla", "stage": "s", "limit": "1d"}),
            "plugins": ["p"] * draw(st.integers(0, 2))}


@settings(max_examples=150, deadline=None)
@given(long_lists())
def test_long_lists_get_the_schema_problems_entry_by_entry_validation_gives(
        data: dict[str, object]) -> None:
    grouped = validate(data)
    with _alike_off():
        plain = validate(data)
    key = lambda p: (p.path, p.message, str(p.args))  # noqa: E731
    assert sorted(map(key, grouped)) == sorted(map(key, plain))


@contextlib.contextmanager
def _alike_off() -> Iterator[None]:
    saved = schema.ALIKE_MIN
    schema.ALIKE_MIN = 10**9
    try:
        yield
    finally:
        schema.ALIKE_MIN = saved
