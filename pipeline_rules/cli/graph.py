"""``pipeline-rules graph``: the pipeline as a Mermaid or Graphviz drawing."""

from __future__ import annotations

import click

from pipeline_rules import i18n
from pipeline_rules.cli.common import (
    load_compiled,
)


@click.command("graph")

@click.argument("ruleset", type=click.Path(dir_okay=False))

@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot"]), default="mermaid",
              show_default=True)

def graph_command(ruleset: str, fmt: str) -> None:
    """Draw the pipeline as a Mermaid flowchart or a Graphviz DOT graph."""
    from pipeline_rules.enforce.diagram import FORMATS

    click.echo(FORMATS[fmt](load_compiled(ruleset, i18n.detect())), nl=False)

