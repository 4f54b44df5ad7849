"""``pipeline-rules analyze``: where deals stall, how long stages take, what SLA limits fit."""

from __future__ import annotations

import click

from pipeline_rules import i18n
from pipeline_rules.cli.common import (
    LANG,
    fail,
    input_options,
    load_versioned,
    parse_now_option,
    records,
    show_report,
)


@click.command("analyze")

@click.argument("ruleset")

@click.argument("deals")
@input_options

@click.option("--now", "now_text", default=None,
              help="The moment open deals are measured to (default: now).")

@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)

@click.option("--html", "html_file", type=click.Path(dir_okay=False),
              help="Also write a self-contained HTML report with charts here.")

@click.option("--by", "by", default=None, metavar="FIELD",
              help="Also group the deals by this field (product, account, owner, source, "
                   "manager or any deal field): deals, win rate, cycle length.")

@click.option("--split", "split_text", default=None, metavar="DATE",
              help="Compare the deals whose cycle started before DATE with the others: cycle "
                   "length, win rate, dwell and share over SLA per stage, with bootstrap "
                   "95 % intervals and a verdict.")

@click.option("--lang", type=LANG, default=None, help="Message language (default: from locale).")

def analyze_command(ruleset: str, deals: str, input_format: str, mapping: str | None,
                    now_text: str | None, fmt: str, html_file: str | None,
                    by: str | None, split_text: str | None, lang: str | None) -> None:
    """Where deals stall, how long stages take, what SLA limits fit. RULESET is a ruleset
    file, or a versions folder: each stage visit is then timed by the version in force when
    it began."""

    from pipeline_rules.analytics.analysis import NO_VALUE, Analysis
    from pipeline_rules.outputs.text import render_report

    language = lang or i18n.detect()
    compiled, versions = load_versioned(ruleset, language)
    now = parse_now_option(now_text, compiled)
    if versions is not None:
        compiled = versions.at(now)
    split = None if split_text is None else parse_now_option(split_text, compiled, "--split")
    analysis = Analysis(compiled, now, versions, by, split, language)
    for item in records(deals, input_format, mapping, compiled):
        analysis.add(item)
    report = analysis.report()
    if by is not None and report.deals and [g.key for g in report.by_field] == [NO_VALUE]:
        from pipeline_rules.ruleset.conditions import ATTRIBUTES

        known = ", ".join(sorted({*ATTRIBUTES, *analysis.fields_seen}))
        fail(i18n.render("analyze.no-field", {"field": by, "known": known}, language))
    for note in report.notes:
        if note.startswith("now is "):  # Analysis.stale_note: said on stderr too
            click.echo(i18n.render("cli.warning", {"message": note}, language), err=True)
    show_report(fmt, report.to_dict, lambda: render_report(report, language), html_file,
          lambda render: render(report, None, compiled, language))

