"""``pipeline-rules evaluate``: deals in, violations and actions out (one ruleset or a directory of
them; JSON Lines, JSON, CSV or Parquet; in this process, a pool of processes or on Dask)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NoReturn

import click

from pipeline_rules import i18n
from pipeline_rules.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_USAGE,
    LANG,
    fail,
    load_rulesets,
    need_extra,
    parse_now_option,
)

if TYPE_CHECKING:
    from pipeline_rules.evaluate import Evaluator
    from pipeline_rules.evaluate.batch import Totals
    from pipeline_rules.evaluate.dask import PartitionReport
    from pipeline_rules.evaluate.tenants import Tenants
    from pipeline_rules.time.durations import Duration


def _only_evaluator(tenants: Tenants) -> Evaluator:
    """The evaluator of a one-ruleset run (picklable with its tenants: workers call it)."""
    return next(iter(tenants.evaluators.values()))


@click.command("evaluate")

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

@click.option("--lang", type=LANG, default=None, help="Message language (default: from locale).")

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
    from datetime import timedelta
    from functools import partial
    from pathlib import Path

    from pipeline_rules.deals.readers import InputError, read_batches
    from pipeline_rules.evaluate.batch import Totals, run_records
    from pipeline_rules.evaluate.tenants import Tenants
    from pipeline_rules.outputs.findings import write_findings
    from pipeline_rules.ruleset.loader import ReadError

    language = lang or i18n.detect()
    options = _ScaleOptions(output_path, ruleset_key, engine, scheduler, resume, jobs)
    if Path(ruleset).is_dir() or _parquet_input(deals, input_format) or options.chosen():
        _evaluate_tenants(ruleset, deals, now_text, fmt, input_format, mapping, horizon,
                          language, strict, options)
        return
    catalog = load_rulesets(ruleset, language)
    compiled = catalog.only()
    now = parse_now_option(now_text, compiled)
    lead = _horizon(horizon)
    tenants = Tenants.of(catalog, timedelta(seconds=lead.amount))
    try:
        batches = read_batches(deals, input_format, mapping, compiled.zone)
    except (InputError, ReadError) as err:
        fail(str(err))
    output = _output_format(fmt)
    totals = Totals()
    factory = partial(_only_evaluator, tenants)
    show = _progress() if sys.stderr.isatty() else None
    try:
        chunks = run_records(factory, batches, now, jobs, totals, show)
        write_findings(chunks, output, sys.stdout.buffer)
    except (ReadError, InputError) as err:
        fail(str(err))
    _finish(totals, show, strict)


def _output_format(fmt: str | None) -> str:
    """The --format given, else a table for a terminal and JSON lines for a pipe."""
    return fmt or ("table" if sys.stdout.isatty() else "jsonl")


def _finish(totals: Totals, show: Callable[[int], None] | None, strict: bool) -> NoReturn:
    """Clear the progress line, print the summary and exit (non-zero on bad records if --strict)."""
    from pipeline_rules.outputs.findings import summary

    if show is not None:
        click.echo("\r\033[K", err=True, nl=False)
    click.echo(summary(totals), err=True)
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


def _load_tenants(ruleset: str, language: str, lead: Duration, key: str,
                  now_text: str | None) -> tuple[Tenants, datetime]:
    """The rulesets of a run (a file, or a directory whose unusable files are listed on
    stderr) and the evaluation time (offsetless: the ruleset's zone, or UTC for many)."""
    from datetime import UTC, timedelta

    from pipeline_rules.deals.model import DealError, parse_time
    from pipeline_rules.evaluate.tenants import Tenants

    catalog = load_rulesets(ruleset, language)
    tenants = Tenants.of(catalog, timedelta(seconds=lead.amount), key)
    if catalog.single:
        zone: Any = catalog.only().zone
    else:
        for problem in tenants.problems:
            click.echo(f"pipeline-rules: warning: {problem.file} is not used: "
                       f"{problem.reason}", err=True)
        zone = UTC
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
    from pipeline_rules.outputs.findings import summary, write_findings
    from pipeline_rules.ruleset.loader import ReadError

    parquet = _parquet_input(deals, input_format)
    if options.engine == "local" and (options.scheduler or options.resume):
        raise click.UsageError("--scheduler and --resume go with --engine dask")
    if options.output is not None and fmt is not None:
        raise click.UsageError("--format is for stdout; --output picks the format by its "
                               "extension (.parquet or .jsonl)")
    if parquet or (options.output or "").endswith(".parquet") or options.engine == "dask":
        need_extra("pyarrow", "parquet")
    lead = _horizon(horizon)
    tenants, now = _load_tenants(ruleset, language, lead, options.ruleset_key, now_text)
    totals = Totals()
    if options.engine == "dask":
        failed = _evaluate_dask(tenants, deals, now, parquet, options, totals)
        click.echo(summary(totals), err=True)
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
            write_findings((line + b"\n" for _, line in findings), _output_format(fmt),
                           sys.stdout.buffer)
        else:
            _write_findings_file(findings, options.output, totals)
    except (ReadError, InputError) as err:
        fail(str(err))
    _finish(totals, show, strict)


def _write_findings_file(findings: Iterator[tuple[str, bytes]], path: str,
                         totals: Totals) -> None:
    """Findings into a .parquet file (written atomically) or a .jsonl file."""
    if path.lower().endswith(".parquet"):
        from pipeline_rules.outputs.parquet import FindingsWriter, atomic_output

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
        fail(f"{path}: {err.strerror or err}")


def _evaluate_dask(tenants: Tenants, deals: str, now: datetime, parquet: bool,
                   options: _ScaleOptions, totals: Totals) -> bool:
    """Run the partitions of a Parquet dataset on Dask; True if some partition failed."""
    need_extra("distributed", "dask")
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
        fail(str(err))
    except OSError as err:  # the scheduler cannot be reached
        fail(f"{options.scheduler}: {err}")
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

