"""Every rule, family by family: the checks that block use (which live with the ruleset, as
compiling runs them), the design advice of this package (``graph``, ``sla``, ``routing``) and
the checks of a versions folder's files together (``versions``)."""

from pipeline_rules.lint.rules import graph, routing, sla, versions
from pipeline_rules.ruleset.checks import document, structure, values
from pipeline_rules.ruleset.checks.registry import RULES, Rule

#: The families in the order rules are listed and documented: from reading the file to the
#: finer points of the design.
FAMILIES = ("document", "structure", "graph", "values", "sla", "routing", "versions")


def all_rules() -> dict[str, Rule]:
    """Every rule by name, family by family."""
    order = {family: i for i, family in enumerate(FAMILIES)}
    return dict(sorted(RULES.items(), key=lambda item: order[item[1].family]))


__all__ = ["FAMILIES", "all_rules", "document", "graph", "routing", "sla", "structure",
           "values", "versions"]
