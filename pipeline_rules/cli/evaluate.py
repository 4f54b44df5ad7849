"""``pipeline-rules evaluate``: deals in, violations and actions out (one ruleset or a directory of
them; JSON Lines, JSON, CSV or Parquet; in this process, a pool of processes or on Dask).

One path for every combination: the rulesets are a catalog (a file is a catalog of one), the
deals a stream of batches, and the engine's one driver judges them with the executor the
options name (``--jobs``, ``--engine dask``) and hands the findings to the output asked for.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, NoReturn

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
    now_option,
    show_notes,
)

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from pipeline_rules.evaluate.dask import PartitionReport
    from pipeline_rules.evaluate.engine import Batch, Settled, Totals
    from pipeline_rules.evaluate.judge import Judge
    from pipeline_rules.time.durations import Duration


@click.command("evaluate")

@click.argument("ruleset", type=click.Path())

@click.argument("deals")

@click.option("--now", "now_text", default=None,
              help="Evaluation time, ISO 8601 (default: now). Without an offset: the ruleset's "
                   "time zone.")

@click.option("--format", "fmt", type=click.Choice(["jsonl", "json", "table", "csv"]),
              default=None,
              help="Output format (default: table on a terminal, jsonl otherwise; csv: one row "
                   "a finding, docs/evaluate.md).")

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
              help="Write findings to FILE (.parquet, .jsonl, .json or .txt, by extension) "
                   "instead of stdout, complete or not at all; with --engine dask, a directory "
                   "(one Parquet file per partition).")

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
    from datetime import UTC, timedelta
    from zoneinfo import ZoneInfo

    from pipeline_rules.deals.readers import InputError
    from pipeline_rules.evaluate.engine import Totals, evaluate_stream
    from pipeline_rules.evaluate.judge import Judge, runnable
    from pipeline_rules.ruleset.loader import ReadError

    language = lang or i18n.detect()
    parquet = _parquet_input(deals, input_format)
    _check_options(fmt, output_path, engine, scheduler, resume, parquet)
    lead = _horizon(horizon)
    catalog = load_rulesets(ruleset, language)
    # Many rulesets, many zones: with a directory, times without an offset are UTC.
    zone = catalog.only().zone if catalog.single else ZoneInfo("UTC")
    now = now_option(now_text, zone if catalog.single else UTC)
    catalog = runnable(catalog, now)  # a schedule with no run after now: unusable, with why
    if catalog.single and not catalog.rulesets:
        fail(catalog.problems[-1].reason)
    for problem in catalog.problems:  # a directory's files that cannot be used
        click.echo(i18n.render("cli.warning", {"message": i18n.Message("evaluate.not-used", {
            "file": problem.file, "reason": problem.reason})}, language), err=True)
    judge = Judge.of(catalog, timedelta(seconds=lead.amount), ruleset_key)
    totals = Totals()
    if engine == "dask":
        failed = _evaluate_dask(judge, deals, now, language, parquet, output_path, scheduler,
                                jobs, resume, totals)
        _finish(totals, None, strict, language, failed)
    show = _progress(language) if sys.stderr.isatty() else None
    notes: list[str] = []
    try:
        batches = _batches(deals, input_format, mapping, parquet, ruleset_key, zone, notes)
        settled = evaluate_stream(judge, batches, now, language, jobs, totals, show)
        _write(_clearing(settled, show), output_path, fmt, totals, language)
    except (ReadError, InputError) as err:
        fail(err.said(language))
    _finish(totals, show, strict, language, notes=notes)


def _check_options(fmt: str | None, output_path: str | None, engine: str,
                   scheduler: str | None, resume: bool, parquet: bool) -> None:
    """Refuse options that do not go together, and say which extra a format needs."""
    if engine == "local" and (scheduler or resume):
        raise click.UsageError(i18n.Message("evaluate.dask-only", {}))
    if output_path is not None and fmt is not None:
        raise click.UsageError(i18n.Message("evaluate.format-or-output", {}))
    if parquet or (output_path or "").endswith(".parquet") or engine == "dask":
        need_extra("pyarrow", "parquet")
    if engine == "local" and output_path is not None and \
            _suffix(output_path) not in (".parquet", *_FILE_FORMATS):
        raise click.BadParameter(i18n.Message("evaluate.output-name", {}),
                                 param_hint="--output")


def _parquet_input(deals: str, input_format: str) -> bool:
    """Whether DEALS is Parquet: by the option, or by a .parquet name or a directory."""
    from pathlib import Path

    if input_format != "auto":
        return input_format == "parquet"
    return deals != "-" and (deals.lower().endswith(".parquet") or Path(deals).is_dir())


def _batches(deals: str, input_format: str, mapping: str | None, parquet: bool, key: str,
             zone: ZoneInfo, notes: list[str] | None = None) -> Iterator[Batch]:
    """The deals as batches: JSON Lines as raw blocks, other formats as lists of records."""
    from pipeline_rules.deals.readers import read_batches
    from pipeline_rules.evaluate.engine import batched

    if parquet:
        from pipeline_rules.deals.readers.parquet import read_parquet

        return batched(read_parquet(deals, key))
    return read_batches(deals, input_format, mapping, zone, notes=notes)


def _write(settled: Iterable[Settled], path: str | None, fmt: str | None,
           totals: Totals, language: str) -> None:
    """Findings to stdout in the --format asked for, or into the --output file, written whole
    or not at all (.parquet; or .jsonl, .json, .txt: what stdout would get in that format)."""
    from pipeline_rules.outputs.findings import write_findings

    if path is None:
        write_findings((one.lines() for one in settled), _output_format(fmt),
                       sys.stdout.buffer, language)
        return
    if path.lower().endswith(".parquet"):
        from pipeline_rules.outputs.parquet import FindingsFiles

        with FindingsFiles().write(path, {}) as out:
            for one in settled:
                for origin, line in one.origins():
                    out.write(origin, line)
            out.records = totals.records  # the stream is spent: the count is final
        return
    from pipeline_rules.outputs.files import atomic_output

    try:
        # Under a temporary name, renamed when complete: a killed run leaves no file at
        # ``path`` (and the next run over it removes the temporary).
        with atomic_output(path) as temporary, open(temporary, "wb") as stream:
            write_findings((one.lines() for one in settled), _FILE_FORMATS[_suffix(path)],
                           stream)
    except OSError as err:
        fail(f"{path}: {err.strerror or err}")


#: The --output file formats by extension (besides .parquet).
_FILE_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".txt": "table"}


def _suffix(path: str) -> str:
    from pathlib import PurePath

    return PurePath(path).suffix.lower()


def _clearing(settled: Iterable[Settled],
              show: Callable[[int], None] | None) -> Iterator[Settled]:
    """The settled batches, then the progress line cleared: a table (or CSV) is written only
    once every batch is in, and must not start on the progress line."""
    yield from settled
    if show is not None:
        click.echo("\r\033[K", err=True, nl=False)


def _output_format(fmt: str | None) -> str:
    """The --format given, else a table for a terminal and JSON lines for a pipe."""
    return fmt or ("table" if sys.stdout.isatty() else "jsonl")


def _finish(totals: Totals, show: Callable[[int], None] | None, strict: bool,
            language: str, failed: bool = False, notes: list[str] | None = None) -> NoReturn:
    """Clear the progress line, print the summary and exit (2 if a partition failed, 1 on bad
    records with --strict)."""
    from pipeline_rules.outputs.findings import summary

    if show is not None:
        click.echo("\r\033[K", err=True, nl=False)
    show_notes(notes or [])
    click.echo(summary(totals, language), err=True)
    if failed:
        sys.exit(EXIT_USAGE)
    sys.exit(EXIT_FINDINGS if strict and totals.codes["bad-record"] else EXIT_OK)


def _horizon(text: str) -> Duration:
    """The --horizon option as a wall-clock duration, or a usage error."""
    from pipeline_rules.time.durations import DurationError, parse_duration

    try:
        lead = parse_duration(text)
    except DurationError as err:
        raise click.BadParameter(err.args[0], param_hint="--horizon") from None
    if lead.is_business:
        raise click.BadParameter(i18n.Message("evaluate.horizon", {}), param_hint="--horizon")
    return lead


def _evaluate_dask(judge: Judge, deals: str, now: datetime, language: str, parquet: bool,
                   output: str | None, scheduler: str | None, jobs: int, resume: bool,
                   totals: Totals) -> bool:
    """Run the partitions of a Parquet dataset on Dask; True if some partition failed."""
    need_extra("distributed", "dask")
    from pipeline_rules.deals.readers import InputError
    from pipeline_rules.evaluate.dask import run_dask
    from pipeline_rules.outputs.parquet import FindingsFiles

    if not parquet:
        raise click.UsageError(i18n.Message("evaluate.dask-parquet", {}))
    if output is None or _suffix(output) in (".parquet", *_FILE_FORMATS):
        raise click.UsageError(i18n.Message("evaluate.dask-output", {}))
    skipped = 0

    def done(report: PartitionReport) -> None:
        nonlocal skipped
        totals.records += report.records
        totals.codes.update(dict(report.codes))
        skipped += report.skipped
        if sys.stderr.isatty():
            click.echo("\r\033[K" + i18n.render("evaluate.partition", {
                "target": report.target, "records": _count(report.records, "record", language),
                "findings": _count(report.findings, "finding", language)}, language),
                err=True, nl=False)

    try:
        result = run_dask(deals, output, judge, now, FindingsFiles(), language, scheduler, jobs,
                          resume, done)
    except InputError as err:
        fail(err.said(language))
    except OSError as err:  # the scheduler cannot be reached
        fail(i18n.render("evaluate.no-scheduler", {"scheduler": scheduler, "error": err},
                         language))
    if sys.stderr.isatty():
        click.echo("\r\033[K", err=True, nl=False)
    if skipped:
        click.echo(i18n.render("evaluate.partitions-done", {
            "partitions": _count(skipped, "partition", language)}, language), err=True)
    for failure in result.failures:
        click.echo(i18n.render("cli.error", {"message": f"{failure.source}: {failure.error}"},
                               language), err=True)
    if result.failures:
        click.echo(i18n.render("evaluate.partitions-failed", {
            "partitions": _count(len(result.failures), "partition", language)}, language),
            err=True)
    return bool(result.failures)


def _count(count: int, noun: str, lang: str) -> str:
    """A count and its noun: in English always the plural with a thousands comma, as this
    command has always said it; in other languages in the form the number takes."""
    return f"{count:,} {noun}s" if lang == i18n.DEFAULT else i18n.plural(count, noun, lang)


def _progress(lang: str = i18n.DEFAULT) -> Callable[[int], None]:
    """A counter on stderr, refreshed at most five times a second."""
    import time

    last = [0.0]

    def show(done: int) -> None:
        moment = time.monotonic()
        if moment - last[0] >= 0.2:
            last[0] = moment
            records = f"{done:,} records" if lang == i18n.DEFAULT \
                else i18n.plural(done, "record", lang)
            click.echo("\r" + i18n.render("progress.evaluated", {"records": records}, lang),
                       err=True, nl=False)

    return show

