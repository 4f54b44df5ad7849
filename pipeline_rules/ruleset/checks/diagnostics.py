"""Problems as people read them: a rule's problem positioned in its file, its message rendered
in a language, after the configuration and the suppression comments have had their say."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pipeline_rules import i18n
from pipeline_rules.ruleset.checks.config import LintConfig, suppressions
from pipeline_rules.ruleset.checks.context import CheckContext
from pipeline_rules.ruleset.checks.registry import Rule
from pipeline_rules.ruleset.problems import Problem, Severity
from pipeline_rules.ruleset.source import Position


@dataclass(frozen=True)
class Diagnostic:
    """One finding of a rule, positioned in a file."""

    rule: str
    severity: Severity
    message: str
    file: str
    line: int
    column: int
    path: str = ""
    source_line: str = field(default="", compare=False)
    #: The did-you-mean of the problem, when it has one, and the text it would replace (the
    #: unknown key or name as written): what an editor offers as a one-click fix.
    suggestion: str | None = field(default=None, compare=False)
    replaces: str | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The finding as JSON-ready data (rule, severity, message, file, line, column, path)."""
        return {"rule": self.rule, "severity": self.severity.value, "message": self.message,
                "file": self.file, "line": self.line, "column": self.column, "path": self.path}


def diagnose(found: Iterable[tuple[Rule, Problem]], ctx: CheckContext, config: LintConfig,
             lang: str) -> Iterator[Diagnostic]:
    """The problems found in ``ctx``'s source as diagnostics, in the order found; those the
    configuration turns off or a comment silences are left out."""
    silenced = suppressions(ctx.source)
    positions = ctx.document.positions if ctx.document is not None else None
    for rule, problem in found:
        severity = config.severity(rule.name, rule.severity)
        if severity is None:
            continue
        position = _position(problem, positions)
        if silenced.silenced(rule.name, position.line):
            continue
        yield Diagnostic(
            rule=rule.name, severity=severity,
            message=i18n.render(problem.message, problem.args, lang),
            file=ctx.source.name, line=position.line, column=position.column,
            path=problem.path, source_line=ctx.source.line(position.line),
            **_fix(problem))


#: The arguments that hold, in a problem with a did-you-mean, the text it would replace.
_WRONG = ("key", "name", "value", "op")


def _fix(problem: Problem) -> dict[str, str]:
    suggestion = problem.args.get("suggestion")
    wrong = next((value for k in _WRONG if isinstance(value := problem.args.get(k), str)), None)
    if not isinstance(suggestion, str) or not isinstance(wrong, str):
        return {}
    return {"suggestion": suggestion, "replaces": wrong}


def in_file_order(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Diagnostics by position, then rule."""
    # Stable sort: rules report in a meaningful order, kept among findings at one position.
    return sorted(diagnostics, key=lambda d: (d.line, d.column, d.rule))


def _position(problem: Problem, positions: Any) -> Position:
    if problem.position is not None:
        return problem.position
    if positions is None:
        return Position(1, 1)
    if problem.at_key:
        found: Position = positions.key(problem.path)
        return found
    value: Position = positions.value(problem.path)
    return value


__all__ = ["Diagnostic", "diagnose", "in_file_order"]
