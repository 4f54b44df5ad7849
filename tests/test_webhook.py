"""The webhook sink against a real receiver on loopback: signed, keyed, retried with backoff
(or as ``Retry-After`` asks), dead-lettered after its limit, and cut off when it hangs."""

from __future__ import annotations

import hashlib
import hmac
import random
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest
from helpers import ROOT

from pipeline_rules.deals.model import Record
from pipeline_rules.evaluate.judge import Judge
from pipeline_rules.ruleset.catalog import load_catalog
from pipeline_rules.runtime.service import Retry, Runtime
from pipeline_rules.runtime.sinks import SinkError, WebhookSink
from pipeline_rules.runtime.sqlite import SqliteStore
from pipeline_rules.runtime.store import to_us

NOW = datetime.fromisoformat("2026-11-20T09:05:00+03:00")
SECRET = b"s3cret"
Answer = Callable[[dict[str, Any]], tuple[int, dict[str, str]]]


class Receiver:
    """A loopback HTTP server answering each POST as ``answer`` says, keeping what it got."""

    def __init__(self, answer: Answer) -> None:
        self.got: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status, headers = answer(dict(self.headers))
                if status < 300:
                    receiver.got.append((dict(self.headers), body))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers() -> Iterator[Callable[[Answer], Receiver]]:
    started: list[Receiver] = []

    def start(answer: Answer) -> Receiver:
        started.append(Receiver(answer))
        return started[-1]

    yield start
    for receiver in started:
        receiver.close()


def filled(tmp_path: Path) -> Runtime:
    runtime = Runtime(Judge.of(load_catalog(ROOT / "rulesets" / "b2b_sales.yaml")),
                      SqliteStore(str(tmp_path / "s.db")))
    lines = (ROOT / "examples" / "deals.jsonl").read_bytes().splitlines()
    runtime.ingest([Record(f"l{n}", orjson.loads(line)) for n, line in enumerate(lines)], NOW)
    return runtime


def test_a_flaky_receiver_gets_everything_signed_and_keyed(
        tmp_path: Path, receivers: Callable[[Answer], Receiver]) -> None:
    calls: list[int] = []
    failures = []

    def flaky(_: dict[str, str]) -> tuple[int, dict[str, str]]:
        calls.append(1)
        if len(calls) % 3 == 1:  # a third of the requests fail, the very first among them
            failures.append(1)
            return 503, {"Retry-After": "0"} if len(failures) % 2 else {}
        return 200, {}

    receiver = receivers(flaky)
    runtime = filled(tmp_path)
    queued = len(runtime.store.pending(100))
    sink = WebhookSink(receiver.url, SECRET, timeout=5)
    retry = Retry(attempts=50, base=0.001, cap=0.01, rng=random.Random(1))
    for _ in range(200):
        runtime.deliver(sink, retry=retry)
        if not runtime.store.pending(100):
            break
        time.sleep(0.01)
    assert not runtime.store.pending(100)
    assert failures  # the receiver did fail some
    keys = set()
    for headers, body in receiver.got:
        expected = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
        assert headers["X-Pipeline-Rules-Signature"] == expected
        sent = orjson.loads(body)
        assert headers["Idempotency-Key"] == f"{sent['key']}:{sent['event']}"
        keys.add(headers["Idempotency-Key"])
    assert len(keys) == queued == 4
    assert {a.status for a in runtime.store.alerts(limit=1000) if a.kind == "action"} == {
        "delivered"}


def test_retry_after_is_honoured_and_a_dead_letter_follows_the_limit(
        tmp_path: Path, receivers: Callable[[Answer], Receiver]) -> None:
    receiver = receivers(lambda _: (429, {"Retry-After": "120"}))
    runtime = filled(tmp_path)
    sink = WebhookSink(receiver.url, SECRET)
    counts = runtime.deliver(sink, now=NOW, retry=Retry(attempts=2, base=0))
    assert counts.failed == 4 and counts.delivered == 0
    assert runtime.store.pending(100, to_us(NOW + timedelta(seconds=119))) == []
    later = NOW + timedelta(seconds=121)
    assert len(runtime.store.pending(100, to_us(later))) == 4
    runtime.deliver(sink, now=later, retry=Retry(attempts=2, base=0))
    assert runtime.store.pending(100) == []
    dead = runtime.store.alerts("dead", limit=100)
    assert len(dead) == 4 and {a.code for a in dead} == {"escalate", "remind"}
    assert receiver.got == []


def test_a_hanging_receiver_is_cut_off_by_the_timeout(
        receivers: Callable[[Answer], Receiver]) -> None:
    release = threading.Event()

    def hang(_: dict[str, str]) -> tuple[int, dict[str, str]]:
        release.wait(10)
        return 200, {}

    receiver = receivers(hang)
    try:
        with pytest.raises(SinkError, match="timed out"):
            WebhookSink(receiver.url, timeout=0.2).send('{"key": "k", "event": "delivered"}')
    finally:
        release.set()
