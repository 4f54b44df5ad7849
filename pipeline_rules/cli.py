"""The ``pipeline-rules`` command line: a thin layer of I/O over the library.

Exit codes: 0 clean, 1 findings (lint errors, or warnings with ``--strict``), 2 usage or I/O
error. Heavy modules are imported inside the commands that need them, so ``--help`` and the
fast paths start quickly.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NoReturn

import click

from pipeline_rules import __version__, i18n

if TYPE_CHECKING:
    from pipeline_rules.deals.model import Deal
    from pipeline_rules.evaluate import Evaluator
    from pipeline_rules.evaluate.batch import Totals
    from pipeline_rules.evaluate.dask import PartitionReport
    from pipeline_rules.evaluate.tenants import Tenants
    from pipeline_rules.lint import LintConfig
    from pipeline_rules.ruleset.compiled import CompiledRuleset
    from pipeline_rules.time.durations import Duration

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2

_LANG = click.Choice(list(i18n.LANGUAGES))


def _fail(message: str) -> NoReturn:
    click.echo(f"pipeline-rules: error: {message}", err=True)
    sys.exit(EXIT_USAGE)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pipeline-rules")
def main() -> None:
    """Lint, enforce and evaluate sales-pipeline regulations written in YAML."""


@main.command("lint")
@click.argument("paths", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif", "github"]),
              default="text", show_default=True, help="Output format.")
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="A YAML file with a 'lint:' block (rules, gap_vocabulary).")
@click.option("--lang", type=_LANG, default=None, help="Message language (default: from locale).")
@click.option("--color", type=click.Choice(["auto", "always", "never"]), default="auto",
              show_default=True, help="Colour the text output.")
@click.option("--no-source", is_flag=True, help="Text format: do not show source lines.")
def lint_command(paths: tuple[str, ...], fmt: str, strict: bool, config_file: str | None,
                 lang: str | None, color: str, no_source: bool) -> None:
    """Check the design of rulesets (files, directories of *.yaml, or - for stdin)."""
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
        _fail(str(err))
    diagnostics = []
    with paused():  # a short single-threaded process: the collector's passes only cost time
        for file in files:
            try:
                diagnostics.extend(lint_file(file, config, language))
            except ReadError as err:
                _fail(str(err))
            except ConfigError as err:
                _fail(str(err))
    report = LintReport(diagnostics, ["<stdin>" if f == "-" else f for f in files])
    if fmt == "text":
        use_color = color == "always" or (color == "auto" and sys.stdout.isatty())
        click.echo(text(report, color=use_color, show_source=not no_source), nl=False,
                   color=use_color)
        click.echo(summary(report), err=True)
    else:
        click.echo(FORMATS[fmt](report), nl=False)
    counts = report.counts()
    failed = counts["error"] > 0 or (strict and counts["warning"] > 0)
    sys.exit(EXIT_FINDINGS if failed else EXIT_OK)


def _read_config(path: str) -> LintConfig:
    from pipeline_rules.lint import ConfigError
    from pipeline_rules.lint.config import config_from_mapping
    from pipeline_rules.ruleset.loader import ReadError, load_document, read_source
    from pipeline_rules.ruleset.problems import DocumentError

    try:
        document = load_document(read_source(path))
    except ReadError as err:
        _fail(str(err))
    except DocumentError as err:
        pos = err.problem.position
        where = f"{path}:{pos.line}:{pos.column}" if pos else path
        _fail(f"{where}: {i18n.render(err.problem.message, err.problem.args)}")
    data = document.data
    block = data.get("lint", data) if isinstance(data, dict) else data
    try:
        return config_from_mapping(block, path)
    except ConfigError as err:
        _fail(str(err))


@main.command("rules")
@click.argument("name", required=False)
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]),
              default="text", show_default=True)
def rules_command(name: str | None, fmt: str) -> None:
    """List every lint rule, or explain one."""
    import json

    from pipeline_rules.lint import all_rules
    from pipeline_rules.suggest import nearest

    rules = all_rules()
    if name is None:
        if fmt == "json":
            click.echo(json.dumps([{"name": r.name, "severity": r.severity.value,
                                    "family": r.family, "summary": r.summary}
                                   for r in rules.values()], indent=2))
            return
        width = max(len(r) for r in rules)
        for rule in rules.values():
            click.echo(f"{rule.name:<{width}}  {rule.severity.value:<7}  {rule.summary}")
        return
    if name not in rules:
        suggestion = nearest(name, rules)
        hint = f" (did you mean '{suggestion}'?)" if suggestion else ""
        _fail(f"no rule '{name}'{hint}; 'pipeline-rules rules' lists them")
    rule = rules[name]
    if fmt == "json":
        click.echo(json.dumps({"name": rule.name, "severity": rule.severity.value,
                               "family": rule.family, "doc": rule.doc}, indent=2,
                              ensure_ascii=False))
        return
    click.echo(f"{rule.name} ({rule.severity.value}, {rule.family})\n")
    click.echo(rule.doc)


@main.command("schema")
@click.argument("name", type=click.Choice(["ruleset", "deal", "finding", "mapping"]))
def schema_command(name: str) -> None:
    """Print a JSON Schema (for editors and other tools)."""
    from pipeline_rules.ruleset.schema import schema_text

    click.echo(schema_text(name), nl=False)


def _compiled(path: str, lang: str) -> CompiledRuleset:
    """Load and compile a ruleset for use, or explain on stderr why not and exit 2."""
    from pipeline_rules.outputs.lint import LintReport, text
    from pipeline_rules.ruleset.catalog import RulesetError, compile_path
    from pipeline_rules.ruleset.loader import ReadError

    try:
        return compile_path(path, lang)
    except ReadError as err:
        _fail(str(err))
    except RulesetError as err:
        click.echo(text(LintReport(err.diagnostics, [path])), err=True, nl=False)
        _fail(f"{path}: the ruleset has errors; see above, or run 'pipeline-rules lint {path}'")


def _read_deal(path: str, compiled: CompiledRuleset) -> Deal:
    """Read one deal (a JSON object) from a file or stdin, or explain and exit 2."""
    import json

    from pipeline_rules.deals.model import DealError, parse_deal
    from pipeline_rules.ruleset.loader import ReadError, read_source
    from pipeline_rules.ruleset.problems import DocumentError

    try:
        source = read_source(path)
    except (ReadError, DocumentError) as err:
        detail = str(err) if isinstance(err, ReadError) else i18n.render(
            err.problem.message, err.problem.args)
        _fail(f"{path}: {detail}")
    try:
        data = json.loads(source.text)
    except json.JSONDecodeError as err:
        _fail(f"{source.name}:{err.lineno}:{err.colno}: malformed JSON: {err.msg}")
    try:
        return parse_deal(data, compiled.zone)
    except DealError as err:
        _fail(f"{source.name}: bad deal record at {err.path or '/'}: {err.message}")


@main.command("check")
@click.argument("ruleset", type=click.Path(dir_okay=False))
@click.option("--deal", "deal_file", required=True,
              help="A JSON file with one deal (schemas/deal.schema.json), or - for stdin.")
@click.option("--to", "target", required=True, help="The stage the deal should move to.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--lang", type=_LANG, default=None, help="Message language (default: from locale).")
def check_command(ruleset: str, deal_file: str, target: str, fmt: str,
                  lang: str | None) -> None:
    """May this deal move to that stage? Exit 0 allowed, 1 rejected, 2 usage error."""
    import json

    from pipeline_rules.enforce.machine import PipelineMachine

    language = lang or i18n.detect()
    compiled = _compiled(ruleset, language)
    deal = _read_deal(deal_file, compiled)
    decision = PipelineMachine(compiled).check(deal, target)
    if fmt == "json":
        click.echo(json.dumps(decision.to_dict(language), ensure_ascii=False, indent=2))
    else:
        verdict = "allowed" if decision.allowed else "rejected"
        click.echo(f"{verdict}: {deal.id} {decision.from_stage or '(new deal)'} -> {target}")
        for reason in decision.reasons:
            click.echo(f"  - [{reason.code}] {reason.message(language)}")
    sys.exit(EXIT_OK if decision.allowed else EXIT_FINDINGS)


@main.command("graph")
@click.argument("ruleset", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot"]), default="mermaid",
              show_default=True)
def graph_command(ruleset: str, fmt: str) -> None:
    """Draw the pipeline as a Mermaid flowchart or a Graphviz DOT graph."""
    from pipeline_rules.enforce.diagram import FORMATS

    click.echo(FORMATS[fmt](_compiled(ruleset, i18n.detect())), nl=False)


def _parse_now(value: str | None, compiled: CompiledRuleset, option: str = "--now") -> datetime:
    from pipeline_rules.deals.model import DealError, parse_time

    if value is None:
        return datetime.now(compiled.zone)
    try:
        return parse_time(value, compiled.zone, option)
    except DealError as err:
        raise click.BadParameter(err.message, param_hint=option) from None


def _load_for_workers(path: str, lang: str, horizon_seconds: float) -> Evaluator:
    """Build an evaluator from a ruleset path (picklable: workers call it to start)."""
    from datetime import timedelta

    from pipeline_rules.evaluate import Evaluator
    from pipeline_rules.ruleset.catalog import compile_path

    return Evaluator(compile_path(path, lang), lang, timedelta(seconds=horizon_seconds))


@main.command("evaluate")
@click.argument("ruleset", type=click.Path())
@click.argument("deals")
@click.option("--now", "now_text", default=None,
              help="Evaluation time, ISO 8601 (default: now). Without an offset: the ruleset's "
                   "time zone.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "json", "table"]), default=None,
              help="Output format (default: table on a terminal, jsonl otherwise).")
@click.option("--input-format",
              type=click.Choice(["auto", "jsonl", "json", "csv", "parquet"]), default="auto",
              show_default=True,
              help="Format of DEALS (auto: by extension; a directory is a Parquet dataset).")
@click.option("--mapping", type=click.Path(dir_okay=False),
              help="Mapping file for CSV input (change log or wide table; docs/input.md).")
@click.option("--horizon", default="0m", show_default=True,
              help="Without a schedule: emit reminders due within this time from now.")
@click.option("--jobs", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Worker processes (output is identical to --jobs 1); with --engine dask "
                   "and no --scheduler, the workers of the local cluster.")
@click.option("--lang", type=_LANG, default=None, help="Message language (default: from locale).")
@click.option("--strict", is_flag=True, help="Exit 1 at the end if any record was bad.")
@click.option("--output", "output_path", default=None,
              help="Write findings to FILE (.parquet or .jsonl, by extension) instead of "
                   "stdout; with --engine dask, a directory (one Parquet file per partition).")
@click.option("--ruleset-key", default="ruleset", show_default=True,
              help="With a RULESET directory: the deal key (or deal field) naming its ruleset.")
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local",
              show_default=True, help="dask: evaluate the partitions of a Parquet dataset on "
                                      "Dask workers (docs/scale.md).")
@click.option("--scheduler", default=None,
              help="--engine dask: the scheduler's address (default: a local cluster).")
@click.option("--resume", is_flag=True,
              help="--engine dask: skip partitions whose findings file already exists.")
def evaluate_command(ruleset: str, deals: str, now_text: str | None, fmt: str | None,
                     input_format: str, mapping: str | None, horizon: str, jobs: int,
                     lang: str | None, strict: bool, output_path: str | None,
                     ruleset_key: str, engine: str, scheduler: str | None,
                     resume: bool) -> None:
    """Evaluate deals (JSONL, JSON, CSV or Parquet; - for stdin) into violations and actions.

    RULESET is a ruleset file, or a directory of them: each deal is then judged by the
    ruleset its 'ruleset' key names.
    """
    from functools import partial
    from pathlib import Path

    from pipeline_rules.deals.readers import InputError, read_batches
    from pipeline_rules.evaluate.batch import Totals, run_records
    from pipeline_rules.ruleset.loader import ReadError

    language = lang or i18n.detect()
    options = _ScaleOptions(output_path, ruleset_key, engine, scheduler, resume, jobs)
    if Path(ruleset).is_dir() or _parquet_input(deals, input_format) or options.chosen():
        _evaluate_tenants(ruleset, deals, now_text, fmt, input_format, mapping, horizon,
                          language, strict, options)
        return
    compiled = _compiled(ruleset, language)
    now = _parse_now(now_text, compiled)
    lead = _horizon(horizon)
    try:
        batches = read_batches(deals, input_format, mapping, compiled.zone)
    except (InputError, ReadError) as err:
        _fail(str(err))
    output = _output_format(fmt)
    totals = Totals()
    factory = partial(_load_for_workers, ruleset, language, float(lead.amount))
    show = _progress() if sys.stderr.isatty() else None
    try:
        chunks = run_records(factory, batches, now, jobs, totals, show)
        _write(chunks, output, language)
    except (ReadError, InputError) as err:
        _fail(str(err))
    _finish(totals, show, strict)


def _output_format(fmt: str | None) -> str:
    """The --format given, else a table for a terminal and JSON lines for a pipe."""
    return fmt or ("table" if sys.stdout.isatty() else "jsonl")


def _finish(totals: Totals, show: Callable[[int], None] | None, strict: bool) -> NoReturn:
    """Clear the progress line, print the summary and exit (non-zero on bad records if --strict)."""
    if show is not None:
        click.echo("\r\033[K", err=True, nl=False)
    click.echo(_summary(totals), err=True)
    sys.exit(EXIT_FINDINGS if strict and totals.codes["bad-record"] else EXIT_OK)


def _horizon(text: str) -> Duration:
    """The --horizon option as a wall-clock duration, or a usage error."""
    from pipeline_rules.time.durations import DurationError, parse_duration

    try:
        lead = parse_duration(text)
    except DurationError as err:
        raise click.BadParameter(str(err), param_hint="--horizon") from None
    if lead.is_business:
        raise click.BadParameter("use wall-clock time, e.g. 2h", param_hint="--horizon")
    return lead


@dataclass(frozen=True)
class _ScaleOptions:
    """The evaluate options for many rulesets, columnar output and Dask."""

    output: str | None
    ruleset_key: str
    engine: str
    scheduler: str | None
    resume: bool
    jobs: int

    def chosen(self) -> bool:
        """Whether any of them asks for more than the single-ruleset stream to stdout."""
        return self.output is not None or self.engine != "local" or \
            self.scheduler is not None or self.resume


def _parquet_input(deals: str, input_format: str) -> bool:
    """Whether DEALS is Parquet: by the option, or by a .parquet name or a directory."""
    from pathlib import Path

    if input_format != "auto":
        return input_format == "parquet"
    return deals != "-" and (deals.lower().endswith(".parquet") or Path(deals).is_dir())


def _extra(module: str, extra: str) -> None:
    """Exit 2 naming the extra to install when an optional dependency is missing."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        _fail(f"this needs the '{extra}' extra ({module} is missing): "
              f"pip install 'pipeline-rules[{extra}]'")


def _load_tenants(ruleset: str, language: str, lead: Duration, key: str,
                  now_text: str | None) -> tuple[Tenants, datetime]:
    """The rulesets of a run (a file, or a directory whose unusable files are listed on
    stderr) and the evaluation time (offsetless: the ruleset's zone, or UTC for many)."""
    from datetime import UTC, timedelta
    from pathlib import Path

    from pipeline_rules.deals.model import DealError, parse_time
    from pipeline_rules.evaluate.tenants import TenantsError, load_directory, load_file

    horizon = timedelta(seconds=lead.amount)
    if Path(ruleset).is_dir():
        try:
            tenants = load_directory(ruleset, language, horizon, key)
        except TenantsError as err:
            _fail(str(err))
        for problem in tenants.problems:
            click.echo(f"pipeline-rules: warning: {problem.file} is not used: "
                       f"{problem.reason}", err=True)
        zone: Any = UTC
    else:
        compiled = _compiled(ruleset, language)  # explains a broken file and exits 2
        tenants = load_file(ruleset, language, horizon)
        zone = compiled.zone
    if now_text is None:
        return tenants, datetime.now(zone)
    try:
        return tenants, parse_time(now_text, zone, "--now")
    except DealError as err:
        raise click.BadParameter(err.message, param_hint="--now") from None


def _evaluate_tenants(ruleset: str, deals: str, now_text: str | None, fmt: str | None,
                      input_format: str, mapping: str | None, horizon: str, language: str,
                      strict: bool, options: _ScaleOptions) -> None:
    """evaluate with a ruleset directory, Parquet, --output or Dask (docs/scale.md)."""
    from zoneinfo import ZoneInfo

    from pipeline_rules.deals.readers import InputError, read_records
    from pipeline_rules.evaluate.batch import Totals
    from pipeline_rules.evaluate.partition import run_tenants
    from pipeline_rules.ruleset.loader import ReadError

    parquet = _parquet_input(deals, input_format)
    if options.engine == "local" and (options.scheduler or options.resume):
        raise click.UsageError("--scheduler and --resume go with --engine dask")
    if options.output is not None and fmt is not None:
        raise click.UsageError("--format is for stdout; --output picks the format by its "
                               "extension (.parquet or .jsonl)")
    if parquet or (options.output or "").endswith(".parquet") or options.engine == "dask":
        _extra("pyarrow", "parquet")
    lead = _horizon(horizon)
    tenants, now = _load_tenants(ruleset, language, lead, options.ruleset_key, now_text)
    totals = Totals()
    if options.engine == "dask":
        failed = _evaluate_dask(tenants, deals, now, parquet, options, totals)
        click.echo(_summary(totals), err=True)
        if failed:
            sys.exit(EXIT_USAGE)
        sys.exit(EXIT_FINDINGS if strict and totals.codes["bad-record"] else EXIT_OK)
    show = _progress() if sys.stderr.isatty() else None
    try:
        if parquet:
            from pipeline_rules.deals.readers.parquet import read_parquet

            records: Iterator[Any] = read_parquet(deals, options.ruleset_key)
        else:
            # Many rulesets, many zones: a CSV mapping without 'timezone' reads times as UTC.
            zone = next(iter(tenants.evaluators.values())).compiled.zone \
                if tenants.single and tenants.evaluators else ZoneInfo("UTC")
            records = read_records(deals, input_format, mapping, zone, raw=True)
        findings = run_tenants(tenants, records, now, options.jobs, totals, show)
        if options.output is None:
            _write((line + b"\n" for _, line in findings), _output_format(fmt), language)
        else:
            _write_findings_file(findings, options.output, totals)
    except (ReadError, InputError) as err:
        _fail(str(err))
    _finish(totals, show, strict)


def _write_findings_file(findings: Iterator[tuple[str, bytes]], path: str,
                         totals: Totals) -> None:
    """Findings into a .parquet file (written atomically) or a .jsonl file."""
    if path.lower().endswith(".parquet"):
        from pipeline_rules.deals.readers.parquet import FindingsWriter, atomic_output

        with atomic_output(path) as temporary:
            writer = FindingsWriter(temporary)
            try:
                for origin, line in findings:
                    writer.write(origin, line)
                writer.records = totals.records  # the stream is spent: the count is final
            finally:
                writer.close()
        return
    if not path.lower().endswith((".jsonl", ".ndjson")):
        raise click.BadParameter("name a .parquet or .jsonl file", param_hint="--output")
    try:
        with open(path, "wb") as out:
            for _, line in findings:
                out.write(line + b"\n")
    except OSError as err:
        _fail(f"{path}: {err.strerror or err}")


def _evaluate_dask(tenants: Tenants, deals: str, now: datetime, parquet: bool,
                   options: _ScaleOptions, totals: Totals) -> bool:
    """Run the partitions of a Parquet dataset on Dask; True if some partition failed."""
    _extra("distributed", "dask")
    from pipeline_rules.deals.readers import InputError
    from pipeline_rules.evaluate.dask import run_dask

    if not parquet:
        raise click.UsageError("--engine dask reads a Parquet dataset (a directory of "
                               ".parquet files, or one file)")
    if options.output is None or options.output.lower().endswith((".parquet", ".jsonl")):
        raise click.UsageError("--engine dask writes a findings file per partition: give "
                               "--output DIRECTORY")
    skipped = 0

    def done(report: PartitionReport) -> None:
        nonlocal skipped
        totals.records += report.records
        totals.codes.update(dict(report.codes))
        skipped += report.skipped
        if sys.stderr.isatty():
            click.echo(f"\r\033[K{report.target}: {report.records:,} records, "
                       f"{report.findings:,} findings", err=True, nl=False)

    try:
        result = run_dask(deals, options.output, tenants, now, options.scheduler,
                          options.jobs, options.resume, done)
    except InputError as err:
        _fail(str(err))
    except OSError as err:  # the scheduler cannot be reached
        _fail(f"{options.scheduler}: {err}")
    if sys.stderr.isatty():
        click.echo("\r\033[K", err=True, nl=False)
    if skipped:
        click.echo(f"{skipped} partitions already done (--resume)", err=True)
    for failure in result.failures:
        click.echo(f"pipeline-rules: error: {failure.source}: {failure.error}", err=True)
    if result.failures:
        click.echo(f"{len(result.failures)} partitions failed; run again with --resume to "
                   "evaluate only those", err=True)
    return bool(result.failures)


def _progress() -> Callable[[int], None]:
    """A counter on stderr, refreshed at most five times a second."""
    import time

    last = [0.0]

    def show(done: int) -> None:
        moment = time.monotonic()
        if moment - last[0] >= 0.2:
            last[0] = moment
            click.echo(f"\revaluated {done:,} records", err=True, nl=False)

    return show


def _write(chunks: Iterator[bytes], output: str, lang: str) -> None:
    """Findings out: ``chunks`` are newline-terminated JSON lines, a batch's at a time."""
    out = sys.stdout.buffer
    if output == "jsonl":
        for chunk in chunks:
            if chunk:
                out.write(chunk)
        out.flush()
        return
    lines = (line for chunk in chunks for line in chunk.splitlines())
    if output == "json":
        out.write(b"[")
        for i, line in enumerate(lines):
            out.write((b"\n  " if i == 0 else b",\n  ") + line)
        out.write(b"\n]\n")
    else:
        import orjson

        rows = [orjson.loads(line) for line in lines]
        click.echo(_table(rows))
        sys.stdout.flush()
    out.flush()


def _table(rows: list[dict[str, object]]) -> str:
    """Findings as an aligned text table for people."""
    headers = ("deal", "kind", "code", "rule", "at", "notify", "message")
    cells = [[str(r.get(h) or "") if h != "at" else str(r.get("at", ""))[:16].replace("T", " ")
              for h in headers] for r in rows]
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(headers[:-1])]
    def line(values: list[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=False)) + \
            "  " + values[-1]
    return "\n".join([line(list(headers)), *(line(c) for c in cells)]) if rows \
        else "no findings"


def _summary(totals: Totals) -> str:
    from pipeline_rules.evaluate.findings import VIOLATION_CODES

    violations = {c: n for c, n in totals.codes.items() if c in VIOLATION_CODES}
    actions = {c: n for c, n in totals.codes.items() if c not in VIOLATION_CODES}
    def part(counts: dict[str, int]) -> str:
        return ", ".join(f"{code} {count}" for code, count in sorted(counts.items()))
    def count(n: int, noun: str) -> str:
        return f"{n:,} {noun}{'' if n == 1 else 's'}"
    return (f"{count(totals.records, 'record')}: {count(sum(violations.values()), 'violation')}"
            f"{' (' + part(violations) + ')' if violations else ''}, "
            f"{count(sum(actions.values()), 'action')}"
            f"{' (' + part(actions) + ')' if actions else ''}")


def _input_options(command: Callable[..., None]) -> Callable[..., None]:
    """The options every command that reads deals takes."""
    for option in reversed([
        click.option("--input-format", type=click.Choice(["auto", "jsonl", "json", "csv"]),
                     default="auto", show_default=True,
                     help="Format of DEALS (auto: by extension)."),
        click.option("--mapping", type=click.Path(dir_okay=False),
                     help="Mapping file for CSV input (change log or wide table; "
                          "docs/input.md)."),
    ]):
        command = option(command)
    return command


def _records(deals: str, input_format: str, mapping: str | None,
             compiled: CompiledRuleset) -> Iterator[Any]:
    from pipeline_rules.deals.readers import InputError, read_records
    from pipeline_rules.ruleset.loader import ReadError

    try:
        yield from read_records(deals, input_format, mapping, compiled.zone, raw=True)
    except (InputError, ReadError) as err:
        _fail(str(err))


def _show(fmt: str, as_dict: Callable[[], dict[str, Any]], as_text: Callable[[], str],
          html_file: str | None, page: Callable[[Callable[..., str]], str]) -> None:
    """An analysis or backtest out: JSON or text on stdout, and the HTML page if asked."""
    import json

    if fmt == "json":
        click.echo(json.dumps(as_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(as_text(), nl=False)
    if html_file:
        from pipeline_rules.outputs.html import render_html

        _write_html(html_file, page(render_html))


def _write_html(path: str, page: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as out:
            out.write(page)
    except OSError as err:
        _fail(f"{path}: {err.strerror or err}")
    click.echo(f"wrote {path}", err=True)


@main.command("analyze")
@click.argument("ruleset", type=click.Path(dir_okay=False))
@click.argument("deals")
@_input_options
@click.option("--now", "now_text", default=None,
              help="The moment open deals are measured to (default: now).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--html", "html_file", type=click.Path(dir_okay=False),
              help="Also write a self-contained HTML report with charts here.")
def analyze_command(ruleset: str, deals: str, input_format: str, mapping: str | None,
                    now_text: str | None, fmt: str, html_file: str | None) -> None:
    """Where deals stall, how long stages take, what SLA limits fit."""

    from pipeline_rules.analytics import analyze
    from pipeline_rules.outputs.text import render_report

    compiled = _compiled(ruleset, i18n.detect())
    now = _parse_now(now_text, compiled)
    report = analyze(compiled, _records(deals, input_format, mapping, compiled), now)
    _show(fmt, report.to_dict, lambda: render_report(report), html_file,
          lambda render: render(report, None, compiled))


@main.command("backtest")
@click.argument("ruleset", type=click.Path(dir_okay=False))
@click.argument("deals")
@_input_options
@click.option("--from", "start_text", required=True, help="First evaluation time (ISO 8601).")
@click.option("--to", "end_text", required=True, help="Last evaluation time (ISO 8601).")
@click.option("--every", default="1d", show_default=True, help="Time between evaluations.")
@click.option("--compare", "other", type=click.Path(dir_okay=False),
              help="Another ruleset: show which alerts the change adds or removes.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--html", "html_file", type=click.Path(dir_okay=False),
              help="Also write a self-contained HTML report with charts here.")
def backtest_command(ruleset: str, deals: str, input_format: str, mapping: str | None,
                     start_text: str, end_text: str, every: str, other: str | None, fmt: str,
                     html_file: str | None) -> None:
    """What the regulation would have raised over a past period, as deals stood then."""
    from datetime import timedelta

    from pipeline_rules.analytics.backtest import backtest
    from pipeline_rules.outputs.text import render_backtest
    from pipeline_rules.time.durations import DurationError, parse_duration

    language = i18n.detect()
    compiled = _compiled(ruleset, language)
    start = _parse_now(start_text, compiled, "--from")
    end = _parse_now(end_text, compiled, "--to")
    try:
        step = parse_duration(every)
    except DurationError as err:
        raise click.BadParameter(str(err), param_hint="--every") from None
    if step.is_business or step.amount <= 0:
        raise click.BadParameter("use a positive wall-clock time, e.g. 1d", param_hint="--every")
    if end < start:
        raise click.BadParameter("the period ends before it starts", param_hint="--to")
    compared = _compiled(other, language) if other else None
    result = backtest(compiled, _records(deals, input_format, mapping, compiled), start, end,
                      timedelta(seconds=step.amount), compared)
    _show(fmt, result.to_dict, lambda: render_backtest(result), html_file,
          lambda render: render(None, result, compiled))


@main.command("serve")
@click.argument("ruleset_dir")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0: every interface).")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option("--token-file", type=click.Path(dir_okay=False),
              help="A file holding the bearer token every /v1 call must carry.")
@click.option("--max-body", default="10MB", show_default=True,
              help="Largest request body (B, KB, MB, GB; binary units).")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Server processes.")
def serve_command(ruleset_dir: str, host: str, port: int, token_file: str | None,
                  max_body: str, workers: int) -> None:
    """Serve the *.yaml rulesets of a directory over HTTP (docs/integrations.md)."""
    try:
        from pipeline_rules.server import Settings, SettingsError, serve
        from pipeline_rules.server.settings import check_directory, parse_size, read_token
    except ModuleNotFoundError as err:
        _fail(f"the HTTP service needs the 'server' extra ({err.name} is missing): "
              "pip install 'pipeline-rules[server]'")
    try:
        if token_file is not None:
            read_token(token_file)
        settings = Settings(check_directory(ruleset_dir), host, port, token_file,
                            parse_size(max_body), workers)
    except SettingsError as err:
        _fail(str(err))
    serve(settings)


def run() -> None:
    """Entry point that never shows a traceback for a broken pipe."""
    try:
        main()
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(EXIT_OK)


if __name__ == "__main__":  # pragma: no cover
    run()

__all__ = ["main", "run"]
