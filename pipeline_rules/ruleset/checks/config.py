"""Lint configuration: rule severities, the limbo vocabulary, and inline suppressions.

Configuration comes from a config file (``--config``) and from the ruleset's own ``lint:`` block;
the ruleset's block wins because it is the more specific. A line may silence rules with a comment:

    - id: postponed            # pipeline-rules: disable=gap-stage
    # pipeline-rules: disable-next-line=gap-stage,parallel-stages
    # pipeline-rules: disable-file=inconsistent-sla

``disable`` without ``=rules`` silences every rule on that line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from pipeline_rules.ruleset.problems import Severity
from pipeline_rules.ruleset.source import Source

OFF = "off"
ALL = "*"

_DIRECTIVE = re.compile(
    r"#\s*pipeline-rules:\s*(disable-next-line|disable-file|disable)\b"
    r"(?:\s*=\s*([\w\-]+(?:\s*,\s*[\w\-]+)*))?")


class ConfigError(ValueError):
    """A lint configuration that cannot be used."""


@dataclass(frozen=True)
class LintConfig:
    """Severity overrides (a severity or ``off``) and extra limbo words."""

    rules: Mapping[str, str] = field(default_factory=dict)
    gap_vocabulary: tuple[str, ...] = ()

    def merged(self, other: LintConfig) -> LintConfig:
        """This configuration overridden by ``other``."""
        return LintConfig({**self.rules, **other.rules},
                          self.gap_vocabulary + other.gap_vocabulary)

    def severity(self, rule: str, default: Severity) -> Severity | None:
        """The severity to report ``rule`` with, or None when it is off."""
        value = self.rules.get(rule)
        if value is None:
            return default
        if value == OFF:
            return None
        return Severity(value)


def config_from_mapping(data: object, where: str) -> LintConfig:
    """Read a ``lint:`` mapping (``{rules: {...}, gap_vocabulary: [...]}``)."""
    if data is None:
        return LintConfig()
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping with 'rules' and 'gap_vocabulary'")
    unknown = sorted(set(data) - {"rules", "gap_vocabulary"})
    if unknown:
        raise ConfigError(f"{where}: unknown key '{unknown[0]}' "
                          "(expected 'rules' or 'gap_vocabulary')")
    rules = data.get("rules")
    words = data.get("gap_vocabulary")
    rules = {} if rules is None else rules
    words = [] if words is None else words
    if not isinstance(rules, dict) or not isinstance(words, list):
        raise ConfigError(f"{where}: 'rules' must be a mapping and 'gap_vocabulary' a list")
    allowed = {s.value for s in Severity} | {OFF}
    for name, value in rules.items():
        if value not in allowed:
            raise ConfigError(f"{where}: rule '{name}': '{value}' is not one of "
                              f"{', '.join(sorted(allowed))}")
    return LintConfig({str(k): str(v) for k, v in rules.items()}, tuple(str(w) for w in words))


@dataclass(frozen=True)
class Directive:
    """One suppression comment: where each rule name in it is written."""

    line: int
    names: tuple[tuple[str, int], ...]  # (rule name, column)


@dataclass(frozen=True)
class Suppressions:
    """Rules silenced by comments: per line, and for the whole file."""

    lines: Mapping[int, frozenset[str]]
    file: frozenset[str]
    directives: tuple[Directive, ...] = ()

    def silenced(self, rule: str, line: int) -> bool:
        """Whether ``rule`` is silenced at ``line``."""
        here = self.lines.get(line, frozenset())
        return bool({rule, ALL} & (here | self.file))


def comment_start(line: str) -> int | None:
    """Index of the ``#`` that starts a YAML comment on ``line``, or None.

    A ``#`` starts a comment at the start of a line or after whitespace, outside quotes; a
    ``#`` inside ``"Postponed #2"`` is text. (A quoted scalar continued over several lines is
    not followed across lines.)
    """
    quote = ""
    i = 0
    while i < len(line):
        char = line[i]
        if quote == '"' and char == "\\":
            i += 1  # the escaped character cannot end the string
        elif quote == "'" and char == "'" and line[i + 1:i + 2] == "'":
            i += 1  # '' is a quote inside a single-quoted string
        elif quote and char == quote:
            quote = ""
        elif not quote and char in "'\"" and (i == 0 or line[i - 1] in " \t[{,:-"):
            quote = char
        elif not quote and char == "#" and (i == 0 or line[i - 1] in " \t"):
            return i
        i += 1
    return None


def suppressions(source: Source) -> Suppressions:
    """Find the suppression comments of a source."""
    lines: dict[int, frozenset[str]] = {}
    whole: set[str] = set()
    directives: list[Directive] = []
    if "pipeline-rules:" not in source.text:
        return Suppressions({}, frozenset())
    for number, text in enumerate(source.lines, start=1):
        start = comment_start(text) if "pipeline-rules:" in text else None
        found = _DIRECTIVE.search(text, start) if start is not None else None
        if found is None:
            continue
        kind = found.group(1)
        names = tuple((m.group(0), found.start(2) + m.start() + 1)
                      for m in re.finditer(r"[\w\-]+", found.group(2) or ""))
        directives.append(Directive(number, names))
        rules = frozenset(name for name, _ in names) or frozenset({ALL})
        if kind == "disable-file":
            whole |= rules
        else:
            target = number + 1 if kind == "disable-next-line" else number
            lines[target] = lines.get(target, frozenset()) | rules
    return Suppressions(lines, frozenset(whole), tuple(directives))
