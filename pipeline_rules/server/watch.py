"""The reload loop: refresh the registry every interval and log (and count) what changed."""

from __future__ import annotations

import asyncio
import logging

from pipeline_rules.server.logs import event, log
from pipeline_rules.server.metrics import Metrics
from pipeline_rules.server.registry import Registry


def report(events: list[dict[str, object]], metrics: Metrics | None = None) -> None:
    """Log reload events (a broken ruleset as a warning) and count them."""
    for item in events:
        name = str(item["event"])
        level = logging.WARNING if name in ("ruleset-error", "ruleset-duplicate",
                                            "ruleset-refused", "reload-failed") else logging.INFO
        event(name, level, **{k: v for k, v in item.items() if k != "event"})
        if metrics is not None:
            metrics.reloads.labels(name).inc()


async def watch(registry: Registry, interval: float, metrics: Metrics | None = None) -> None:
    """Refresh forever (until cancelled), off the event loop so requests keep flowing."""
    while True:
        await asyncio.sleep(interval)
        try:
            events = await asyncio.to_thread(registry.refresh)
        except Exception:  # a bug here must not end reloading for good
            log.exception("reload failed", extra={"fields": {"event": "reload-crashed"}})
            continue
        report(events, metrics)
