"""``pipeline-rules serve``: the HTTP service."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from pipeline_rules import i18n
from pipeline_rules.cli.common import (
    fail,
    load_rulesets,
)

if TYPE_CHECKING:
    from pipeline_rules.server.live import Live


@click.command("serve")

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

@click.option("--store", "store_path", default=None,
              help="Run the live runtime on this store (a SQLite file): deals stored, woken "
                   "and their alerts delivered (docs/runtime.md).")

@click.option("--sink", default=None,
              help="With --store: deliver alerts to a JSON Lines file, '-' for stdout, or a "
                   "webhook URL.")

@click.option("--sink-secret-file", type=click.Path(dir_okay=False), default=None,
              help="A file holding the secret webhook deliveries are signed with.")

@click.option("--tick", "tick_interval", type=click.FloatRange(0.05, 3600), default=1.0,
              show_default=True, help="With --store: seconds between scheduler rounds.")

def serve_command(ruleset_dir: str, host: str, port: int, token_file: str | None,
                  max_body: str, workers: int, store_path: str | None, sink: str | None,
                  sink_secret_file: str | None, tick_interval: float) -> None:
    """Serve the *.yaml rulesets of a directory over HTTP (docs/integrations.md)."""
    try:
        from pipeline_rules.server import Settings, SettingsError, serve
        from pipeline_rules.server.settings import check_directory, parse_size, read_token
    except ModuleNotFoundError as err:
        fail(f"the HTTP service needs the 'server' extra ({err.name} is missing): "
              "pip install 'pipeline-rules[server]'")
    try:
        if token_file is not None:
            read_token(token_file)
        settings = Settings(check_directory(ruleset_dir), host, port, token_file,
                            parse_size(max_body), workers)
    except SettingsError as err:
        fail(str(err))
    if store_path is None:
        if sink is not None:
            raise click.UsageError("--sink goes with --store")
        serve(settings)
        return
    if workers != 1:
        raise click.UsageError("--store runs in one process: leave --workers at 1")
    serve(settings, _live(ruleset_dir, store_path, sink, sink_secret_file, tick_interval))


def _live(ruleset_dir: str, store_path: str, sink: str | None, secret_file: str | None,
          interval: float) -> Live:
    """The runtime over the directory's rulesets and the store, with its sink."""
    from pipeline_rules.cli.ingest import open_runtime, open_sink_option
    from pipeline_rules.server.live import Live

    catalog = load_rulesets(ruleset_dir, i18n.detect())
    runtime = open_runtime(catalog, store_path, "ruleset", catalog.lang)
    return Live(runtime, open_sink_option(sink, secret_file) if sink else None, interval)

