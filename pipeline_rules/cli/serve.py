"""``pipeline-rules serve``: the HTTP service."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from pipeline_rules import i18n
from pipeline_rules.cli.common import (
    current_language,
    fail,
    load_rulesets,
)

if TYPE_CHECKING:
    from pipeline_rules.server.live import Live

SECONDS = click.FloatRange(0.1, 3600)


@click.command("serve")

@click.argument("ruleset_dir")

@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0: every interface; needs --token-file or "
                   "--behind-auth-proxy).")

@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)

@click.option("--token-file", type=click.Path(dir_okay=False),
              help="A file holding the bearer token every /v1 call must carry.")

@click.option("--behind-auth-proxy", is_flag=True,
              help="Allow a non-loopback --host without a token: a proxy in front "
                   "authenticates every caller.")

@click.option("--max-body", default="10MB", show_default=True,
              help="Largest request body (B, KB, MB, GB; binary units).")

@click.option("--max-header-size", default="16KB", show_default=True,
              help="Largest request line and headers together (431 past it).")

@click.option("--max-headers", type=click.IntRange(1, 10_000), default=100, show_default=True,
              help="Most header fields in one request (431 past it).")

@click.option("--max-connections", type=click.IntRange(1, 100_000), default=256,
              show_default=True, help="Open connections; one more is answered 503.")

@click.option("--idle-timeout", type=SECONDS, default=5.0, show_default=True,
              help="Seconds a connection may stay open without sending a request.")

@click.option("--header-timeout", type=SECONDS, default=10.0, show_default=True,
              help="Seconds from a request's first byte to the end of its headers (408).")

@click.option("--body-timeout", type=SECONDS, default=30.0, show_default=True,
              help="Seconds from the end of the headers to the end of the body (408).")

@click.option("--max-deals", type=click.IntRange(1, 10_000_000), default=1000,
              show_default=True,
              help="Deals in one /v1/evaluate or POST /v1/deals request (413 past it).")

@click.option("--max-history", type=click.IntRange(1, 10_000_000), default=10_000,
              show_default=True, help="History entries of one deal (413 past it).")

@click.option("--max-tasks", type=click.IntRange(1, 10_000_000), default=10_000,
              show_default=True, help="Tasks of one deal (413 past it).")

@click.option("--max-events", type=click.IntRange(1, 10_000_000), default=10_000,
              show_default=True, help="Events of one deal (413 past it).")

@click.option("--max-pauses", type=click.IntRange(1, 10_000_000), default=1_000,
              show_default=True, help="Pauses of one deal (413 past it).")

@click.option("--compute-threads", type=click.IntRange(1, 64), default=2, show_default=True,
              help="Threads that evaluate, check and lint, off the event loop.")

@click.option("--compute-queue", type=click.IntRange(1, 10_000), default=16, show_default=True,
              help="Requests waiting for or holding a compute thread; one more gets 503.")

@click.option("--time-budget", type=SECONDS, default=30.0, show_default=True,
              help="Seconds a request's computation may take, waiting included (504).")

@click.option("--shutdown-timeout", type=SECONDS, default=10.0, show_default=True,
              help="Seconds SIGTERM lets the requests in flight finish before stopping.")

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
                  behind_auth_proxy: bool, max_body: str, max_header_size: str,
                  max_headers: int, max_connections: int, idle_timeout: float,
                  header_timeout: float, body_timeout: float, max_deals: int,
                  max_history: int, max_tasks: int, max_events: int, max_pauses: int,
                  compute_threads: int, compute_queue: int,
                  time_budget: float, shutdown_timeout: float, workers: int,
                  store_path: str | None, sink: str | None, sink_secret_file: str | None,
                  tick_interval: float) -> None:
    """Serve the *.yaml rulesets of a directory over HTTP (docs/integrations.md)."""
    try:
        from pipeline_rules.server import Settings, SettingsError, serve
        from pipeline_rules.server.settings import (
            check_bind,
            check_directory,
            parse_size,
            read_token,
        )
    except ModuleNotFoundError as err:
        fail(i18n.render("serve.extra", {"module": err.name}, current_language()))
    try:
        check_bind(host, token_file, behind_auth_proxy)
        if token_file is not None:
            read_token(token_file)
        settings = Settings(
            check_directory(ruleset_dir), host, port, token_file, parse_size(max_body),
            workers, behind_auth_proxy=behind_auth_proxy,
            max_header_bytes=parse_size(max_header_size), max_headers=max_headers,
            max_connections=max_connections, idle_timeout=idle_timeout,
            header_timeout=header_timeout, body_timeout=body_timeout, max_deals=max_deals,
            max_history=max_history, max_tasks=max_tasks, max_events=max_events,
            max_pauses=max_pauses, compute_threads=compute_threads,
            compute_queue=compute_queue, time_budget=time_budget,
            shutdown_timeout=shutdown_timeout)
    except SettingsError as err:
        fail(str(err))
    if store_path is None:
        if sink is not None:
            raise click.UsageError(i18n.Message("serve.sink-needs-store", {}))
        sys.exit(serve(settings))
    if workers != 1:
        raise click.UsageError(i18n.Message("serve.store-one-process", {}))
    sys.exit(serve(settings, _live(ruleset_dir, store_path, sink, sink_secret_file,
                                   tick_interval)))


def _live(ruleset_dir: str, store_path: str, sink: str | None, secret_file: str | None,
          interval: float) -> Live:
    """The runtime over the directory's rulesets and the store, with its sink."""
    from pipeline_rules.cli.ingest import open_runtime, open_sink_option
    from pipeline_rules.server.live import Live

    catalog = load_rulesets(ruleset_dir, i18n.detect())
    runtime = open_runtime(catalog, store_path, "ruleset", catalog.lang)
    return Live(runtime, open_sink_option(sink, secret_file) if sink else None, interval)
