"""Running the server: uvicorn with our logging, one process or ``--workers N``."""

from __future__ import annotations

import logging
import os
import signal
from types import FrameType

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

#: The exit status of a server stopped before the requests in flight finished (the shutdown
#: timeout ran out and their work was cancelled).
EXIT_CUT_SHORT = 1
#: The exit status of a server that could not start (the port taken, say), as uvicorn's.
EXIT_NOT_STARTED = 3


class _Server(uvicorn.Server):
    """uvicorn's server, noting whether every request in flight at shutdown finished."""

    drained = False

    async def _wait_tasks_to_complete(self) -> None:
        # uvicorn cancels this wait when the shutdown timeout runs out: getting past it means
        # that nothing in flight was cut short.
        await super()._wait_tasks_to_complete()
        self.drained = True


def _stop_noted(signum: int, frame: FrameType | None) -> None:
    """Take the stop signal uvicorn raises again once it has stopped: the process has stopped
    already, and ends with a status that says how (:func:`serve`)."""


def serve(settings: Settings, live: Live | None = None) -> int:
    """Serve until interrupted: SIGINT or SIGTERM stop taking connections, let the requests
    in flight finish for up to ``shutdown_timeout`` seconds, then cancel what is left;
    ``live`` (one process only) adds the runtime and its scheduler. The exit status: 0 when
    stopped after the requests in flight finished, :data:`EXIT_CUT_SHORT` when some were
    cancelled, :data:`EXIT_NOT_STARTED` when the server could not start."""
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
        return _serve_one(uvicorn.Config(create_app(settings, live=live),
                                         **common))  # type: ignore[arg-type]
    # Worker processes import the app by name and read the settings from the environment.
    os.environ[SETTINGS_ENV] = settings.to_json()
    uvicorn.run(f"{app_from_environment.__module__}:{app_from_environment.__name__}",
                factory=True, workers=settings.workers, **common)  # type: ignore[arg-type]
    return 0


def _serve_one(config: uvicorn.Config) -> int:
    """Run one server process (what ``uvicorn.run`` does for one worker) and say how it
    ended, as :func:`serve`."""
    config.load_app()
    server = _Server(config)
    # uvicorn raises the signal it stopped on again once it has restored the handler it found,
    # so that the process ends as killed by it; with this handler the process ends with a
    # status instead.
    previous = signal.signal(signal.SIGTERM, _stop_noted)
    try:
        server.run()
    except KeyboardInterrupt:  # SIGINT, raised again the same way
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    if not server.started:
        return EXIT_NOT_STARTED
    event("stopped", level=logging.INFO if server.drained else logging.WARNING,
          drained=server.drained)
    return 0 if server.drained else EXIT_CUT_SHORT
