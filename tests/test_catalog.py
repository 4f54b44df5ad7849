"""Loading rulesets for use: one catalog for a file or a directory, each ruleset read,
checked and compiled once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from helpers import ROOT

from pipeline_rules.cli import main
from pipeline_rules.lint import all_rules, lint_file
from pipeline_rules.ruleset.catalog import RulesetError, compile_path
from pipeline_rules.ruleset.checks.registry import blocking_rules, rule_names
from pipeline_rules.ruleset.problems import Severity

B2B = ROOT / "rulesets" / "b2b_sales.yaml"
NOW = "2026-11-20T09:05:00+03:00"


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


@pytest.fixture
def compilations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every compilation and every check for use in this process, by ruleset id or name."""
    import pipeline_rules.evaluate
    from pipeline_rules.ruleset import catalog, compiled

    done: list[str] = []
    real_compile, real_check = compiled.compile_ruleset, catalog.check_source

    def counted_compile(ruleset: Any, plugins: Any = None) -> Any:
        done.append(f"compile {ruleset.id}")
        return real_compile(ruleset, plugins)

    def counted_check(source: Any, *args: Any, **kwargs: Any) -> Any:
        done.append(f"check {Path(source.name).name}")
        return real_check(source, *args, **kwargs)

    for module in (compiled, catalog, pipeline_rules.evaluate):
        monkeypatch.setattr(module, "compile_ruleset", counted_compile)
    monkeypatch.setattr(catalog, "check_source", counted_check)
    return done


@pytest.mark.parametrize("extra", [[], ["--output", "{tmp}/out.jsonl"], ["--jobs", "2"]])
def test_evaluate_reads_checks_and_compiles_a_ruleset_once(compilations: list[str],
                                                           tmp_path: Path,
                                                           extra: list[str]) -> None:
    args = ["evaluate", str(B2B), str(ROOT / "examples" / "deals.jsonl"), "--now", NOW,
            "--format", "jsonl", *(a.replace("{tmp}", str(tmp_path)) for a in extra)]
    if "--output" in extra:
        args.remove("--format")
        args.remove("jsonl")
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    # In this process; worker processes (--jobs 2) compile in their own.
    assert compilations == ["check b2b_sales.yaml", "compile b2b-sales"]


def test_a_directory_compiles_each_file_once(compilations: list[str], tmp_path: Path) -> None:
    directory = tmp_path / "rulesets"
    directory.mkdir()
    for name in ("b2b_sales.yaml", "retail.yaml"):
        (directory / name).write_bytes((ROOT / "rulesets" / name).read_bytes())
    deals = tmp_path / "deals.jsonl"
    deals.write_text('{"id": "X", "ruleset": "nope"}\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["evaluate", str(directory), str(deals), "--now", NOW])
    assert result.exit_code == 0, result.output
    assert sorted(compilations) == ["check b2b_sales.yaml", "check retail.yaml",
                                    "compile b2b-sales", "compile retail-orders"]
