"""``pipeline-rules serve``: the HTTP service."""

from __future__ import annotations

import click

from pipeline_rules.cli.common import (
    fail,
)


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

def serve_command(ruleset_dir: str, host: str, port: int, token_file: str | None,
                  max_body: str, workers: int) -> None:
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
    serve(settings)

