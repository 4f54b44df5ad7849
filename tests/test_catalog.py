"""Loading rulesets for use: one catalog for a file or a directory, each ruleset read,
checked and compiled once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT

from pipeline_rules.lint import all_rules, lint_file
from pipeline_rules.ruleset.catalog import RulesetError, compile_path
from pipeline_rules.ruleset.checks.registry import blocking_rules, rule_names
from pipeline_rules.ruleset.problems import Severity

B2B = ROOT / "rulesets" / "b2b_sales.yaml"


def test_compiling_keeps_every_duration_it_parsed() -> None:
    compiled = compile_path(B2B)
    sites = list(compiled.ruleset.duration_sites())
    assert sites and {s.text for s in sites} == set(compiled.durations)
    for site in sites:
        assert compiled.duration(site.text) is compiled.durations[site.text]


def test_blocking_use_is_an_attribute_of_the_rule() -> None:
    rules = all_rules()
    assert {n for n, r in rules.items() if r.blocks_use} == set(blocking_rules())
    # The same rules as when the family decided: every rule of these three families.
    assert {n for n, r in rules.items() if r.blocks_use} == {
        n for n, r in rules.items() if r.family in ("document", "structure", "values")}
    assert rule_names() == set(rules)


def test_loading_for_use_runs_no_advisory_rule() -> None:
    code = ("import sys; from pipeline_rules.ruleset.catalog import compile_path; "
            f"compile_path({str(B2B)!r}); "
            "print(sorted(m for m in sys.modules if m.startswith('pipeline_rules.lint')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_an_unusable_ruleset_says_why_as_lint_does(tmp_path: Path) -> None:
    text = B2B.read_text(encoding="utf-8")
    broken = tmp_path / "broken.yaml"
    broken.write_text(text.replace("Europe/Moscow", "Mars/Olympus"), encoding="utf-8")
    with pytest.raises(RulesetError) as caught:
        compile_path(broken)
    errors = [d for d in lint_file(str(broken)) if d.severity is Severity.ERROR]
    assert caught.value.diagnostics == tuple(errors)
    assert [d.rule for d in errors] == ["invalid-timezone"]
    # The ruleset's own lint block may turn a blocking rule down, as lint honours it.
    lowered = tmp_path / "lowered.yaml"
    lowered.write_text(text.replace("Europe/Moscow", "Mars/Olympus") +
                       "\nlint:\n  rules:\n    invalid-timezone: warning\n", encoding="utf-8")
    with pytest.raises(RulesetError):  # it still cannot compile
        compile_path(lowered)
