"""Lint rule families; importing this package registers every rule."""

from pipeline_rules.lint.rules import document, graph, sla, structure, values

#: The families in the order rules are listed and documented: from reading the file to the
#: finer points of the design.
FAMILIES = ("document", "structure", "graph", "values", "sla")

__all__ = ["FAMILIES", "document", "graph", "sla", "structure", "values"]
