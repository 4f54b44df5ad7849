"""pipeline-rules: lint, enforce and evaluate sales-pipeline regulations written in YAML.

The public names are imported on first use (PEP 562), so ``import pipeline_rules`` stays cheap
for the command line and for CRMs that only need one part.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "load_ruleset": "rulesets",
    "load_ruleset_source": "rulesets",
    "RulesetError": "rulesets",
    "compile_ruleset": "compiled",
    "CompiledRuleset": "compiled",
    "Ruleset": "model",
    "lint": "lint",
    "lint_file": "lint",
    "Diagnostic": "lint",
    "PipelineMachine": "machine",
    "Decision": "machine",
    "Reason": "machine",
    "IllegalMove": "machine",
    "TransitionRejected": "machine",
    "Deal": "deals",
    "DealError": "deals",
    "parse_deal": "deals",
    "Evaluator": "evaluate",
    "Finding": "findings",
    "analyze": "analytics",
    "Report": "analytics",
    "backtest": "analytics",
    "Backtest": "analytics",
    "read_records": "readers",
    "PluginContext": "evaluate.extensions",
}

__all__ = [
    "Backtest", "CompiledRuleset", "Deal", "DealError", "Decision", "Diagnostic", "Evaluator",
    "Finding", "IllegalMove", "PipelineMachine", "PluginContext", "Reason", "Report", "Ruleset",
    "RulesetError", "TransitionRejected", "__version__", "analyze", "backtest",
    "compile_ruleset", "lint", "lint_file", "load_ruleset", "load_ruleset_source", "parse_deal",
    "read_records",
]

if TYPE_CHECKING:
    from .analytics import Backtest, Report, analyze
    from .analytics.backtest import backtest
    from .compiled import CompiledRuleset, compile_ruleset
    from .deals import Deal, DealError, parse_deal
    from .evaluate import Evaluator
    from .evaluate.extensions import PluginContext
    from .findings import Finding
    from .lint import Diagnostic, lint, lint_file
    from .machine import Decision, IllegalMove, PipelineMachine, Reason, TransitionRejected
    from .model import Ruleset
    from .readers import read_records
    from .rulesets import RulesetError, load_ruleset, load_ruleset_source


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pipeline_rules' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
