"""What every checking phase reports: a problem at a node, with a translatable message."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from pipeline_rules.ruleset.source import Position


class Severity(StrEnum):
    """How bad a problem is; ``error`` fails a lint run."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Problem:
    """A problem found at one node, its message given as a catalog key and arguments."""

    message: str
    args: Mapping[str, object] = field(default_factory=dict)
    path: str = ""
    at_key: bool = False
    position: Position | None = None


class DocumentError(Exception):
    """A document that cannot be read or parsed at all (the rule says which check failed)."""

    def __init__(self, rule: str, problem: Problem) -> None:
        super().__init__(f"{rule}: {problem.message} {dict(problem.args)}")
        self.rule = rule
        self.problem = problem
