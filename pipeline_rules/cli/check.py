"""``pipeline-rules check``: may this deal move to that stage?"""

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
    load_versioned,
    parse_now_option,
)

if TYPE_CHECKING:
    from pipeline_rules.deals.model import Deal
    from pipeline_rules.ruleset.compiled import CompiledRuleset


def _read_deal(path: str, compiled: CompiledRuleset) -> Deal:
    """Read one deal (a JSON object) from a file or stdin, or explain and exit 2."""
    import json

    from pipeline_rules.deals.decode import parse_deal
    from pipeline_rules.deals.model import DealError
    from pipeline_rules.ruleset.loader import ReadError, read_source
    from pipeline_rules.ruleset.problems import DocumentError

    try:
        source = read_source(path)
    except (ReadError, DocumentError) as err:
        detail = str(err) if isinstance(err, ReadError) else i18n.render(
            err.problem.message, err.problem.args)
        fail(f"{path}: {detail}")
    try:
        data = json.loads(source.text)
    except json.JSONDecodeError as err:
        fail(f"{source.name}:{err.lineno}:{err.colno}: malformed JSON: {err.msg}")
    try:
        return parse_deal(data, compiled.zone)
    except DealError as err:
        fail(f"{source.name}: bad deal record at {err.path or '/'}: {err.message}")


@click.command("check")

@click.argument("ruleset")

@click.option("--deal", "deal_file", required=True,
              help="A JSON file with one deal (schemas/deal.schema.json), or - for stdin.")

@click.option("--to", "target", required=True, help="The stage the deal should move to.")

@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)

@click.option("--now", "now_text", default=None,
              help="For a versions folder: when the move is made (default: now); the version "
                   "in force then judges it.")

@click.option("--lang", type=LANG, default=None, help="Message language (default: from locale).")

def check_command(ruleset: str, deal_file: str, target: str, fmt: str, now_text: str | None,
                  lang: str | None) -> None:
    """May this deal move to that stage? RULESET is a ruleset file or a versions folder. Exit 0
    allowed, 1 rejected, 2 usage error."""
    import json

    from pipeline_rules.enforce.machine import PipelineMachine

    language = lang or i18n.detect()
    compiled, versions = load_versioned(ruleset, language)
    if versions is not None:
        compiled = versions.at(parse_now_option(now_text, compiled))
    deal = _read_deal(deal_file, compiled)
    decision = PipelineMachine(compiled).check(deal, target)
    if fmt == "json":
        answer = decision.to_dict(language)
        if compiled.revision is not None:
            answer["version"] = compiled.revision
        click.echo(json.dumps(answer, ensure_ascii=False, indent=2))
    else:
        verdict = "allowed" if decision.allowed else "rejected"
        version = f" (version {compiled.revision})" if compiled.revision is not None else ""
        click.echo(f"{verdict}: {deal.id} {decision.from_stage or '(new deal)'} -> {target}"
                   f"{version}")
        for reason in decision.reasons:
            click.echo(f"  - [{reason.code}] {reason.message(language)}")
    sys.exit(EXIT_OK if decision.allowed else EXIT_FINDINGS)

