"""Shipped rulesets: each lints clean, carries the schema line, and the reference is unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline_rules.lint import lint_file

ROOT = Path(__file__).resolve().parent.parent
RULESETS = sorted((ROOT / "rulesets").glob("*.yaml"))
#: Regulations shipped as examples (for --compare) lint clean too.
EXAMPLE_RULESETS = [ROOT / "examples" / "enpal_pipedrive_tighter.yaml"]
SCHEMA_LINE = "# yaml-language-server: $schema=../schemas/ruleset.schema.json"


def test_the_shipped_set_is_complete() -> None:
    names = {p.stem for p in RULESETS}
    assert {"b2b_sales", "inbound_only", "cold_only", "manufacturing", "retail"} <= names


@pytest.mark.parametrize("path", RULESETS + EXAMPLE_RULESETS, ids=lambda p: p.name)
def test_lints_clean(path: Path) -> None:
    assert [f"{d.line}:{d.column} [{d.rule}] {d.message}" for d in lint_file(str(path))] == []


@pytest.mark.parametrize("path", RULESETS + EXAMPLE_RULESETS, ids=lambda p: p.name)
def test_starts_with_the_schema_line(path: Path) -> None:
    assert path.read_text(encoding="utf-8").splitlines()[0] == SCHEMA_LINE
