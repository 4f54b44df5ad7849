"""``pipeline-rules backtest``: what a regulation would have raised over a past period."""

from __future__ import annotations

import sys
from collections.abc import Callable

import click

from pipeline_rules import i18n
from pipeline_rules.cli.common import (
    LANG,
    input_options,
    load_versioned,
    parse_now_option,
    records,
    show_report,
)


@click.command("backtest")

@click.argument("ruleset")

@click.argument("deals")
@input_options

@click.option("--from", "start_text", required=True, help="First evaluation time (ISO 8601).")

@click.option("--to", "end_text", required=True, help="Last evaluation time (ISO 8601).")

@click.option("--every", default="1d", show_default=True, help="Time between evaluations.")

@click.option("--compare", "other",
              help="Another ruleset (a file, a versions folder, FOLDER@REVISION, or @REVISION "
                   "of RULESET's folder): show which alerts the change adds or removes.")

@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)

@click.option("--html", "html_file", type=click.Path(dir_okay=False),
              help="Also write a self-contained HTML report with charts here.")

@click.option("--lang", type=LANG, default=None, help="Message language (default: from locale).")

def backtest_command(ruleset: str, deals: str, input_format: str, mapping: str | None,
                     start_text: str, end_text: str, every: str, other: str | None, fmt: str,
                     html_file: str | None, lang: str | None) -> None:
    """What the regulation would have raised over a past period, as deals stood then. RULESET
    is a ruleset file, a versions folder (each point judged by the version in force then) or
    one version of it as FOLDER@REVISION."""
    from datetime import timedelta

    from pipeline_rules.analytics.backtest import backtest
    from pipeline_rules.outputs.text import render_backtest
    from pipeline_rules.time.durations import DurationError, parse_duration

    language = lang or i18n.detect()
    compiled, versions = load_versioned(ruleset, language)
    start = parse_now_option(start_text, compiled, "--from")
    end = parse_now_option(end_text, compiled, "--to")
    try:
        step = parse_duration(every)
    except DurationError as err:
        raise click.BadParameter(err.args[0], param_hint="--every") from None
    if step.is_business or step.amount <= 0:
        raise click.BadParameter(i18n.Message("backtest.every", {}), param_hint="--every")
    if end < start:
        raise click.BadParameter(i18n.Message("backtest.ends-before", {}), param_hint="--to")
    base = ruleset.rsplit("@", 1)[0] if "@" in ruleset and versions is None else ruleset
    compared, compared_versions = load_versioned(other, language, base) if other \
        else (None, None)
    show = _progress(language) if sys.stderr.isatty() else None
    result = backtest(compiled, records(deals, input_format, mapping, compiled), start, end,
                      timedelta(seconds=step.amount), compared, versions, compared_versions,
                      show, language)
    if show is not None:
        click.echo("\r\033[K", err=True, nl=False)
    show_report(fmt, result.to_dict, lambda: render_backtest(result, language), html_file,
          lambda render: render(None, result, compiled, language))



def _progress(lang: str = i18n.DEFAULT) -> Callable[[int, int], None]:
    """Evaluation points done, on stderr, refreshed at most five times a second."""
    import time

    last = [0.0]

    def show(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.2 or done == total:
            last[0] = now
            shown = {"done": f"{done:,}", "total": f"{total:,}"} if lang == i18n.DEFAULT \
                else {"done": f"{done:,}".replace(",", "\u00a0"),
                      "total": f"{total:,}".replace(",", "\u00a0")}
            click.echo("\r" + i18n.render("progress.backtest", shown, lang), err=True,
                       nl=False)

    return show
