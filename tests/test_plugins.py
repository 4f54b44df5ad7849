"""Plugins through entry points, with the example package (examples/plugin-example)."""

from __future__ import annotations

from datetime import datetime
from importlib.metadata import entry_points

import pytest

from pipeline_rules.deals.model import Deal
from pipeline_rules.enforce.machine import PipelineMachine
from pipeline_rules.evaluate import Evaluator
from pipeline_rules.lint import lint
from pipeline_rules.ruleset.catalog import load_ruleset_source
from pipeline_rules.ruleset.compiled import CompileError, compile_ruleset
from pipeline_rules.ruleset.plugins import PluginError, load_plugins
from pipeline_rules.ruleset.source import Source


def test_the_example_plugin_is_installed() -> None:
    # The README's test command and .ci/run install it (pip install -e examples/plugin-example);
    # every test below needs it.
    assert any(ep.name == "big-deals" for ep in entry_points(group="pipeline_rules.checks"))


RULES = """
version: 1
id: plugged
plugins: [big-deals, strict-amounts, divisible_by, slack]
stages:
  - {id: proposal}
  - {id: invoice}
  - {id: paid, terminal: won}
  - {id: lost, terminal: lost}
start: [{stage: proposal}]
transitions:
  - {from: proposal, to: invoice, when: {amount: {divisible_by: 1000}}}
  - {from: invoice, to: paid}
  - {from: "*", to: lost}
"""
NOW = datetime.fromisoformat("2026-11-20T12:00:00+00:00")


def evaluator(text: str = RULES) -> Evaluator:
    return Evaluator(load_ruleset_source(Source("plugged.yaml", text)))


def test_a_ruleset_loads_only_the_plugins_it_names() -> None:
    plugins = evaluator().compiled.plugins
    assert sorted(plugins.checks) == ["big-deals", "strict-amounts"]
    assert list(plugins.conditions) == ["divisible_by"]
    assert list(plugins.actions) == ["slack"]
    assert load_plugins([]).names == frozenset()


def test_a_missing_plugin_is_an_error_with_the_installed_names() -> None:
    with pytest.raises(PluginError, match=r"plugin 'big-deal' is not installed .*big-deals"):
        load_plugins(["big-deal"])
    text = RULES.replace("plugins: [big-deals,", "plugins: [big-deal,")
    diagnostics = [d for d in lint(Source("p.yaml", text)) if d.rule == "unknown-plugin"]
    assert [d.message for d in diagnostics] == [
        "plugin 'big-deal' is not installed (did you mean 'big-deals'?)"]


def test_a_yaml_file_cannot_name_a_module_path() -> None:
    from pipeline_rules.ruleset.catalog import RulesetError

    text = RULES.replace("plugins: [big-deals,", "plugins: [os.system,")
    with pytest.raises(RulesetError, match=r"plugin 'os\.system' is not installed"):
        load_ruleset_source(Source("p.yaml", text))


def test_plugin_operator_guards_moves_and_lint_knows_it() -> None:
    machine = PipelineMachine(evaluator().compiled)
    assert machine.check(Deal("D", "proposal", fields={"amount": 5000}), "invoice").allowed
    decision = machine.check(Deal("D", "proposal", fields={"amount": 5500}), "invoice")
    assert [r.message() for r in decision.reasons] == [
        "the move needs amount divisible_by 1000; the deal has 5500"]
    assert [d.rule for d in lint(Source("p.yaml", RULES))] == []
    unplugged = RULES.replace("divisible_by, slack]", "slack]")
    assert [d.rule for d in lint(Source("p.yaml", unplugged))] == ["unknown-operator"]


def test_a_failing_plugin_becomes_a_finding_and_the_rest_goes_on() -> None:
    deal = {"id": "D", "stage": "proposal", "fields": {"amount": "a lot"},
            "history": [{"stage": "proposal", "at": "2026-11-19T10:00:00+00:00"}]}
    big = {"id": "B", "stage": "proposal", "fields": {"amount": 3_000_000},
           "history": [{"stage": "proposal", "at": "2026-11-19T10:00:00+00:00"}]}
    found = list(evaluator().evaluate([deal, big], NOW))
    assert [(f.deal, f.code, f.rule) for f in found] == [
        ("D", "plugin-error", "strict-amounts"),
        ("B", "big-deal-unassigned", "big-deals"),
    ]
    assert found[0].message == ("plugin 'strict-amounts' failed: ValueError: could not convert "
                                "string to float: 'a lot'")
    assert found[0].severity == "error"


def test_compiling_without_an_installed_plugin_fails_clearly() -> None:
    model = load_ruleset_source(Source("p.yaml", RULES))
    broken = type(model)(**{**model.__dict__, "plugins": ("missing-one",)})
    with pytest.raises(CompileError, match="plugin 'missing-one' is not installed"):
        compile_ruleset(broken)
