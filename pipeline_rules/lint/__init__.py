"""The pipeline-design linter: every rule over a ruleset, its configuration, and output formats."""

from pipeline_rules.lint.engine import NoRulesetsError, expand_paths, lint, lint_file
from pipeline_rules.lint.rules import all_rules
from pipeline_rules.ruleset.checks.config import ConfigError, LintConfig, config_from_mapping
from pipeline_rules.ruleset.checks.diagnostics import Diagnostic
from pipeline_rules.ruleset.checks.registry import RULES, Rule

__all__ = ["RULES", "ConfigError", "Diagnostic", "LintConfig", "NoRulesetsError", "Rule",
           "all_rules", "config_from_mapping", "expand_paths", "lint", "lint_file"]
