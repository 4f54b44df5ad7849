"""Graph rules against brute force on random pipelines (hypothesis).

The rules run in linear time; here each one is compared with the slow, obvious definition:
pairwise reachability by depth-first search from every stage.
"""

from __future__ import annotations

from itertools import combinations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_rules.lint import lint
from pipeline_rules.ruleset.source import Source


@st.composite
def pipelines(draw: st.DrawFn) -> tuple[list[str], set[tuple[str, str]], list[str]]:
    size = draw(st.integers(2, 7))
    stages = [f"s{i}" for i in range(size)]
    targets = [*stages, "won", "lost"]
    edges = draw(st.sets(st.tuples(st.sampled_from(stages), st.sampled_from(targets)),
                         max_size=size * 3))
    edges = {(a, b) for a, b in edges if a != b}
    starts = draw(st.lists(st.sampled_from(stages), min_size=1, max_size=2, unique=True))
    return stages, edges, starts


def reachable(start: str, edges: set[tuple[str, str]]) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        node = todo.pop()
        for a, b in edges:
            if a == node and b not in seen:
                seen.add(b)
                todo.append(b)
    return seen


def ruleset_text(stages: list[str], edges: set[tuple[str, str]], starts: list[str]) -> str:
    data = {
        "version": 1, "id": "random",
        "stages": [{"id": s} for s in stages]
        + [{"id": "won", "terminal": "won"}, {"id": "lost", "terminal": "lost"}],
        "start": [{"id": f"start{i}", "stage": s, "when": {"source": f"src{i}"}}
                  for i, s in enumerate(starts)],
        "transitions": [{"from": a, "to": b} for a, b in sorted(edges)],
    }
    return yaml.safe_dump(data, sort_keys=False)


def stages_of(rule: str, diagnostics: list) -> set[str]:
    return {d.message.split("'")[1] for d in diagnostics if d.rule == rule}


@settings(max_examples=300, deadline=None)
@given(pipelines())
def test_graph_rules_match_brute_force(pipeline: tuple[list[str], set, list[str]]) -> None:
    stages, edges, starts = pipeline
    found = list(lint(Source("r.yaml", ruleset_text(stages, edges, starts))))
    reach = {s: reachable(s, edges) for s in [*stages, "won", "lost"]}
    from_starts = set().union(*(reach[s] for s in starts))

    assert stages_of("unreachable-stage", found) == (
        {s for s in [*stages, "won", "lost"] if s not in from_starts})
    assert stages_of("dead-end", found) == {s for s in stages if not any(a == s for a, _ in edges)}
    assert stages_of("no-path-to-won", found) == {
        s for s in stages if any(a == s for a, _ in edges) and "won" not in reach[s]}

    incomparable = set()
    for start in starts:
        open_reach = sorted(reach[start] - {"won", "lost"})
        for a, b in combinations(open_reach, 2):
            if b not in reach[a] and a not in reach[b]:
                incomparable.add(frozenset((a, b)))
    reported = {frozenset((d.message.split("'")[1], d.message.split("'")[3]))
                for d in found if d.rule == "parallel-stages"}
    assert bool(reported) == bool(incomparable)
    assert reported <= incomparable
