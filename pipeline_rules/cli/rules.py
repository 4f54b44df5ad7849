"""``pipeline-rules rules``: every lint rule, or one explained."""

from __future__ import annotations

import click

from pipeline_rules.cli.common import (
    fail,
)


@click.command("rules")

@click.argument("name", required=False)

@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]),
              default="text", show_default=True)

def rules_command(name: str | None, fmt: str) -> None:
    """List every lint rule, or explain one."""
    import json

    from pipeline_rules.lint import all_rules
    from pipeline_rules.suggest import nearest

    rules = all_rules()
    if name is None:
        if fmt == "json":
            click.echo(json.dumps([{"name": r.name, "severity": r.severity.value,
                                    "family": r.family, "summary": r.summary}
                                   for r in rules.values()], indent=2))
            return
        width = max(len(r) for r in rules)
        for rule in rules.values():
            click.echo(f"{rule.name:<{width}}  {rule.severity.value:<7}  {rule.summary}")
        return
    from pipeline_rules.lint.mapping import MAPPING_RULES

    if name in MAPPING_RULES:  # the rules of mapping files (docs/input.md)
        doc = MAPPING_RULES[name]
        if fmt == "json":
            click.echo(json.dumps({"name": name, "severity": "error", "family": "mapping",
                                   "doc": doc}, indent=2, ensure_ascii=False))
        else:
            click.echo(f"{name} (error, mapping)\n\n{doc}")
        return
    if name not in rules:
        suggestion = nearest(name, [*rules, *MAPPING_RULES])
        hint = f" (did you mean '{suggestion}'?)" if suggestion else ""
        fail(f"no rule '{name}'{hint}; 'pipeline-rules rules' lists them")
    rule = rules[name]
    if fmt == "json":
        click.echo(json.dumps({"name": rule.name, "severity": rule.severity.value,
                               "family": rule.family, "doc": rule.doc}, indent=2,
                              ensure_ascii=False))
        return
    click.echo(f"{rule.name} ({rule.severity.value}, {rule.family})\n")
    click.echo(rule.doc)

