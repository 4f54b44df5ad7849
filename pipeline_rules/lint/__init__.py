"""The pipeline-design linter: rules, their configuration, and output formats."""

from pipeline_rules.lint.config import ConfigError, LintConfig
from pipeline_rules.lint.engine import Diagnostic, NoRulesetsError, expand_paths, lint, lint_file
from pipeline_rules.lint.registry import RULES, Rule, all_rules

__all__ = ["RULES", "ConfigError", "Diagnostic", "LintConfig", "NoRulesetsError", "Rule",
           "all_rules", "expand_paths", "lint", "lint_file"]
