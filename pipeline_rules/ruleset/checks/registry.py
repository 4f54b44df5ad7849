"""The rule registry: every rule is a documented generator registered under a stable name.

A rule is a function ``check(ctx) -> Iterable[Problem]`` decorated with :func:`rule`. Its
docstring is its documentation (``pipeline-rules rules NAME`` prints it and ``docs/rules.md`` is
generated from it), with the headings *What it finds*, *Why it matters*, *Example* and
*Use instead*.

A rule that ``blocks_use`` finds what stops a ruleset from running at all (it does not parse,
names what it does not declare, has a value that does not parse); its errors make compiling
fail, so it lives in this package, which compiling runs. The other rules are design advice that
only ``pipeline-rules lint`` runs (:mod:`pipeline_rules.lint.rules`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from pipeline_rules.ruleset.problems import Problem, Severity

if TYPE_CHECKING:
    from pipeline_rules.ruleset.checks.context import CheckContext


class Phase(StrEnum):
    """What a rule needs: the parsed document, the ruleset model built from it, or the
    compiled files of a versions folder together (each file judged among the others)."""

    DOCUMENT = "document"
    RULESET = "ruleset"
    FOLDER = "folder"


Check = Callable[["CheckContext"], Iterable[Problem]]

#: The advisory rules, run by ``pipeline-rules lint`` only. They are named here because a
#: ruleset's ``lint:`` block and its suppression comments may name them, and checking a ruleset
#: for use says when such a name is unknown.
ADVISORY_RULES = frozenset({"unreachable-stage", "dead-end", "no-path-to-won", "gap-stage",
                            "parallel-stages", "inconsistent-sla", "unknown-role",
                            "shadowed-start", "versions-unversioned-file", "versions-mixed-id",
                            "versions-same-instant", "versions-same-revision",
                            "versions-none-in-force"})


@dataclass(frozen=True)
class Rule:
    """A registered rule."""

    name: str
    severity: Severity
    phase: Phase
    family: str
    check: Check
    #: Whether an error of this rule makes the ruleset unusable (compiling runs it).
    blocks_use: bool = False

    @property
    def doc(self) -> str:
        """The rule's documentation (its check function's docstring)."""
        return inspect.cleandoc(self.check.__doc__ or "")

    @property
    def summary(self) -> str:
        """The first line of the documentation."""
        return self.doc.splitlines()[0] if self.doc else ""

    def use_instead(self, lines: int = 4) -> list[str]:
        """How to fix what the rule finds, in short: the first ``lines`` lines of its *Use
        instead* section (its code fences dropped; ``…`` when there is more)."""
        return use_instead(self.doc, lines)


def use_instead(doc: str, lines: int = 4) -> list[str]:
    """The first ``lines`` lines of a rule page's *Use instead* section (its code fences
    dropped; ``…`` when there is more)."""
    section: list[str] = []
    inside = False
    for line in doc.splitlines():
        if line.startswith("## "):
            if inside:
                break
            inside = line.strip() == "## Use instead"
            continue
        if inside and not line.startswith("```") and (line.strip() or section):
            section.append(line.rstrip())
    while section and not section[-1]:
        section.pop()
    return section[:lines] + (["…"] if len(section) > lines else [])


RULES: dict[str, Rule] = {}


def rule(name: str, severity: Severity, phase: Phase = Phase.RULESET,
         blocks_use: bool = False) -> Callable[[Check], Check]:
    """Register ``check`` as the rule ``name`` with a default severity."""

    def register(check: Check) -> Check:
        if name in RULES:
            raise ValueError(f"rule {name!r} registered twice")
        if blocks_use != (check.__module__.rpartition(".")[0] == __package__):
            # Compiling runs the rules of this package and no other.
            raise ValueError(f"rule {name!r}: a rule blocks use exactly when it lives in "
                             f"{__package__}")
        if not blocks_use and name not in ADVISORY_RULES:
            raise ValueError(f"advisory rule {name!r} is missing from ADVISORY_RULES")
        family = check.__module__.rsplit(".", 1)[-1]
        RULES[name] = Rule(name, severity, phase, family, check, blocks_use)
        return check

    return register


def blocking_rules() -> dict[str, Rule]:
    """The rules that block use, by name (importing their families on first use)."""
    from pipeline_rules.ruleset.checks import document, structure, values  # noqa: F401

    return {name: r for name, r in RULES.items() if r.blocks_use}


def rule_names() -> frozenset[str]:
    """The name of every rule, advisory ones included."""
    return frozenset(blocking_rules()) | ADVISORY_RULES
