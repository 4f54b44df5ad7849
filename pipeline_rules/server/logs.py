"""Structured logs: every line one JSON object on stderr — requests, reloads, server events.

Request lines carry the method, path, status, duration and counts the handler reports, never a
request body: deals hold customers' data, and logs travel to places deals should not.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

LOGGER = "pipeline_rules.server"
log = logging.getLogger(LOGGER)


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line; fields given as ``extra={"fields": {...}}`` are merged
    in, and a traceback, when there is one, goes into ``exception``."""

    def format(self, record: logging.LogRecord) -> str:
        """One JSON object for the record."""
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        else:
            line["message"] = record.getMessage()
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode("utf-8")


def configure(level: int = logging.INFO) -> None:
    """Send every logger's records (uvicorn's too) to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # One line per request is ours (with counts); uvicorn's access line would be a second.
    logging.getLogger("uvicorn.access").disabled = True


def event(name: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one structured event."""
    log.log(level, name, extra={"fields": {"event": name, **fields}})
