"""``pipeline-rules schema``: a JSON Schema for editors and other tools."""

from __future__ import annotations

import click


@click.command("schema")

@click.argument("name", type=click.Choice(["ruleset", "deal", "finding", "mapping"]))

def schema_command(name: str) -> None:
    """Print a JSON Schema (for editors and other tools)."""
    from pipeline_rules.ruleset.schema import schema_text

    click.echo(schema_text(name), nl=False)

