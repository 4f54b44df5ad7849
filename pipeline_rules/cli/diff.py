"""``pipeline-rules diff``: what a change to a ruleset changes, section by section, and — with
``--deals`` — which deals in flight it judges differently.

Exit codes, as lint's: 0 when the two rulesets mean the same (and judge the deals alike), 1 when
they differ, 2 on a usage error or a ruleset that cannot be used (its errors on stderr).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from pipeline_rules import i18n
from pipeline_rules.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    LANG,
    fail,
    input_options,
    load_versioned,
    parse_now_option,
    records,
)

if TYPE_CHECKING:
    from pipeline_rules.ruleset.compiled import CompiledRuleset


@click.command("diff")

@click.argument("old")

@click.argument("new")

@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]),
              default="text", show_default=True,
              help="Output format (markdown: for a pull-request comment).")

@click.option("--deals", "deals", default=None,
              help="Deals in flight (JSONL, JSON or CSV): show which are judged differently, "
                   "and the deals in stages NEW removes (errors).")

@click.option("--now", "now_text", default=None,
              help="With --deals: the time to judge them at (default: now).")

@input_options

@click.option("--lang", type=LANG, default=None, help="Message language (default: from locale).")

def diff_command(old: str, new: str, fmt: str, deals: str | None, now_text: str | None,
                 input_format: str, mapping: str | None, lang: str | None) -> None:
    """Compare ruleset OLD with NEW by meaning: stages, moves, SLAs, calendars, task rules,
    reminders and every other section, each change with its position in both files. Each is a
    ruleset file or a version of a versions folder, FOLDER@REVISION (NEW may be @REVISION of
    OLD's folder). Exit 0 when they mean the same, 1 when they differ, 2 on an error."""
    from pipeline_rules.outputs.diff import FORMATS
    from pipeline_rules.ruleset.diff import diff_rulesets

    language = lang or i18n.detect()
    before = _one(old, language)
    after = _one(new, language, old.rsplit("@", 1)[0] if "@" in old else None)
    result = diff_rulesets(before, after)
    if deals is None:
        if now_text is not None:
            fail("--now needs --deals")
        click.echo(FORMATS[fmt](result, language, None, ""), nl=False)
        sys.exit(EXIT_FINDINGS if result.changes else EXIT_OK)
    from pipeline_rules.analytics.impact import impact

    now = parse_now_option(now_text, after)
    found = impact(before, after, records(deals, input_format, mapping, before), now, language)
    click.echo(FORMATS[fmt](result, language, found, now.isoformat()), nl=False)
    differ = result.changes or found.changes or found.stranded
    sys.exit(EXIT_FINDINGS if differ else EXIT_OK)


def _one(path: str, lang: str, base: str | None = None) -> CompiledRuleset:
    """A ruleset file or one version of a folder; a folder alone is a usage error."""
    compiled, versions = load_versioned(path, lang, base)
    if versions is not None:
        known = ", ".join(f"{path}@{c.revision}" for c in versions.entries)
        fail(f"{path} is a versions folder: name one version ({known})")
    return compiled
