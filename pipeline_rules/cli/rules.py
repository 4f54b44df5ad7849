"""``pipeline-rules rules``: every lint rule, or one explained."""

from __future__ import annotations

import click

from pipeline_rules import i18n
from pipeline_rules.cli.common import (
    LANG,
    fail,
)


@click.command("rules")

@click.argument("name", required=False)

@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]),
              default="text", show_default=True)

@click.option("--lang", type=LANG, default=None,
              help="Language of the listing's frame and messages (the rule pages are English, "
                   "as docs/rules.md is).")

def rules_command(name: str | None, fmt: str, lang: str | None) -> None:
    """List every lint rule, or explain one."""
    import json

    from pipeline_rules.lint import all_rules
    from pipeline_rules.suggest import nearest

    language = lang or i18n.detect()

    def severity(value: str) -> str:
        return value if language == i18n.DEFAULT else i18n.render(f"severity.{value}", {},
                                                                   language)

    def english_pages() -> None:
        # The summaries and pages are the rule docs, English as docs/rules.md: said so once.
        if language != i18n.DEFAULT:
            click.echo(i18n.render("rules.english", {}, language), err=True)

    rules = all_rules()
    if name is None:
        if fmt == "json":
            click.echo(json.dumps([{"name": r.name, "severity": r.severity.value,
                                    "family": r.family, "summary": r.summary}
                                   for r in rules.values()], indent=2))
            return
        english_pages()
        width = max(len(r) for r in rules)
        words = max(len(severity(r.severity.value)) for r in rules.values())
        for rule in rules.values():
            click.echo(f"{rule.name:<{width}}  {severity(rule.severity.value):<{max(words, 7)}}  "
                       f"{rule.summary}")
        return
    from pipeline_rules.lint.mapping import MAPPING_RULES

    if name in MAPPING_RULES:  # the rules of mapping files (docs/input.md)
        doc = MAPPING_RULES[name]
        if fmt == "json":
            click.echo(json.dumps({"name": name, "severity": "error", "family": "mapping",
                                   "doc": doc}, indent=2, ensure_ascii=False))
        else:
            english_pages()
            click.echo(f"{name} ({severity('error')}, mapping)\n\n{doc}")
        return
    if name not in rules:
        suggestion = nearest(name, [*rules, *MAPPING_RULES])
        fail(i18n.render("rules.unknown-hint" if suggestion else "rules.unknown",
                         {"name": name, "hint": suggestion}, language))
    rule = rules[name]
    if fmt == "json":
        click.echo(json.dumps({"name": rule.name, "severity": rule.severity.value,
                               "family": rule.family, "doc": rule.doc}, indent=2,
                              ensure_ascii=False))
        return
    english_pages()
    click.echo(f"{rule.name} ({severity(rule.severity.value)}, {rule.family})\n")
    click.echo(rule.doc)

