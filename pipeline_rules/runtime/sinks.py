"""Where deliveries go: a JSON Lines file, or stdout.

A sink takes one delivery's payload (a JSON object on one line: ``event``, ``key``,
``ruleset``, ``deal``, ``alert``) and returns only when it has it for good — a file is flushed
and synced — so a delivery marked done is never lost. A sink that raises leaves the delivery
queued for the next attempt.
"""

from __future__ import annotations

import os
import sys
from typing import Protocol


class Sink(Protocol):
    """Takes a delivery; raises if it could not."""

    def send(self, payload: str) -> None:
        """Deliver one payload (a JSON object), durably."""


class JsonlSink:
    """Appends each delivery as one line of a JSON Lines file (fsynced)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def send(self, payload: str) -> None:
        """Append one line and make it durable."""
        with open(self.path, "ab") as stream:
            stream.write(payload.encode("utf-8") + b"\n")
            stream.flush()
            os.fsync(stream.fileno())


class StdoutSink:
    """Writes each delivery as one line on standard output."""

    def send(self, payload: str) -> None:
        """Write and flush one line."""
        sys.stdout.write(payload + "\n")
        sys.stdout.flush()


def open_sink(target: str) -> Sink:
    """The sink a ``--sink`` value names: ``-`` or ``stdout`` for stdout, else a JSON Lines
    file path."""
    if target in ("-", "stdout"):
        return StdoutSink()
    return JsonlSink(target.removeprefix("jsonl:"))


__all__ = ["JsonlSink", "Sink", "StdoutSink", "open_sink"]
