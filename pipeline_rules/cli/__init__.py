"""The ``pipeline-rules`` command line: one thin module per command over the library.

Exit codes: 0 clean, 1 findings (lint errors, or warnings with ``--strict``), 2 usage or I/O
error. Heavy modules are imported inside the commands that need them, so ``--help`` and the
fast paths start quickly.
"""

from __future__ import annotations

import sys

import click

from pipeline_rules import __version__
from pipeline_rules.cli import (
    analyze,
    backtest,
    check,
    evaluate,
    graph,
    ingest,
    lint,
    rules,
    schema,
    serve,
    tick,
)
from pipeline_rules.cli.common import EXIT_OK


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pipeline-rules")
def main() -> None:
    """Lint, enforce and evaluate sales-pipeline regulations written in YAML."""


for _command in (lint.lint_command, rules.rules_command, schema.schema_command, check.check_command,
                 graph.graph_command, evaluate.evaluate_command, analyze.analyze_command,
                 backtest.backtest_command, serve.serve_command,
                 ingest.ingest_command, tick.tick_command):
    main.add_command(_command)


def run() -> None:
    """Entry point that never shows a traceback for a broken pipe."""
    try:
        main()
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(EXIT_OK)


__all__ = ["main", "run"]
