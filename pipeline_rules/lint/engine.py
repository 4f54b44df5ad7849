"""Running the lint rules over a document and turning problems into diagnostics."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline_rules import i18n
from pipeline_rules.lint.config import ConfigError, LintConfig, config_from_mapping, suppressions
from pipeline_rules.lint.context import LintContext
from pipeline_rules.lint.registry import Phase, Rule, all_rules
from pipeline_rules.ruleset.loader import Document, load_document, read_source
from pipeline_rules.ruleset.model import build_ruleset
from pipeline_rules.ruleset.problems import DocumentError, Problem, Severity
from pipeline_rules.ruleset.source import Position, Source


@dataclass(frozen=True)
class Diagnostic:
    """One lint finding, positioned in a file."""

    rule: str
    severity: Severity
    message: str
    file: str
    line: int
    column: int
    path: str = ""
    source_line: str = field(default="", compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The finding as JSON-ready data: rule, severity, message, file, line, column, path."""
        return {"rule": self.rule, "severity": self.severity.value, "message": self.message,
                "file": self.file, "line": self.line, "column": self.column, "path": self.path}


def lint(source: Source, config: LintConfig | None = None, lang: str = i18n.DEFAULT,
         document: Document | None = None) -> Iterator[Diagnostic]:
    """Lint one ruleset source, yielding diagnostics in file order."""
    yield from _lint(source, config or LintConfig(), lang, document)


def _lint(source: Source, config: LintConfig, lang: str,
          document: Document | None) -> list[Diagnostic]:
    fatal: DocumentError | None = None
    if document is None:
        try:
            document = load_document(source)
        except DocumentError as err:
            fatal = err
    rules = all_rules()
    ctx = LintContext(source, document, fatal)
    found: list[tuple[Rule, Problem]] = []
    for rule in rules.values():
        if rule.phase is Phase.DOCUMENT:
            found.extend((rule, p) for p in rule.check(ctx))
    if document is not None and not any(r.name == "schema" for r, _ in found) and fatal is None:
        model = build_ruleset(document)
        # A malformed lint block has already been reported by the schema rule.
        with contextlib.suppress(ConfigError):
            config = config.merged(config_from_mapping(document.data.get("lint"), "lint")
                                   if isinstance(document.data, dict) else LintConfig())
        ctx = LintContext(source, document, None, model, _vocabulary(config))
        for rule in rules.values():
            if rule.phase is Phase.RULESET:
                found.extend((rule, p) for p in rule.check(ctx))
    diagnostics = list(_diagnostics(found, ctx, config, lang))
    # Stable sort: rules report in a meaningful order, kept among findings at one position.
    return sorted(diagnostics, key=lambda d: (d.line, d.column, d.rule))


def _vocabulary(config: LintConfig) -> tuple[str, ...]:
    from pipeline_rules.lint.rules.graph import GAP_VOCABULARY

    return GAP_VOCABULARY + config.gap_vocabulary


def _diagnostics(found: Iterable[tuple[Rule, Problem]], ctx: LintContext, config: LintConfig,
                 lang: str) -> Iterator[Diagnostic]:
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
            path=problem.path, source_line=ctx.source.line(position.line))


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


YAML_SUFFIXES = (".yaml", ".yml")


class NoRulesetsError(ValueError):
    """A path given to lint that holds no YAML file."""


def expand_paths(paths: Iterable[str]) -> list[str]:
    """Files to lint: files as given, directories searched for ``*.yaml``/``*.yml``."""
    result: list[str] = []
    for name in paths:
        path = Path(name)
        if name != "-" and path.is_dir():
            found = sorted(str(p) for p in path.rglob("*")
                           if p.suffix in YAML_SUFFIXES and p.is_file())
            if not found:
                raise NoRulesetsError(f"{name}: directory holds no .yaml or .yml file")
            result.extend(found)
        else:
            result.append(name)
    return result


def lint_file(path: str, config: LintConfig | None = None, lang: str = i18n.DEFAULT,
              stdin: Any = None) -> list[Diagnostic]:
    """Read and lint one file (``-`` is stdin); I/O failures raise ``ReadError``."""
    try:
        source = read_source(path, stdin=stdin)
    except DocumentError as err:
        name = "<stdin>" if path == "-" else path
        source = Source(name, "")
        rule = all_rules()[err.rule]
        ctx = LintContext(source, None, err)
        return list(_diagnostics([(rule, err.problem)], ctx, config or LintConfig(), lang))
    return list(lint(source, config, lang))


__all__ = ["ConfigError", "Diagnostic", "NoRulesetsError", "expand_paths", "lint", "lint_file"]
