"""Drawing a pipeline: Mermaid (renders on code hosts) and Graphviz DOT.

Drawn from the compiled ruleset rather than with ``transitions``' GraphMachine: that needs a
model attached (``get_graph()`` on a shared ``model=None`` machine raises IndexError), labels
guards with Python function names, styles "active" states, and its Mermaid output writes
``Class`` where Mermaid expects ``class``. Here stages keep their titles, start definitions
appear as entry points with their conditions, won and lost ends are styled apart, guards are
written as in the YAML, and the main path is declared first so layouts follow it. A move
declared ``from: "*"`` is drawn once, from an "any open stage" node, instead of an edge from
every stage.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator

from pipeline_rules import i18n
from pipeline_rules.ruleset.compiled import CompiledRuleset, Move
from pipeline_rules.ruleset.model import Ruleset, StartDef, TransitionDef

ANY = "any open stage"


def _any(lang: str) -> str:
    """The node standing for ``from: "*"``, in ``lang``."""
    return ANY if lang == i18n.DEFAULT else i18n.render("graph.any", {}, lang)


def _guard_label(move: Move) -> str:
    parts = []
    if move.require:
        parts.append("require: " + ", ".join(move.require))
    parts += ["when: " + c.describe() for c in move.when]
    if move.unless:
        parts.append("unless: " + " and ".join(c.describe() for c in move.unless))
    return "; ".join(parts)


def _ordered(compiled: CompiledRuleset) -> list[str]:
    """Stages with the main path first: open stages in declared order, then won, then lost."""
    graph = compiled.graph
    return ([s for s in graph.order if graph.is_open(s)]
            + [s for s in graph.order if s in graph.won]
            + [s for s in graph.order if s in graph.lost])


def _edges(compiled: CompiledRuleset) -> Iterator[tuple[str | None, str, str]]:
    """(source or None for "*", target, guard label), main-path moves first, once each."""
    graph = compiled.graph
    seen: set[tuple[str | None, str, str]] = set()
    any_moves = [m for m in compiled.moves if m.definition.any_source]
    plain = [m for m in compiled.moves if not m.definition.any_source]
    rank = {s: i for i, s in enumerate(_ordered(compiled))}
    forward = sorted(plain, key=lambda m: (rank[m.source] >= rank[m.target], rank[m.source],
                                           rank[m.target]))
    edges: list[tuple[str | None, str, str]] = [
        (m.source, m.target, _guard_label(m)) for m in forward]
    edges += [(None, m.target, _guard_label(m)) for m in any_moves if m.target in graph.index]
    for edge in edges:
        if edge not in seen:
            seen.add(edge)
            yield edge


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;")


def mermaid(compiled: CompiledRuleset, lang: str = i18n.DEFAULT) -> str:
    """A Mermaid flowchart of the pipeline."""
    graph = compiled.graph
    stages = {s.id: s for s in compiled.ruleset.stages}
    node = {stage: f"s{i}" for i, stage in enumerate(_ordered(compiled))}
    lines = ["flowchart LR", f"  %% {compiled.ruleset.id}: {compiled.ruleset.title}"]
    for i, start in enumerate(compiled.starts):
        label = start.id + ("<br/>" + "<br/>".join(c.describe() for c in start.when)
                            if start.when else "")
        lines.append(f'  start{i}(("{_mermaid_text(label)}")):::entry')
    for stage, ident in node.items():
        title = stages[stage].title
        label = title if title == stage else f"{title}<br/><small>{stage}</small>"
        shape = ('(["', '"])') if stage in graph.terminal else ('["', '"]')
        style = ("won" if stage in graph.won else "lost" if stage in graph.lost
                 else "start" if stage in graph.starts else "stage")
        lines.append(f"  {ident}{shape[0]}{_mermaid_text(label)}{shape[1]}:::{style}")
    if any(m.definition.any_source for m in compiled.moves):
        lines.append(f'  anystage{{{{"{_any(lang)}"}}}}:::any')
    for i, start in enumerate(compiled.starts):
        lines.append(f"  start{i} --> {node[start.stage]}")
    for source, target, label in _edges(compiled):
        arrow = "-.->" if source is None else "-->"
        text = f'|"{_mermaid_text(label)}"|' if label else ""
        lines.append(f"  {'anystage' if source is None else node[source]} {arrow}{text} "
                     f"{node[target]}")
    lines += [
        "  classDef entry fill:#fff8e1,stroke:#f9a825",
        "  classDef start fill:#e3f2fd,stroke:#1e88e5",
        "  classDef stage fill:#ffffff,stroke:#607d8b",
        "  classDef won fill:#e8f5e9,stroke:#2e7d32,stroke-width:2px",
        "  classDef lost fill:#ffebee,stroke:#c62828,stroke-width:2px",
        "  classDef any fill:#f5f5f5,stroke:#9e9e9e,stroke-dasharray:4",
    ]
    return "\n".join(lines) + "\n"


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def dot(compiled: CompiledRuleset, lang: str = i18n.DEFAULT) -> str:
    """A Graphviz DOT digraph of the pipeline."""
    graph = compiled.graph
    stages = {s.id: s for s in compiled.ruleset.stages}
    fills = {"start": "#e3f2fd", "stage": "#ffffff", "won": "#e8f5e9", "lost": "#ffebee"}
    lines = [f'digraph "{_dot_text(compiled.ruleset.id)}" {{',
             f'  label="{_dot_text(compiled.ruleset.title or compiled.ruleset.id)}";',
             "  rankdir=LR;",
             '  node [shape=box, style="rounded,filled", fontname="Helvetica"];',
             '  edge [fontname="Helvetica", fontsize=10];']
    for i, start in enumerate(compiled.starts):
        label = "\\n".join([start.id, *(_dot_text(c.describe()) for c in start.when)])
        lines.append(f'  "start:{i}" [label="{label}", shape=circle, fillcolor="#fff8e1"];')
    for stage in _ordered(compiled):
        style = ("won" if stage in graph.won else "lost" if stage in graph.lost
                 else "start" if stage in graph.starts else "stage")
        title = stages[stage].title
        label = _dot_text(title if title == stage else f"{title}\n({stage})").replace(
            "\n", "\\n")
        extra = ", peripheries=2" if stage in graph.terminal else ""
        lines.append(f'  "{_dot_text(stage)}" [label="{label}", fillcolor="{fills[style]}"'
                     f"{extra}];")
    if any(m.definition.any_source for m in compiled.moves):
        lines.append(f'  "*" [label="{_any(lang)}", shape=hexagon, style="dashed"];')
    for i, start in enumerate(compiled.starts):
        lines.append(f'  "start:{i}" -> "{_dot_text(start.stage)}";')
    for source, target, label in _edges(compiled):
        attributes = [f'label="{_dot_text(label)}"'] if label else []
        if source is None:
            attributes.append("style=dashed")
        suffix = f" [{', '.join(attributes)}]" if attributes else ""
        lines.append(f'  "{_dot_text(source or "*")}" -> "{_dot_text(target)}"{suffix};')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _broken(path: str, problems: Collection[str]) -> bool:
    """Whether a problem lies at or inside the part of the document at ``path``."""
    return any(p == path or p.startswith(path + "/") for p in problems)


#: A drawn move: source, target, broken, and the start or transition declaring it.
DraftEdge = tuple[str, str, bool, StartDef | TransitionDef]


def draft_parts(ruleset: Ruleset, problems: Collection[str]
                ) -> tuple[list[tuple[str, bool]], list[DraftEdge]]:
    """The stages and moves of a ruleset, each marked broken when a problem lies in it
    (``problems``: the JSON pointers of its diagnostics), each move with the start or
    transition that declares it; a stage a move or start names but the ruleset does not
    declare is drawn, broken. A start's edge comes from ``start:<id>``, a ``from: "*"`` move's
    from ``*``."""
    declared = {s.id for s in ruleset.stages}
    stages = [(s.id, _broken(s.path, problems)) for s in ruleset.stages if s.id]
    missing: list[str] = []
    edges: list[DraftEdge] = []

    def use(name: str) -> str:
        if name not in declared and name not in missing:
            missing.append(name)
        return name

    for start in ruleset.starts:
        edges.append((f"start:{start.id}", use(start.stage.name), _broken(start.path, problems),
                      start))
    for move in ruleset.transitions:
        broken = _broken(move.path, problems)
        for source in () if move.any_source else move.sources:
            edges.append((use(source.name), use(move.target.name), broken, move))
        if move.any_source:
            edges.append(("*", use(move.target.name), broken, move))
    return stages + [(name, True) for name in missing], edges


def draft_edges(ruleset: Ruleset, problems: Collection[str]
                ) -> tuple[list[tuple[str, bool]], list[tuple[str, str, bool]]]:
    """The stages and moves of a ruleset that cannot be compiled, each marked broken when a
    problem lies in it (``problems``: the JSON pointers of its diagnostics); a stage a move or
    start names but the ruleset does not declare is drawn, broken."""
    stages, edges = draft_parts(ruleset, problems)
    return stages, [(source, target, broken) for source, target, broken, _ in edges]


def draft_mermaid(ruleset: Ruleset, problems: Collection[str],
                  lang: str = i18n.DEFAULT) -> str:
    """A Mermaid flowchart of a draft that cannot be used: what reads, broken parts in red."""
    stages, edges = draft_edges(ruleset, problems)
    node = {stage: f"s{i}" for i, (stage, _) in enumerate(stages)}
    lines = ["flowchart LR", f"  %% draft with errors: {ruleset.id or '(no id)'}"]
    for stage, broken in stages:
        style = "broken" if broken else "stage"
        lines.append(f'  {node[stage]}["{_mermaid_text(stage)}"]:::{style}')
    extra = sorted({a for a, _, _ in edges if a not in node})
    for name in extra:
        node[name] = "anystage" if name == "*" else "start" + str(len(node))
        label = _any(lang) if name == "*" else name.removeprefix("start:")
        lines.append(f'  {node[name]}(("{_mermaid_text(label)}")):::entry')
    for source, target, broken in edges:
        arrow = f"-. {i18n.render('graph.broken', {}, lang)} .->" if broken else "-->"
        lines.append(f"  {node[source]} {arrow} {node[target]}")
    lines += ["  classDef entry fill:#fff8e1,stroke:#f9a825",
              "  classDef stage fill:#ffffff,stroke:#607d8b",
              "  classDef broken fill:#ffebee,stroke:#c62828,stroke-width:2px,"
              "stroke-dasharray:4"]
    return "\n".join(lines) + "\n"


def draft_dot(ruleset: Ruleset, problems: Collection[str], lang: str = i18n.DEFAULT) -> str:
    """A Graphviz DOT digraph of a draft that cannot be used: broken parts red and dashed."""
    stages, edges = draft_edges(ruleset, problems)
    lines = [f'digraph "{_dot_text(ruleset.id or "draft")}" {{',
             f'  label="{i18n.render("graph.draft-label", {}, lang)}"; rankdir=LR;',
             '  node [shape=box, style="rounded,filled", fontname="Helvetica"];']
    red = 'color="#c62828", fillcolor="#ffebee", style="rounded,filled,dashed"'
    for stage, broken in stages:
        lines.append(f'  "{_dot_text(stage)}" [{red if broken else "fillcolor=white"}];')
    broken_edge = (' [color="#c62828", style=dashed, '
                   f'label="{i18n.render("graph.broken", {}, lang)}"]')
    for source, target, broken in edges:
        mark = broken_edge if broken else ""
        lines.append(f'  "{_dot_text(source)}" -> "{_dot_text(target)}"{mark};')
    lines.append("}")
    return "\n".join(lines) + "\n"


FORMATS = {"mermaid": mermaid, "dot": dot}
DRAFTS = {"mermaid": draft_mermaid, "dot": draft_dot}
