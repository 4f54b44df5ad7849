"""HTTP service speed: a bounded load test of `pipeline-rules serve` on loopback, and where the
time of one request goes.

    python benchmarks/bench_server.py [--requests 20000] [--clients 16] [--rate 500]
                                      [--seconds 10] [--batches 300] [--repeat 3]

Starts its own server process (one worker, a token, JSON logs to a temporary file, as in
production) on a free loopback port, and drives it from this process with asyncio over raw
keep-alive sockets (a lighter client than httpx, so the two cores go to the server):

1. ``/v1/check-transition`` closed loop: ``--requests`` requests from ``--clients`` connections,
   each sending its next request when the previous answer arrives -> throughput, p50, p99;
2. ``/v1/check-transition`` open loop at ``--rate`` requests/s for ``--seconds``: request *i* is
   due at start + i/rate whatever happened before, and its latency counts from when it was due
   (so a stall shows as queueing, not as fewer requests) -> p50, p99, and the server's own
   time per request read back from its log;
3. ``/v1/evaluate`` with batches of 100 generated deals (benchmarks/generate_deals.py), closed
   loop over the same connections -> requests/s, deals/s, p50, p99.

Each is repeated ``--repeat`` times and medians are printed. Then, in this process, the cost of
one check-transition request is split: JSON parsing, envelope validation, deal parsing, the
decision, serialisation, and the whole ASGI app (routing, middleware, handler) without sockets.
The requests sent are bounded in number and time, and only go to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from generate_deals import NOW, deals  # noqa: E402

TOKEN = "bench-token"
A100 = orjson.loads((ROOT / "examples" / "deals.jsonl").read_bytes().splitlines()[0])
CHECK_BODY = orjson.dumps({"ruleset": "b2b-sales", "deal": A100, "to": "invoice"})


# -- the server -------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_server(base: Path) -> tuple[subprocess.Popen[bytes], int, Path]:
    directory = base / "rulesets"
    directory.mkdir()
    shutil.copy(ROOT / "rulesets" / "b2b_sales.yaml", directory)
    (base / "token").write_text(TOKEN)
    port = free_port()
    log = base / "server.log"
    with open(log, "wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "pipeline_rules", "serve", str(directory), "--port",
             str(port), "--token-file", str(base / "token")],
            stdout=subprocess.DEVNULL, stderr=stderr)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return process, port, log
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"the server did not start:\n{log.read_text()}")


# -- a minimal keep-alive HTTP/1.1 client -----------------------------------------------------

def request_bytes(path: str, body: bytes, request_id: str = "") -> bytes:
    extra = f"X-Request-Id: {request_id}\r\n" if request_id else ""
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
            ).encode() + body


class Connection:
    """One keep-alive connection sending a request and reading its whole response."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.transport.get_extra_info("socket").setsockopt(
            socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    async def exchange(self, data: bytes) -> int:
        self.writer.write(data)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def closed_loop(port: int, clients: int, payloads: list[bytes]) -> tuple[float, list[float]]:
    """Send every payload from ``clients`` connections, each waiting for its answer."""
    connections = [await Connection.open(port) for _ in range(clients)]
    latencies: list[float] = []
    failures = 0
    position = 0

    async def worker(conn: Connection) -> None:
        nonlocal position, failures
        while position < len(payloads):
            data = payloads[position]
            position += 1
            sent = time.perf_counter()
            if await conn.exchange(data) != 200:
                failures += 1
            latencies.append(time.perf_counter() - sent)

    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in connections))
    elapsed = time.perf_counter() - started
    for conn in connections:
        conn.close()
    if failures:
        raise SystemExit(f"{failures} requests failed")
    return elapsed, latencies


async def open_loop(port: int, clients: int, rate: float, count: int,
                    payload: Callable[[int], bytes]) -> list[float]:
    """``count`` requests due at a fixed rate; latency is counted from when each was due."""
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(clients):
        idle.put_nowait(await Connection.open(port))
    latencies: list[float] = []
    failures = 0

    async def one(index: int, due: float) -> None:
        nonlocal failures
        conn = await idle.get()
        try:
            if await conn.exchange(payload(index)) != 200:
                failures += 1
        finally:
            idle.put_nowait(conn)
        latencies.append(time.perf_counter() - due)

    tasks = []
    start = time.perf_counter() + 0.05
    for index in range(count):
        due = start + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(index, due)))
    await asyncio.gather(*tasks)
    while not idle.empty():
        idle.get_nowait().close()
    if failures:
        raise SystemExit(f"{failures} requests failed")
    return latencies


def server_times(log: Path, prefix: str) -> list[float]:
    """The server's own duration_ms for the requests whose X-Request-Id starts with prefix."""
    found = []
    for line in log.read_text("utf-8").splitlines():
        if prefix in line:
            entry = json.loads(line)
            if str(entry.get("request_id", "")).startswith(prefix):
                found.append(float(entry["duration_ms"]))
    return found


# -- where the time of one request goes (in process) ------------------------------------------

def per_call(function: Callable[[], Any], count: int = 20000) -> float:
    """Microseconds per call of ``function`` (best of three rounds)."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(count):
            function()
        best = min(best, time.perf_counter() - started)
    return best / count * 1e6


def breakdown(directory: Path) -> list[tuple[str, float]]:
    """Microseconds spent per check-transition request in each step, and in the whole app."""
    from pipeline_rules.deals.decode import parse_deal
    from pipeline_rules.server.app import create_app
    from pipeline_rules.server.logs import JsonFormatter, event
    from pipeline_rules.server.metrics import Metrics
    from pipeline_rules.server.models import CheckRequest
    from pipeline_rules.server.registry import Registry
    from pipeline_rules.server.service import check_transition
    from pipeline_rules.server.settings import Settings

    registry = Registry(directory / "rulesets")
    registry.refresh()
    version = registry.get("b2b-sales")
    assert version is not None
    data = orjson.loads(CHECK_BODY)
    request = CheckRequest.model_validate(data)
    deal = parse_deal(request.deal, version.compiled.zone)
    decision = check_transition(version, request.deal, "invoice", "en")
    steps = [
        ("JSON parse (orjson)", per_call(lambda: orjson.loads(CHECK_BODY))),
        ("envelope validation (pydantic)", per_call(lambda: CheckRequest.model_validate(data))),
        ("deal parse (parse_deal)", per_call(lambda: parse_deal(request.deal,
                                                                  version.compiled.zone))),
        ("decision (PipelineMachine.check)", per_call(lambda: version.machine.check(
            deal, "invoice"))),
        ("decision to JSON (to_dict + orjson)", per_call(lambda: orjson.dumps(
            version.machine.check(deal, "invoice").to_dict("en")))),
        ("handler's work (all of the above)", per_call(lambda: orjson.dumps(check_transition(
            version, CheckRequest.model_validate(orjson.loads(CHECK_BODY)).deal, "invoice",
            "en")))),
    ]
    assert decision["allowed"] is False
    # The whole ASGI app, middleware and logging included, called without a socket.
    handler = logging.FileHandler(os.devnull)
    handler.setFormatter(JsonFormatter())
    logging.getLogger().handlers[:] = [handler]
    logging.getLogger().setLevel(logging.INFO)
    metrics = Metrics()
    fields = {"method": "POST", "path": "/v1/check-transition", "status": 200,
              "duration_ms": 0.25, "body_bytes": 1000, "ruleset": "b2b-sales", "allowed": False,
              "client": "127.0.0.1"}
    steps += [
        ("one JSON log line (formatted, written)", per_call(lambda: event("request", **fields))),
        ("request metrics (counter + histogram)", per_call(
            lambda: metrics.request("/v1/check-transition", "POST", 200, 0.00025))),
    ]
    app = create_app(Settings(str(directory / "rulesets"), token_file=str(directory / "token")),
                     registry)
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/v1/check-transition", "raw_path":
             b"/v1/check-transition", "query_string": b"", "root_path": "",
             "headers": [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {TOKEN}".encode()),
                         (b"content-type", b"application/json"),
                         (b"content-length", str(len(CHECK_BODY)).encode())],
             "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8080)}
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": CHECK_BODY, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    async def calls(count: int) -> float:
        started = time.perf_counter()
        for _ in range(count):
            await app(dict(scope), receive, send)
        return (time.perf_counter() - started) / count * 1e6

    asyncio.run(calls(500))
    whole = min(asyncio.run(calls(5000)) for _ in range(3))
    assert set(statuses) == {200}
    return [*steps, ("whole ASGI app, no socket (routing, middleware, log line)", whole)]


# -- main -------------------------------------------------------------------------------------

def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--batches", type=int, default=300, help="evaluate requests per run")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    try:
        import uvloop
        loop_runner: Callable[[Any], Any] = uvloop.run
    except ImportError:  # pragma: no cover - uvicorn[standard] brings uvloop
        loop_runner = asyncio.run

    batches = [orjson.dumps({"ruleset": "b2b-sales", "now": NOW.isoformat(), "deals": chunk})
               for chunk in _chunks(list(deals(args.batches * args.batch_size, seed=7)),
                                    args.batch_size)]
    with tempfile.TemporaryDirectory() as temp:
        base = Path(temp)
        process, port, log = start_server(base)
        try:
            # Warm up: the first requests fill caches (start definitions, reach sets).
            loop_runner(closed_loop(port, args.clients, [request_bytes(
                "/v1/check-transition", CHECK_BODY)] * 2000))
            check = [request_bytes("/v1/check-transition", CHECK_BODY)] * args.requests
            closed = [loop_runner(closed_loop(port, args.clients, check))
                      for _ in range(args.repeat)]
            count = int(args.rate * args.seconds)
            paced, inside = [], []
            for run in range(args.repeat):
                prefix = f"r{run}-"
                paced.append(loop_runner(open_loop(
                    port, args.clients, args.rate, count,
                    lambda i, p=prefix: request_bytes("/v1/check-transition", CHECK_BODY,
                                                      f"{p}{i}"))))
                time.sleep(0.3)  # let the log lines of the last requests reach the file
                inside.append(server_times(log, prefix))
            evaluate = [request_bytes("/v1/evaluate", body) for body in batches]
            evaluated = [loop_runner(closed_loop(port, args.clients, evaluate))
                         for _ in range(args.repeat)]
        finally:
            process.terminate()
            process.wait(timeout=10)
        split = breakdown(base)

    median = statistics.median
    print(f"server: 1 worker, token on, JSON request log; client: {args.clients} keep-alive "
          f"connections, asyncio raw sockets; medians of {args.repeat} runs")
    print(f"check-transition, closed loop, {args.requests:,} requests: "
          f"{median(args.requests / e for e, _ in closed):,.0f} req/s, "
          f"p50 {ms(median(percentile(lat, 0.5) for _, lat in closed))}, "
          f"p99 {ms(median(percentile(lat, 0.99) for _, lat in closed))}")
    print(f"check-transition, open loop at {args.rate:.0f} req/s, {count:,} requests: "
          f"p50 {ms(median(percentile(lat, 0.5) for lat in paced))}, "
          f"p99 {ms(median(percentile(lat, 0.99) for lat in paced))}, "
          f"max {ms(median(max(lat) for lat in paced))}; inside the server (its log): "
          f"p50 {median(percentile(t, 0.5) for t in inside):.2f} ms, "
          f"p99 {median(percentile(t, 0.99) for t in inside):.2f} ms")
    deals_total = args.batches * args.batch_size
    print(f"evaluate, batches of {args.batch_size} deals, {args.batches} requests: "
          f"{median(args.batches / e for e, _ in evaluated):,.1f} req/s = "
          f"{median(deals_total / e for e, _ in evaluated):,.0f} deals/s, "
          f"p50 {ms(median(percentile(lat, 0.5) for _, lat in evaluated))}, "
          f"p99 {ms(median(percentile(lat, 0.99) for _, lat in evaluated))}")
    print("one check-transition request, in process (us per request):")
    for name, micros in split:
        print(f"  {name:<60} {micros:8.1f}")


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


if __name__ == "__main__":
    main()
