"""``pipeline-rules tick``: advance a runtime store to an instant.

Every deal whose findings can have changed by then (its wake, kept in an index) is judged again
at that wake, alerts follow (docs/runtime.md), and with ``--sink`` what has fallen due is
delivered. The clock is the ``--now`` given: the same store, inputs and instants give the same
store, so tests and replays are deterministic.
"""

from __future__ import annotations

import click

from pipeline_rules import i18n
from pipeline_rules.cli.common import LANG, fail, load_rulesets, now_option
from pipeline_rules.cli.ingest import deliver, open_runtime, open_sink_option, report


@click.command("tick")
@click.argument("ruleset", type=click.Path(), required=False)
@click.option("--store", "store_path", required=True, help="The store (a SQLite file).")
@click.option("--now", "now_text", default=None,
              help="The instant to advance to, ISO 8601 (default: now).")
@click.option("--sink", default=None,
              help="Deliver what is due: a JSON Lines file, '-' for stdout, or a webhook URL.")
@click.option("--sink-secret-file", type=click.Path(dir_okay=False), default=None,
              help="A file holding the secret webhook deliveries are signed with.")
@click.option("--lang", type=LANG, default=None, help="Language of messages.")
def tick_command(ruleset: str | None, store_path: str, now_text: str | None,
                 sink: str | None, sink_secret_file: str | None, lang: str | None) -> None:
    """Advance a store to --now: judge again the deals whose findings can have changed.

    RULESET defaults to the rulesets the store was last filled from.
    """
    from pathlib import Path
    from zoneinfo import ZoneInfo

    from pipeline_rules.runtime.store import StoreError, open_store

    language = lang or i18n.detect()
    key = "ruleset"
    if ruleset is None:
        if "://" not in store_path and not Path(store_path).exists():
            fail(i18n.render("tick.no-store", {"store": store_path}, language))
        try:
            store = open_store(store_path)
            ruleset = store.get_meta("rulesets")
            key = store.get_meta("ruleset_key") or key
            store.close()
        except StoreError as err:
            fail(err.said(language))
        if ruleset is None:
            fail(i18n.render("tick.no-rulesets", {"store": store_path}, language))
    catalog = load_rulesets(ruleset, language)
    now = now_option(now_text, catalog.only().zone if catalog.single else ZoneInfo("UTC"))
    runtime = open_runtime(catalog, store_path, key, language)
    try:
        counts = runtime.tick(now)
        if sink is not None:
            deliver(runtime, open_sink_option(sink, sink_secret_file), counts)
    except StoreError as err:
        fail(err.said(language))
    finally:
        runtime.store.close()
    report(counts)
