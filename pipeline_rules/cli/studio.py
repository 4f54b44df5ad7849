"""``pipeline-rules studio``: edit regulations in the browser (docs/studio.md)."""

from __future__ import annotations

import click

from pipeline_rules import i18n
from pipeline_rules.cli.common import fail


@click.command("studio")

@click.argument("rulesets_dir", default="rulesets", required=False)

@click.option("--deals", type=click.Path(dir_okay=False),
              help="Deals to see the regulation's effect on (JSON Lines, or CSV with --mapping).")

@click.option("--mapping", type=click.Path(dir_okay=False),
              help="The mapping of a CRM CSV export given as --deals (docs/input.md).")

@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; beyond this machine it needs --token-file.")

@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port to listen on (0: any free port).")

@click.option("--token-file", type=click.Path(dir_okay=False),
              help="A file holding the token every API call of the page must carry.")

@click.option("--no-browser", is_flag=True, help="Do not open the page in a browser.")

def studio_command(rulesets_dir: str, deals: str | None, mapping: str | None, host: str,
                   port: int, token_file: str | None, no_browser: bool) -> None:
    """Edit the rulesets of a directory in the browser: live lint, a live diagram, saving."""
    try:
        from pipeline_rules.server.settings import (
            SettingsError,
            check_bind,
            check_directory,
            read_token,
        )
        from pipeline_rules.studio.app import StudioStartError, serve_studio
    except ModuleNotFoundError as err:
        fail(i18n.render("studio.extra", {"module": err.name}, i18n.detect()))
    from pathlib import Path

    from pipeline_rules.studio.context import StudioContext, Workspace

    try:
        check_bind(host, token_file, False)
        token = read_token(token_file) if token_file is not None else None
        directory = Path(check_directory(rulesets_dir))
    except SettingsError as err:
        fail(str(err))
    lang = i18n.detect()
    for value in (deals, mapping):
        if value is not None and not Path(value).is_file():
            fail(i18n.render("read.no-such-file", {"name": value}, lang))
    if mapping is not None and deals is None:
        fail(i18n.render("studio.mapping-needs-deals", {}, lang))
    ctx = StudioContext(directory, Workspace(directory, lang),
                        deals=Path(deals) if deals else None,
                        mapping=Path(mapping) if mapping else None, lang=lang)

    def started(url: str) -> None:
        click.echo(i18n.render("studio.serving", {"directory": directory, "url": url}, lang))
        if not no_browser:
            import webbrowser

            webbrowser.open(url)

    try:
        serve_studio(ctx, host, port, token, started)
    except StudioStartError as err:
        fail(str(err))
