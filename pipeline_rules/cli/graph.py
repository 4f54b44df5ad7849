"""``pipeline-rules graph``: the pipeline as a Mermaid or Graphviz drawing."""

from __future__ import annotations

import sys

import click

from pipeline_rules import i18n
from pipeline_rules.cli.common import (
    EXIT_FINDINGS,
    LANG,
    fail,
    load_compiled,
)


@click.command("graph")

@click.argument("ruleset", type=click.Path(dir_okay=False))

@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot"]), default="mermaid",
              show_default=True)

@click.option("--lang", type=LANG, default=None, help="Message language (default: from locale).")

def graph_command(ruleset: str, fmt: str, lang: str | None) -> None:
    """Draw the pipeline as a Mermaid flowchart or a Graphviz DOT graph; a draft with errors
    is drawn as far as it reads, broken parts marked (exit 1)."""
    from pipeline_rules.enforce.diagram import FORMATS
    from pipeline_rules.ruleset.catalog import RulesetError, load_file
    from pipeline_rules.ruleset.loader import ReadError

    language = lang or i18n.detect()
    try:
        catalog = load_file(ruleset, language)
        compiled = catalog.only()
    except ReadError as err:
        fail(err.said(language))
    except RulesetError as err:
        _draft(ruleset, fmt, err, language)
        return
    click.echo(FORMATS[fmt](compiled, language), nl=False)


def _draft(path: str, fmt: str, err: Exception, language: str) -> None:
    """Draw what a ruleset with errors declares, its broken parts marked, and exit 1; exit 2
    when not even that can be read."""
    from pipeline_rules.enforce.diagram import DRAFTS
    from pipeline_rules.ruleset.loader import load_document, read_source
    from pipeline_rules.ruleset.model import build_ruleset
    from pipeline_rules.ruleset.problems import DocumentError

    diagnostics = getattr(err, "diagnostics", ())
    try:
        document = load_document(read_source(path))
    except DocumentError:
        load_compiled(path, language)  # explains on stderr why, and exits 2
        return
    if not isinstance(document.data, dict):
        load_compiled(path, language)
        return
    ruleset = build_ruleset(document)
    click.echo(DRAFTS[fmt](ruleset, [d.path for d in diagnostics if d.severity.value == "error"],
                           language), nl=False)
    errors = sum(d.severity.value == "error" for d in diagnostics)
    counted = f"{errors} error{'' if errors == 1 else 's'}" if language == i18n.DEFAULT \
        else i18n.plural(errors, "error", language)
    click.echo(i18n.render("graph.draft", {"path": path, "errors": counted}, language),
               err=True)
    sys.exit(EXIT_FINDINGS)

