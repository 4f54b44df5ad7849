"""The stage graph of a ruleset: stages as nodes, declared moves as edges.

Everything here is linear in stages + transitions: reachability by breadth-first search,
strongly connected components by Tarjan's algorithm (iterative, so a 10,000-stage pipeline does
not hit Python's recursion limit). ``from: "*"`` expands to every non-terminal stage.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from pipeline_rules.ruleset.model import Ruleset


@dataclass(frozen=True)
class StageGraph:
    """Declared stages and moves, with the derived facts the graph rules and the machine use.

    The derived facts are computed when the graph is built (each is linear in stages + moves),
    so a graph is never changed after construction and is shared by threads as it is.
    """

    order: tuple[str, ...]
    successors: Mapping[str, tuple[str, ...]]
    starts: tuple[str, ...]
    won: frozenset[str]
    lost: frozenset[str]
    index: Mapping[str, int] = field(init=False)
    #: Stage → stages with a declared move into it.
    predecessors: Mapping[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)
    #: Stages a deal can reach from some start stage.
    reachable: frozenset[str] = field(init=False, repr=False, compare=False)
    #: Stages from which a won stage can be reached (the won stages included).
    reaches_won: frozenset[str] = field(init=False, repr=False, compare=False)
    #: Stage → id of its strongly connected component (ids in reverse topological order).
    component: Mapping[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", {s: i for i, s in enumerate(self.order)})
        preds: dict[str, list[str]] = {s: [] for s in self.order}
        for source in self.order:
            for target in self.successors[source]:
                preds[target].append(source)
        predecessors = {s: tuple(p) for s, p in preds.items()}
        object.__setattr__(self, "predecessors", predecessors)
        object.__setattr__(self, "reachable", reach(self.starts, self.successors))
        object.__setattr__(self, "reaches_won", reach(self.won, predecessors))
        object.__setattr__(self, "component", strongly_connected(self.order, self.successors))

    @property
    def terminal(self) -> frozenset[str]:
        """Stages where a cycle ends."""
        return self.won | self.lost

    def is_open(self, stage: str) -> bool:
        """Whether ``stage`` is a known non-terminal stage."""
        return stage in self.index and stage not in self.terminal


def build_graph(ruleset: Ruleset) -> StageGraph:
    """Build the stage graph; names that are not declared stages are left out of it."""
    # A dict as an ordered set: the first declaration of an id keeps its place.
    order = list(dict.fromkeys(stage.id for stage in ruleset.stages))
    known = set(order)
    won = {s.id for s in ruleset.stages if s.terminal == "won"}
    won |= {r.name for r in ruleset.won if r.name in known}
    lost = {s.id for s in ruleset.stages if s.terminal == "lost"}
    lost |= {r.name for r in ruleset.lost if r.name in known}
    lost -= won
    terminal = won | lost
    open_stages = [s for s in order if s not in terminal]
    # dicts as ordered sets: moves keep their declared order, duplicates collapse.
    successors: dict[str, dict[str, None]] = {s: {} for s in order}
    for move in ruleset.transitions:
        target = move.target.name
        if target not in known:
            continue
        sources = open_stages if move.any_source else [r.name for r in move.sources]
        for source in sources:
            if source != target and source in known:
                successors[source][target] = None
    starts = tuple(dict.fromkeys(s.stage.name for s in ruleset.starts if s.stage.name in known))
    return StageGraph(
        order=tuple(order),
        successors={s: tuple(t) for s, t in successors.items()},
        starts=starts,
        won=frozenset(won),
        lost=frozenset(lost),
    )


def reach(roots: Iterable[str], edges: Mapping[str, Iterable[str]]) -> frozenset[str]:
    """Every node reachable from ``roots`` (included) along ``edges``."""
    seen = set(roots)
    queue = deque(seen)
    while queue:
        for nxt in edges.get(queue.popleft(), ()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return frozenset(seen)


def strongly_connected(nodes: Iterable[str], edges: Mapping[str, Iterable[str]]) -> dict[str, int]:
    """Tarjan's algorithm, iteratively: node → component id (ids in reverse topological order)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    component: dict[str, int] = {}
    counter = 0
    components = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(edges.get(root, ())))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges.get(child, ()))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component[member] = components
                    if member == node:
                        break
                components += 1
    return component
