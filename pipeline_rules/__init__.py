"""pipeline-rules: lint, enforce and evaluate sales-pipeline regulations written in YAML.

The public names are imported on first use (PEP 562), so ``import pipeline_rules`` stays cheap
for the command line and for CRMs that only need one part.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "load_ruleset": "ruleset.catalog",
    "load_ruleset_source": "ruleset.catalog",
    "RulesetError": "ruleset.catalog",
    "compile_ruleset": "ruleset.compiled",
    "CompiledRuleset": "ruleset.compiled",
    "Ruleset": "ruleset.model",
    "lint": "lint",
    "lint_file": "lint",
    "Diagnostic": "lint",
    "PipelineMachine": "enforce.machine",
    "Decision": "enforce.machine",
    "Reason": "enforce.machine",
    "IllegalMove": "enforce.machine",
    "TransitionRejected": "enforce.machine",
    "ReplayMemo": "enforce.machine",
    "Deal": "deals.model",
    "DealError": "deals.model",
    "parse_deal": "deals.decode",
    "Evaluator": "evaluate",
    "Finding": "evaluate.findings",
    "analyze": "analytics",
    "Report": "analytics",
    "backtest": "analytics",
    "Backtest": "analytics",
    "read_records": "deals.readers",
    "PluginContext": "evaluate.extensions",
    "load_versions": "ruleset.catalog",
    "Versions": "ruleset.versions",
    "diff_rulesets": "ruleset.diff",
    "RulesetDiff": "ruleset.diff",
}

__all__ = [
    "Backtest", "CompiledRuleset", "Deal", "DealError", "Decision", "Diagnostic", "Evaluator",
    "Finding", "IllegalMove", "PipelineMachine", "PluginContext", "Reason", "ReplayMemo", "Report",
    "Ruleset", "RulesetDiff", "RulesetError", "TransitionRejected", "Versions", "__version__",
    "analyze", "backtest", "compile_ruleset", "diff_rulesets", "lint", "lint_file",
    "load_ruleset", "load_ruleset_source", "load_versions", "parse_deal", "read_records",
]

if TYPE_CHECKING:
    from pipeline_rules.analytics import Backtest, Report, analyze
    from pipeline_rules.analytics.backtest import backtest
    from pipeline_rules.deals.decode import parse_deal
    from pipeline_rules.deals.model import Deal, DealError
    from pipeline_rules.deals.readers import read_records
    from pipeline_rules.enforce.machine import (
        Decision,
        IllegalMove,
        PipelineMachine,
        Reason,
        ReplayMemo,
        TransitionRejected,
    )
    from pipeline_rules.evaluate import Evaluator
    from pipeline_rules.evaluate.extensions import PluginContext
    from pipeline_rules.evaluate.findings import Finding
    from pipeline_rules.lint import Diagnostic, lint, lint_file
    from pipeline_rules.ruleset.catalog import (
        RulesetError,
        load_ruleset,
        load_ruleset_source,
        load_versions,
    )
    from pipeline_rules.ruleset.compiled import CompiledRuleset, compile_ruleset
    from pipeline_rules.ruleset.diff import RulesetDiff, diff_rulesets
    from pipeline_rules.ruleset.model import Ruleset
    from pipeline_rules.ruleset.versions import Versions


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pipeline_rules' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
