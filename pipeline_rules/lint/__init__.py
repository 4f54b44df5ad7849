"""The pipeline-design linter: rules, their configuration, and output formats."""

from .config import ConfigError, LintConfig
from .engine import Diagnostic, NoRulesetsError, expand_paths, lint, lint_file
from .registry import RULES, Rule, all_rules

__all__ = ["RULES", "ConfigError", "Diagnostic", "LintConfig", "NoRulesetsError", "Rule",
           "all_rules", "expand_paths", "lint", "lint_file"]
