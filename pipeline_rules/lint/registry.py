"""The lint rule registry: every rule is a documented generator registered under a stable name.

A rule is a function ``check(ctx) -> Iterable[Problem]`` decorated with :func:`rule`. Its
docstring is its documentation (``pipeline-rules rules NAME`` prints it and ``docs/rules.md`` is
generated from it), with the headings *What it finds*, *Why it matters*, *Example* and
*Use instead*.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from pipeline_rules.ruleset.problems import Problem, Severity

if TYPE_CHECKING:
    from pipeline_rules.lint.context import LintContext


class Phase(StrEnum):
    """What a rule needs: the parsed document, or the ruleset model built from it."""

    DOCUMENT = "document"
    RULESET = "ruleset"


Check = Callable[["LintContext"], Iterable[Problem]]


@dataclass(frozen=True)
class Rule:
    """A registered lint rule."""

    name: str
    severity: Severity
    phase: Phase
    family: str
    check: Check

    @property
    def doc(self) -> str:
        """The rule's documentation (its check function's docstring)."""
        return inspect.cleandoc(self.check.__doc__ or "")

    @property
    def summary(self) -> str:
        """The first line of the documentation."""
        return self.doc.splitlines()[0] if self.doc else ""


RULES: dict[str, Rule] = {}


def rule(name: str, severity: Severity, phase: Phase = Phase.RULESET) -> Callable[[Check], Check]:
    """Register ``check`` as the lint rule ``name`` with a default severity."""

    def register(check: Check) -> Check:
        if name in RULES:
            raise ValueError(f"lint rule {name!r} registered twice")
        family = check.__module__.rsplit(".", 1)[-1]
        RULES[name] = Rule(name, severity, phase, family, check)
        return check

    return register


def all_rules() -> dict[str, Rule]:
    """Every rule by name, family by family (importing the rule families on first use)."""
    from pipeline_rules.lint.rules import FAMILIES

    order = {family: i for i, family in enumerate(FAMILIES)}
    return dict(sorted(RULES.items(), key=lambda item: order[item[1].family]))
