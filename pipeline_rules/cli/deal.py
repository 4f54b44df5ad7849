"""``pipeline-rules deal``: one deal as the engine reads it — its record parsed (times in the
ruleset's zone), its timeline and its findings at ``--now``."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from pipeline_rules import i18n
from pipeline_rules.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    LANG,
    fail,
    input_options,
    load_compiled,
    parse_now_option,
    records,
)

if TYPE_CHECKING:
    from pipeline_rules.deals.model import Deal
    from pipeline_rules.evaluate.findings import Finding
    from pipeline_rules.ruleset.compiled import CompiledRuleset


@click.command("deal")

@click.argument("ruleset", type=click.Path(dir_okay=False))

@click.argument("deals")

@click.argument("deal_id")
@input_options

@click.option("--now", "now_text", default=None,
              help="Evaluation time, ISO 8601 (default: now). Without an offset: the ruleset's "
                   "time zone.")

@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text",
              show_default=True, help="csv: the deal's findings only, as evaluate writes them.")

@click.option("--lang", type=LANG, default=None, help="Message language (default: from locale).")

def deal_command(ruleset: str, deals: str, deal_id: str, input_format: str,
                 mapping: str | None, now_text: str | None, fmt: str,
                 lang: str | None) -> None:
    """Show one deal of DEALS as parsed, its timeline and its findings (exit 1 if it is a bad
    record, 2 if DEALS has no deal DEAL_ID)."""
    from pipeline_rules.deals import as_record
    from pipeline_rules.evaluate import Evaluator
    from pipeline_rules.evaluate.intake import Rejection, intake

    language = lang or i18n.detect()
    compiled = load_compiled(ruleset, language)
    now = parse_now_option(now_text, compiled)
    found = None
    for item in records(deals, input_format, mapping, compiled):
        record = as_record(item)
        if record.deal == deal_id:
            found = record
            break
    if found is None:
        fail(f"{deals}: no deal '{deal_id}' (deal ids are matched exactly, as text)")
    parsed = intake(found, compiled, language)
    findings = list(Evaluator(compiled, language).evaluate([found], now, language))
    deal = None if isinstance(parsed, Rejection) else parsed
    if fmt == "csv":
        from pipeline_rules.outputs.findings import write_csv

        write_csv((f.to_dict() for f in findings), sys.stdout.buffer)
    elif fmt == "json":
        data: dict[str, Any] = {
            "origin": found.origin, "ruleset": compiled.id, "timezone": str(compiled.zone),
            "now": now.astimezone(compiled.zone).isoformat(),
            "deal": None if deal is None else _in_zone(deal, compiled).to_dict(),
            "findings": [f.to_dict() for f in findings]}
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        click.echo(_text(found.origin, deal, findings, compiled, now), nl=False)
    sys.exit(EXIT_FINDINGS if deal is None else EXIT_OK)


def _in_zone(deal: Deal, compiled: CompiledRuleset) -> Deal:
    """The deal with every time in the ruleset's zone."""
    from dataclasses import replace

    zone = compiled.zone
    return replace(
        deal,
        history=tuple(h._replace(at=h.at.astimezone(zone)) for h in deal.history),
        tasks=tuple(t._replace(due=t.due.astimezone(zone) if t.due else None)
                    for t in deal.tasks),
        events=tuple(e._replace(at=e.at.astimezone(zone)) for e in deal.events),
        pauses=tuple(p._replace(start=p.start.astimezone(zone),
                                end=p.end.astimezone(zone) if p.end else None)
                     for p in deal.pauses))


def _span(seconds: float) -> str:
    """Elapsed wall-clock time as days and hours."""
    days, rest = divmod(int(seconds), 86400)
    hours = rest // 3600
    day_word = "day" if days == 1 else "days"
    return f"{days} {day_word} {hours} h" if days else f"{hours} h {rest % 3600 // 60} min"


def _text(origin: str, deal: Deal | None, findings: list[Finding],
          compiled: CompiledRuleset, now: datetime) -> str:
    """The deal for a person: its record, timeline (time spent in each stage) and findings."""
    from pipeline_rules.time.working import civil_seconds

    zone = compiled.zone

    def when(moment: datetime) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    lines = [f"{origin}: ruleset {compiled.id}, times in {zone}"]
    if deal is not None:
        lines += [f"  {name:<8} {value}" for name, value in (
            ("deal", deal.id), ("stage", deal.stage or "—"), ("source", deal.source or "—"),
            ("owner", deal.owner or "—"), ("manager", deal.manager or "—"))]
        if deal.fields:
            lines.append("  fields   " + ", ".join(f"{k}={v}" for k, v in
                                                   sorted(deal.fields.items())))
        if deal.whole_days:
            lines.append("  dates    whole days (date-only columns)")
        lines += ["", "timeline"]
        history = deal.history
        if deal.undated_start is not None and (not history or
                                               history[0].stage != deal.undated_start):
            lines.append(f"  {'(no date)':<16}  {deal.undated_start}  (undated start)")
        width = max([len(s) for s in deal.first_stages()] or [0])
        for i, entry in enumerate(history):
            end = history[i + 1].at if i + 1 < len(history) else now
            seconds = (civil_seconds(entry.at, end, zone) if deal.whole_days
                       else (end - entry.at).total_seconds())
            note = "" if entry.stage in compiled.graph.terminal else \
                f"  {_span(seconds)}" + ("" if i + 1 < len(history) else " so far")
            override = f"  (forced: {entry.override})" if entry.override is not None else ""
            lines.append(f"  {when(entry.at)}  {entry.stage:<{width}}{note}{override}")
        for task in deal.tasks:
            due = when(task.due) if task.due else "no due time"
            lines.append(f"  task {task.id}: due {due}, {'done' if task.done else 'open'}")
        lines += [f"  event {e.type} at {when(e.at)}" for e in deal.events]
        lines += [f"  paused {when(p.start)} – {when(p.end) if p.end else 'now'}: {p.reason}"
                  for p in deal.pauses]
    count = len(findings)
    lines += ["", f"findings at {when(now)} ({count})" if count else
              f"no findings at {when(now)}"]
    for finding in findings:
        to = finding.details.get("recipient")
        lines.append(f"  {when(finding.at)}  {finding.kind:<9}  {finding.code}"
                     f"{'  ' + finding.rule if finding.rule else ''}"
                     f"{' -> ' + str(to) if to else ''}: {finding.message}")
    return "\n".join(line.rstrip() for line in lines) + "\n"
