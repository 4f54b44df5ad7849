"""``pipeline-rules diff``: what a change to a ruleset changes, section by section.

Exit codes, as lint's: 0 when the two rulesets mean the same, 1 when they differ, 2 on a usage
error or a ruleset that cannot be used (its errors on stderr).
"""

from __future__ import annotations

import sys

import click

from pipeline_rules import i18n
from pipeline_rules.cli.common import EXIT_FINDINGS, EXIT_OK, LANG, load_compiled


@click.command("diff")

@click.argument("old")

@click.argument("new")

@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]),
              default="text", show_default=True,
              help="Output format (markdown: for a pull-request comment).")

@click.option("--lang", type=LANG, default=None, help="Message language (default: from locale).")

def diff_command(old: str, new: str, fmt: str, lang: str | None) -> None:
    """Compare ruleset OLD with NEW by meaning: stages, moves, SLAs, calendars, task rules,
    reminders and every other section, each change with its position in both files. Exit 0
    when they mean the same, 1 when they differ, 2 on an error."""
    from pipeline_rules.outputs.diff import FORMATS
    from pipeline_rules.ruleset.diff import diff_rulesets

    language = lang or i18n.detect()
    before = load_compiled(old, language)
    after = load_compiled(new, language)
    result = diff_rulesets(before, after)
    click.echo(FORMATS[fmt](result, language), nl=False)
    sys.exit(EXIT_FINDINGS if result.changes else EXIT_OK)
