"""Lint keeps going past a schema error inside one part of a ruleset: the other parts are still
judged, so every independent problem shows in one pass."""

from __future__ import annotations

from pathlib import Path

from pipeline_rules.lint import lint_file

DRAFT = """version: 1
id: draft
timezone: UTC
stages:
  - id: request
  - id: review_a
  - id: review_b
  - id: proposal
  - id: won
    terminal: won
  - id: lost
    terminal: lost
start: [{id: any, stage: request}]
end: {won: won, lost: lost}
transitions:
  - {from: request, to: review_a}
  - {from: request, to: review_b}
  - {from: review_a, to: proposal}
  - {from: review_b, to: proposal}
  - {from: proposal, to: won, requires: [amount]}
  - {from: "*", to: lost}
"""


def rules(path: Path) -> list[tuple[str, int]]:
    return [(d.rule, d.line) for d in lint_file(str(path), lang="en")]


def test_a_typo_in_one_move_does_not_hide_a_parallel_branch(tmp_path: Path) -> None:
    draft = tmp_path / "draft.yaml"
    draft.write_text(DRAFT)
    assert rules(draft) == [("parallel-stages", 7), ("schema", 20)]
    # Fixed, the parallel branch is all that is left: nothing appeared only after the fix.
    draft.write_text(DRAFT.replace("requires", "require"))
    assert rules(draft) == [("parallel-stages", 7)]


def test_a_misspelt_top_level_key_is_read_as_meant(tmp_path: Path) -> None:
    draft = tmp_path / "draft.yaml"
    draft.write_text(DRAFT.replace("transitions:", "transitons:"))
    found = lint_file(str(draft), lang="en")
    assert [(d.rule, d.line) for d in found] == [("parallel-stages", 7), ("schema", 15),
                                                  ("schema", 20)]
    assert found[1].message == "unknown key 'transitons' (did you mean 'transitions'?)"


def test_a_broken_top_level_key_still_stops_at_the_schema(tmp_path: Path) -> None:
    draft = tmp_path / "draft.yaml"
    draft.write_text(DRAFT.replace("transitions:", "transitions: 5\nmoves:"))
    assert {rule for rule, _ in rules(draft)} == {"schema"}


def test_graph_draws_a_draft_with_errors_marking_the_broken_parts(tmp_path: Path) -> None:
    import pydot
    from click.testing import CliRunner

    from pipeline_rules.cli import main

    draft = tmp_path / "draft.yaml"
    draft.write_text(DRAFT + "  - {from: review_b, to: contract}\n")
    result = CliRunner().invoke(main, ["graph", str(draft)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert '  s6["contract"]:::broken' in lines  # named by a move, never declared
    assert "  s3 -. broken .-> s4" in lines  # proposal -> won: its move misspells 'require'
    assert "  s0 --> s1" in lines  # request -> review_a reads fine
    assert "2 errors: drawn as a draft" in result.stderr
    dot = CliRunner().invoke(main, ["graph", str(draft), "--format", "dot"]).stdout
    (graph,) = pydot.graph_from_dot_data(dot)
    edges = {(e.get_source().strip('"'), e.get_destination().strip('"')): e.get("label")
             for e in graph.get_edges()}
    assert edges[("proposal", "won")] == '"broken"' and edges[("request", "review_a")] is None
