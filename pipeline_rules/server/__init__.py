"""The HTTP service (``pipeline-rules serve``; needs the ``server`` extra).

One module per concern: :mod:`.settings`, :mod:`.registry` (rulesets and their reload),
:mod:`.watch` (the reload loop), :mod:`.auth`, :mod:`.limits` (per request), :mod:`.protocol`
(per connection), :mod:`.compute` (the work off the event loop), :mod:`.logs`, :mod:`.metrics`,
:mod:`.observe` (per-request log line and metrics), :mod:`.models` (request and response bodies),
:mod:`.openapi`, :mod:`.service` (what the endpoints compute), :mod:`.linting`, :mod:`.errors`,
:mod:`.app` (the ASGI app) and :mod:`.runner` (uvicorn).
"""

from __future__ import annotations

from pipeline_rules.server.app import create_app
from pipeline_rules.server.runner import serve
from pipeline_rules.server.settings import Settings, SettingsError

__all__ = ["Settings", "SettingsError", "create_app", "serve"]
