"""Where deliveries go: a JSON Lines file, stdout, a webhook, or a sink an installed package
offers (entry point group ``pipeline_rules.sinks``).

A sink takes one delivery's payload (a JSON object on one line: ``event``, ``key``,
``ruleset``, ``deal``, ``alert``) and returns only when it has it for good — a file is flushed
and synced — so a delivery marked done is never lost. A sink that raises leaves the delivery
queued for the next attempt.
"""

from __future__ import annotations

import email.utils
import hashlib
import hmac
import os
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Protocol, cast

import orjson

from pipeline_rules.ruleset.plugins import PluginError, load_sink_factory

#: The ``--sink`` prefix that names an installed sink plugin.
PLUGIN = "plugin:"


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


def open_sink(target: str, secret: bytes | None = None) -> Sink:
    """The sink a ``--sink`` value names: ``-`` or ``stdout`` for stdout, an ``http://`` or
    ``https://`` URL for a webhook (signed with ``secret``), ``plugin:NAME[:ARGUMENT]`` for an
    installed sink plugin, else a JSON Lines file path. Raise :class:`PluginError` for a plugin
    that is missing or refuses its argument."""
    if target.startswith(PLUGIN):
        return plugin_sink(target.removeprefix(PLUGIN))
    if target in ("-", "stdout"):
        return StdoutSink()
    if target.startswith(("http://", "https://")):
        return WebhookSink(target, secret)
    return JsonlSink(target.removeprefix("jsonl:"))




def plugin_sink(spec: str) -> Sink:
    """The sink of plugin ``NAME`` made with ``ARGUMENT`` (``spec`` is ``NAME[:ARGUMENT]``; the
    argument, such as a URL, is the package's to read)."""
    name, _, argument = spec.partition(":")
    factory = load_sink_factory(name)
    try:
        sink = factory(argument)
    except Exception as err:  # the package's refusal, said as ours, never a traceback
        raise PluginError(f"sink plugin '{name}' refused its argument: "
                          f"{type(err).__name__}: {err}") from None
    if not callable(getattr(sink, "send", None)):
        raise PluginError(f"sink plugin '{name}' made no sink (an object with send(payload))")
    return cast(Sink, sink)


class SinkError(Exception):
    """A delivery the receiver refused or did not answer; ``retry_after`` is what it asked
    to wait, in seconds (None: the runtime's backoff decides)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


#: The header carrying ``sha256=<hex HMAC-SHA256 of the body>`` under the shared secret.
SIGNATURE_HEADER = "X-Pipeline-Rules-Signature"
#: The header carrying the delivery's idempotency key: ``<alert key>:<event>``.
IDEMPOTENCY_HEADER = "Idempotency-Key"


def signature(secret: bytes, body: bytes) -> str:
    """The signature header's value for ``body``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


class WebhookSink:
    """POSTs each delivery as JSON to a URL, signed with HMAC-SHA256 when given a secret, with
    the alert's key and event as the idempotency key; a 2xx answer is success, anything else
    (or no answer within ``timeout`` seconds) a :class:`SinkError`."""

    def __init__(self, url: str, secret: bytes | None = None, timeout: float = 10.0) -> None:
        self.url = url
        self.secret = secret
        self.timeout = timeout

    def send(self, payload: str) -> None:
        """POST one delivery; raise SinkError unless the receiver answers 2xx."""
        body = payload.encode("utf-8")
        head = orjson.loads(body)
        headers = {"Content-Type": "application/json",
                   IDEMPOTENCY_HEADER: f"{head.get('key')}:{head.get('event')}"}
        if self.secret is not None:
            headers[SIGNATURE_HEADER] = signature(self.secret, body)
        request = urllib.request.Request(self.url, body, headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except urllib.error.HTTPError as err:
            raise SinkError(f"{self.url}: HTTP {err.code}",
                            _retry_after(err.headers.get("Retry-After"))) from None
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise SinkError(f"{self.url}: {reason}") from None


def _retry_after(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (a number of seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


__all__ = ["IDEMPOTENCY_HEADER", "SIGNATURE_HEADER", "JsonlSink", "Sink", "SinkError",
           "StdoutSink", "WebhookSink", "open_sink", "signature"]
