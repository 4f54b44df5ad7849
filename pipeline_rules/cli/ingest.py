"""``pipeline-rules ingest``: deal records into a runtime store, each judged at once.

The records are read as ``evaluate`` reads them (JSON Lines, JSON, CSV through a mapping,
Parquet) and judged by the same judge; a bad record is stored as rejected with its reason and
the others go on. A deal sent again replaces the stored one (docs/runtime.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

import click

from pipeline_rules import i18n
from pipeline_rules.cli.common import LANG, current_language, fail, load_rulesets, now_option

if TYPE_CHECKING:
    from pipeline_rules.deals.model import Record
    from pipeline_rules.evaluate.judge import Judge
    from pipeline_rules.ruleset.catalog import Catalog
    from pipeline_rules.runtime.service import Counts, Runtime
    from pipeline_rules.runtime.sinks import Sink


@click.command("ingest")
@click.argument("ruleset", type=click.Path())
@click.argument("deals")
@click.option("--store", "store_path", required=True,
              help="The store: a SQLite file (created if missing).")
@click.option("--now", "now_text", default=None,
              help="When the deals are judged, ISO 8601 (default: now).")
@click.option("--input-format",
              type=click.Choice(["auto", "jsonl", "json", "csv", "parquet"]), default="auto",
              show_default=True, help="Format of DEALS (auto: by extension).")
@click.option("--mapping", type=click.Path(dir_okay=False),
              help="Mapping file for CSV input (docs/input.md).")
@click.option("--ruleset-key", default="ruleset", show_default=True,
              help="With a directory of rulesets: the record key naming a deal's ruleset.")
@click.option("--sink", default=None,
              help="Deliver what is due afterwards: a JSON Lines file, '-' for stdout, or a "
                   "webhook URL.")
@click.option("--sink-secret-file", type=click.Path(dir_okay=False), default=None,
              help="A file holding the secret webhook deliveries are signed with.")
@click.option("--lang", type=LANG, default=None, help="Language of messages.")
def ingest_command(ruleset: str, deals: str, store_path: str, now_text: str | None,
                   input_format: str, mapping: str | None, ruleset_key: str,
                   sink: str | None, sink_secret_file: str | None, lang: str | None) -> None:
    """Store deals (JSONL, JSON, CSV or Parquet) in a runtime store and judge each."""
    from pipeline_rules.deals.readers import InputError
    from pipeline_rules.ruleset.loader import ReadError
    from pipeline_rules.runtime.store import StoreError

    language = lang or i18n.detect()
    catalog = load_rulesets(ruleset, language)
    runtime = open_runtime(catalog, store_path, ruleset_key, language)
    now = now_option(now_text, _zone(catalog))
    try:
        runtime.store.set_meta("rulesets", str(Path(ruleset).resolve()))
        runtime.store.set_meta("ruleset_key", ruleset_key)
        counts = runtime.ingest(_records(runtime.judge, deals, input_format, mapping, catalog),
                                now)
        if sink is not None:
            deliver(runtime, open_sink_option(sink, sink_secret_file), counts)
    except (ReadError, InputError) as err:
        fail(err.said(current_language()))
    except StoreError as err:
        fail(err.said(current_language()))
    finally:
        runtime.store.close()
    report(counts)


def _zone(catalog: Catalog) -> tzinfo:
    from zoneinfo import ZoneInfo

    return catalog.only().zone if catalog.single else ZoneInfo("UTC")


def _records(judge: Judge, deals: str, input_format: str, mapping: str | None,
             catalog: Catalog) -> Iterator[Record]:
    from pipeline_rules.deals import as_record
    from pipeline_rules.deals.readers import read_records

    parquet = input_format == "parquet" or (input_format == "auto" and deals != "-" and (
        deals.lower().endswith(".parquet") or Path(deals).is_dir()))
    if parquet:
        from pipeline_rules.deals.readers.parquet import read_parquet

        for number, item in enumerate(read_parquet(deals, judge.key), 1):
            yield as_record(item, f"{deals}:{number}")
        return
    zone = catalog.only().zone if catalog.single else None
    yield from read_records(deals, input_format, mapping, zone)  # type: ignore[misc]


def open_runtime(catalog: Catalog, store_path: str, ruleset_key: str, lang: str) -> Runtime:
    """The runtime over a catalog and the store at ``store_path`` (exit 2 if unusable)."""
    from pipeline_rules.evaluate.judge import Judge
    from pipeline_rules.runtime.service import Runtime
    from pipeline_rules.runtime.store import StoreError, open_store

    try:
        store = open_store(store_path)
    except StoreError as err:
        fail(err.said(current_language()))
    return Runtime(Judge.of(catalog, key=ruleset_key), store, lang)


def open_sink_option(target: str, secret_file: str | None) -> Sink:
    """The sink ``--sink`` names, webhooks signed with the secret in ``secret_file``."""
    from pipeline_rules.ruleset.plugins import PluginError
    from pipeline_rules.runtime.sinks import open_sink

    secret = None
    if secret_file is not None:
        try:
            secret = Path(secret_file).read_bytes().strip()
        except OSError as err:
            fail(f"{secret_file}: {err.strerror or err}")
        if not secret:
            fail(i18n.render("ingest.empty-secret", {"file": secret_file}, current_language()))
    try:
        return open_sink(target, secret)
    except PluginError as err:
        fail(str(err))


def deliver(runtime: Runtime, sink: Sink, counts: Counts) -> None:
    """Hand every queued delivery that is ready to ``sink``, adding to ``counts``."""
    done = runtime.deliver(sink, limit=1_000_000)
    counts.delivered += done.delivered
    counts.failed += done.failed
    counts.transitions += done.transitions
    counts.queued += done.queued


def report(counts: Counts) -> None:
    """The counts of a run on stderr, as one line of JSON."""
    import orjson

    click.echo(orjson.dumps(counts.as_dict()).decode("utf-8"), err=True)
