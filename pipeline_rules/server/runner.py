"""Running the server: uvicorn with our logging, one process or ``--workers N``."""

from __future__ import annotations

import os

import uvicorn

from pipeline_rules.server.app import (
    SETTINGS_ENV,
    app_from_environment,
    connection_limits,
    create_app,
)
from pipeline_rules.server.live import Live
from pipeline_rules.server.logs import configure, event
from pipeline_rules.server.protocol import GuardedProtocol
from pipeline_rules.server.settings import Settings


def serve(settings: Settings, live: Live | None = None) -> None:
    """Serve until interrupted: SIGINT or SIGTERM stop taking connections, let the requests
    in flight finish for up to ``shutdown_timeout`` seconds, then cancel what is left;
    ``live`` (one process only) adds the runtime and its scheduler."""
    configure()
    GuardedProtocol.limits = connection_limits(settings)
    common: dict[str, object] = {"host": settings.host, "port": settings.port,
                                 "log_config": None, "access_log": False,
                                 "server_header": False, "http": GuardedProtocol,
                                 "timeout_keep_alive": settings.idle_timeout,
                                 "timeout_graceful_shutdown": settings.shutdown_timeout}
    event("starting", directory=settings.ruleset_dir, host=settings.host, port=settings.port,
          workers=settings.workers, max_body=settings.max_body,
          token=settings.token_file is not None,
          behind_auth_proxy=settings.behind_auth_proxy)
    if settings.workers == 1:
        uvicorn.run(create_app(settings, live=live), **common)  # type: ignore[arg-type]
        return
    # Worker processes import the app by name and read the settings from the environment.
    os.environ[SETTINGS_ENV] = settings.to_json()
    uvicorn.run(f"{app_from_environment.__module__}:{app_from_environment.__name__}",
                factory=True, workers=settings.workers, **common)  # type: ignore[arg-type]
