"""Generated reference docs are fresh, and every rule documents itself the same way."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline_rules.docgen import GENERATED
from pipeline_rules.lint import all_rules

DOCS = Path(__file__).resolve().parent.parent / "docs"
HEADINGS = ("## What it finds", "## Why it matters", "## Example", "## Use instead")


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_generated_docs_are_up_to_date(name: str) -> None:
    committed = (DOCS / name).read_text(encoding="utf-8")
    assert committed == GENERATED[name](), (
        f"docs/{name} is stale: run `python -m pipeline_rules.docgen` and commit the result")


@pytest.mark.parametrize("name", list(all_rules()))
def test_every_rule_has_a_summary_and_the_four_headings(name: str) -> None:
    rule = all_rules()[name]
    assert rule.summary.endswith("."), rule.summary
    positions = [rule.doc.find(h) for h in HEADINGS]
    assert all(p > 0 for p in positions), f"{name} lacks one of {HEADINGS}"
    assert positions == sorted(positions), f"{name}: headings out of order"


def test_rule_names_are_kebab_case() -> None:
    for name in all_rules():
        assert name == name.lower()
        assert all(part.isalnum() for part in name.split("-")), name
