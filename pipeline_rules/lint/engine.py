"""Running every rule over a document: the checks that block use and the design advice."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pipeline_rules import i18n
from pipeline_rules.lint.mapping import is_mapping, lint_mapping
from pipeline_rules.lint.rules import all_rules
from pipeline_rules.lint.rules.graph import GAP_VOCABULARY
from pipeline_rules.ruleset.catalog import YAML_SUFFIXES
from pipeline_rules.ruleset.checks import check_source, unreadable
from pipeline_rules.ruleset.checks.config import ConfigError, LintConfig
from pipeline_rules.ruleset.checks.diagnostics import Diagnostic
from pipeline_rules.ruleset.loader import Document, load_document, read_source
from pipeline_rules.ruleset.problems import DocumentError
from pipeline_rules.ruleset.source import Source


def lint(source: Source, config: LintConfig | None = None, lang: str = i18n.DEFAULT,
         document: Document | None = None) -> Iterator[Diagnostic]:
    """Lint one ruleset source, yielding diagnostics in file order."""
    checked = check_source(source, all_rules().values(), config, document, GAP_VOCABULARY)
    yield from checked.diagnostics(lang)


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
              stdin: Any = None, sample: str | None = None) -> list[Diagnostic]:
    """Read and lint one file (``-`` is stdin): a ruleset, or a CSV mapping (checked against
    the CSV ``sample`` when one is given); I/O failures raise ``ReadError``."""
    try:
        source = read_source(path, stdin=stdin)
    except DocumentError as err:
        return unreadable("<stdin>" if path == "-" else path, err, config, lang)
    try:
        document = load_document(source)
    except DocumentError:
        document = None  # the ruleset checks report it as they always have
    if document is not None and is_mapping(document):
        return lint_mapping(source, document, sample, lang)
    return list(lint(source, config, lang, document))


__all__ = ["ConfigError", "Diagnostic", "NoRulesetsError", "expand_paths", "lint", "lint_file"]
