"""The ``pipeline-rules`` command line: one thin module per command over the library.

Exit codes: 0 clean, 1 findings (lint errors, or warnings with ``--strict``), 2 usage or I/O
error (a full disk among them), 141 when the reader of stdout went away (``| head``), quietly.
Heavy modules are imported inside the commands that need them, so ``--help`` and the
fast paths start quickly.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from pipeline_rules import __version__
from pipeline_rules.cli import (
    analyze,
    backtest,
    check,
    deal,
    diff,
    evaluate,
    graph,
    ingest,
    lint,
    rules,
    schema,
    serve,
    studio,
    tick,
)
from pipeline_rules.cli.common import (
    language_of,
    output_failed,
    stop_writing,
    translated_usage,
)


class _Commands(click.Group):
    """The command group; where a failed write to the output is turned into one line and an
    exit status, whichever command and format wrote it, and where click's usage errors are
    said in the language asked for (:func:`.common.translated_usage`)."""

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        lang = language_of(args)
        try:
            ctx = super().make_context(info_name, args, parent, **extra)
        except click.UsageError as err:
            raise translated_usage(err, lang) from None
        ctx.meta["pipeline_rules.lang"] = lang
        return ctx

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as err:
            raise translated_usage(err, ctx.meta.get("pipeline_rules.lang", "en")) from None
        except OSError as err:
            if output_failed(err):
                stop_writing(err)
            raise


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pipeline-rules")
def main() -> None:
    """Lint, enforce and evaluate sales-pipeline regulations written in YAML."""


for _command in (lint.lint_command, rules.rules_command, schema.schema_command, check.check_command,
                 graph.graph_command, evaluate.evaluate_command, analyze.analyze_command,
                 backtest.backtest_command, deal.deal_command, serve.serve_command,
                 diff.diff_command, ingest.ingest_command, tick.tick_command,
                 studio.studio_command):
    main.add_command(_command)


def run() -> None:
    """Entry point that never shows a traceback for a failed write (a closed pipe, a full
    disk), not even for what is still buffered when the command ends."""
    try:
        main()
    finally:
        try:
            sys.stdout.flush()
        except OSError as err:
            if not output_failed(err):
                raise
            stop_writing(err)


__all__ = ["main", "run"]
