"""``pipeline-rules lint``: check the design of rulesets."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from pipeline_rules import i18n
from pipeline_rules.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    LANG,
    current_language,
    fail,
)

if TYPE_CHECKING:
    from pipeline_rules.lint import LintConfig


@click.command("lint")

@click.argument("paths", nargs=-1, required=True)

@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif", "github"]),
              default="text", show_default=True, help="Output format.")

@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")

@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="A YAML file with a 'lint:' block (rules, gap_vocabulary).")

@click.option("--lang", type=LANG, default=None, help="Message language (default: from locale).")

@click.option("--color", type=click.Choice(["auto", "always", "never"]), default="auto",
              show_default=True, help="Colour the text output.")

@click.option("--no-source", is_flag=True, help="Text format: do not show source lines.")

@click.option("--sample", type=click.Path(dir_okay=False),
              help="A CSV export to check the mapping files among PATHS against (its header "
                   "and the CRM stages of its first rows).")

def lint_command(paths: tuple[str, ...], fmt: str, strict: bool, config_file: str | None,
                 lang: str | None, color: str, no_source: bool, sample: str | None) -> None:
    """Check the design of rulesets (files, directories of *.yaml, or - for stdin); a CSV
    mapping file among them is checked as a mapping."""
    from pipeline_rules.lint import (
        ConfigError,
        LintConfig,
        NoRulesetsError,
        expand_paths,
        lint_file,
    )
    from pipeline_rules.outputs.lint import FORMATS, LintReport, summary, text
    from pipeline_rules.ruleset.gcpause import paused
    from pipeline_rules.ruleset.loader import ReadError

    language = lang or i18n.detect()
    config = LintConfig()
    if config_file is not None:
        config = _read_config(config_file)
    try:
        files = expand_paths(paths)
    except NoRulesetsError as err:
        fail(str(err))
    diagnostics = []
    with paused():  # a short single-threaded process: the collector's passes only cost time
        for file in files:
            try:
                diagnostics.extend(lint_file(file, config, language, sample=sample))
            except ReadError as err:
                fail(err.said(language))
            except ConfigError as err:
                fail(str(err))
    from datetime import UTC, datetime

    from pipeline_rules.lint.versions import lint_versions, versions_folders

    for folder in versions_folders(paths):
        diagnostics.extend(lint_versions(folder, datetime.now(UTC), language, config))
    report = LintReport(diagnostics, ["<stdin>" if f == "-" else f for f in files])
    if fmt == "text":
        use_color = color == "always" or (color == "auto" and sys.stdout.isatty())
        click.echo(text(report, color=use_color, show_source=not no_source, lang=language),
                   nl=False, color=use_color)
        click.echo(summary(report, language), err=True)
    else:
        click.echo(FORMATS[fmt](report), nl=False)
    counts = report.counts()
    failed = counts["error"] > 0 or (strict and counts["warning"] > 0)
    sys.exit(EXIT_FINDINGS if failed else EXIT_OK)


def _read_config(path: str) -> LintConfig:
    from pipeline_rules.lint import ConfigError, config_from_mapping
    from pipeline_rules.ruleset.loader import ReadError, load_document, read_source
    from pipeline_rules.ruleset.problems import DocumentError

    try:
        document = load_document(read_source(path))
    except ReadError as err:
        fail(err.said(current_language()))
    except DocumentError as err:
        pos = err.problem.position
        where = f"{path}:{pos.line}:{pos.column}" if pos else path
        fail(f"{where}: {i18n.render(err.problem.message, err.problem.args)}")
    data = document.data
    block = data.get("lint", data) if isinstance(data, dict) else data
    try:
        return config_from_mapping(block, path)
    except ConfigError as err:
        fail(str(err))

