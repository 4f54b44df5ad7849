"""Loading a ruleset for use (not just for linting): read, check, build, compile.

A ruleset is usable when it parses, fits the schema, names only stages, actions and calendars it
declares, and its values parse. Design advice (a limbo stage, a parallel fork, a shaky SLA) does
not stop it from running — ``pipeline-rules lint`` is where that is judged.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pipeline_rules.ruleset.checks import Diagnostic, check_source, unreadable
from pipeline_rules.ruleset.checks.registry import blocking_rules
from pipeline_rules.ruleset.compiled import CompiledRuleset, CompileError, compile_ruleset
from pipeline_rules.ruleset.loader import read_source
from pipeline_rules.ruleset.model import Ruleset, build_ruleset
from pipeline_rules.ruleset.problems import DocumentError, Severity
from pipeline_rules.ruleset.source import Source


class RulesetError(ValueError):
    """A ruleset that cannot be used, with the diagnostics that say why."""

    def __init__(self, name: str, diagnostics: Sequence[Diagnostic]) -> None:
        self.name = name
        self.diagnostics = tuple(diagnostics)
        first = diagnostics[0] if diagnostics else None
        where = f"{first.file}:{first.line}:{first.column}: [{first.rule}] {first.message}" \
            if first else name
        more = f" (and {len(diagnostics) - 1} more)" if len(diagnostics) > 1 else ""
        super().__init__(f"unusable ruleset: {where}{more}")


def load_ruleset_source(source: Source, lang: str = "en") -> Ruleset:
    """Build the model of a ruleset text, or raise :class:`RulesetError`."""
    checked = check_source(source, blocking_rules().values())
    diagnostics = checked.diagnostics(lang)
    blocking = [d for d in diagnostics if d.severity is Severity.ERROR]
    document = checked.context.document
    if blocking or document is None:
        raise RulesetError(source.name, blocking or diagnostics)
    return checked.model or build_ruleset(document)


def load_ruleset(path: str | Path, lang: str = "en") -> Ruleset:
    """Read and build the ruleset at ``path``; raise :class:`RulesetError` if it is unusable."""
    try:
        source = read_source(path)
    except DocumentError as err:
        name = "<stdin>" if str(path) == "-" else str(path)
        raise RulesetError(str(path), unreadable(name, err, lang=lang)) from None
    return load_ruleset_source(source, lang)


def compile_path(path: str | Path, lang: str = "en") -> CompiledRuleset:
    """Load and compile the ruleset at ``path``."""
    ruleset = load_ruleset(path, lang)
    try:
        return compile_ruleset(ruleset)
    except CompileError as err:  # pragma: no cover - lint's value rules catch these first
        raise RulesetError(str(path), []) from err
