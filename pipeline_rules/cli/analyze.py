"""``pipeline-rules analyze``: where deals stall, how long stages take, what SLA limits fit."""

from __future__ import annotations

import click

from pipeline_rules import i18n
from pipeline_rules.cli.common import (
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

def analyze_command(ruleset: str, deals: str, input_format: str, mapping: str | None,
                    now_text: str | None, fmt: str, html_file: str | None) -> None:
    """Where deals stall, how long stages take, what SLA limits fit. RULESET is a ruleset
    file, or a versions folder: each stage visit is then timed by the version in force when
    it began."""

    from pipeline_rules.analytics import analyze
    from pipeline_rules.outputs.text import render_report

    compiled, versions = load_versioned(ruleset, i18n.detect())
    now = parse_now_option(now_text, compiled)
    if versions is not None:
        compiled = versions.at(now)
    report = analyze(compiled, records(deals, input_format, mapping, compiled), now, versions)
    show_report(fmt, report.to_dict, lambda: render_report(report), html_file,
          lambda render: render(report, None, compiled))

