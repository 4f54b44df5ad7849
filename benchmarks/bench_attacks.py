"""Attacks on `pipeline-rules serve`, before and after the hardening, measured in one run.

    python benchmarks/bench_attacks.py --before /path/to/old/.venv/bin/pipeline-rules
                                       [--after .venv/bin/pipeline-rules] [--seconds 10]
                                       [--flooders 2] [--flood-mb 8] [--slow 200] [--seed 7]

For each build, a fresh server (one worker, a token) on a free loopback port, and a legitimate
client sending authenticated `/v1/check-transition` requests (one keep-alive connection, one
request every 20 ms) while:

1. nothing else happens (the baseline);
2. a header flood: ``--flooders`` threads each open a connection after another and send a
   request head of ``--flood-mb`` MB (in 64 KB writes) for ``--seconds``;
3. slowloris: ``--slow`` connections each send an unfinished request head and one more byte
   every second, reopened when the server closes them, for ``--seconds`` + 5 s;
4. the heaviest evaluate the build allows: one client posts it (once) while `/healthz` is polled
   every 20 ms. Before: one deal with as much history as the 10 MB body holds (no history
   limit, and one deal ran on the event loop); after: 15 deals of 10,000 entries, the default
   limits (about the same body). The after workload is also run against the before build.

Printed per build and scenario: the legitimate requests' median and p99 latency (ms), how many
failed, the server's resident memory afterwards, and for slowloris how many attack connections
the server closed. Everything is bounded (connections, bytes, seconds) and stays on 127.0.0.1;
the generated deals are seeded.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token"
A100 = json.loads((ROOT / "examples" / "deals.jsonl").read_text("utf-8").splitlines()[0])
CHECK = json.dumps({"ruleset": "b2b-sales", "deal": A100, "to": "invoice"}).encode()
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


# -- a server -----------------------------------------------------------------------------------

@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int

    def rss_mb(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(x for x in status.splitlines() if x.startswith("VmRSS:"))
        return int(line.split()[1]) / 1024


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serving(executable: str) -> Iterator[Server]:
    base = Path(tempfile.mkdtemp(prefix="bench-attacks-"))
    try:
        directory = base / "rulesets"
        directory.mkdir()
        shutil.copy(ROOT / "rulesets" / "b2b_sales.yaml", directory)
        (base / "token").write_text(TOKEN)
        port = free_port()
        with open(base / "server.log", "wb") as log:
            process = subprocess.Popen(
                [executable, "serve", str(directory), "--port", str(port), "--token-file",
                 str(base / "token")], stdout=subprocess.DEVNULL, stderr=log)
        server = Server(process, port)
        deadline = time.monotonic() + 60
        while not answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{executable}: the server did not start")
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(base, ignore_errors=True)


def answers(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/healthz")
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


# -- the legitimate client ----------------------------------------------------------------------

@dataclass
class Probe:
    """Requests one after another every ``interval`` s until stopped: latencies and failures."""

    port: int
    method: str
    path: str
    body: bytes | None = None
    interval: float = 0.02
    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        conn: http.client.HTTPConnection | None = None
        while not self.stop.is_set():
            start = time.perf_counter()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                conn.request(self.method, self.path, body=self.body, headers=HEADERS)
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    self.failures += 1
                else:
                    self.latencies.append(time.perf_counter() - start)
                if response.getheader("connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except OSError:
                self.failures += 1
                if conn is not None:
                    conn.close()
                conn = None
            self.stop.wait(self.interval)
        if conn is not None:
            conn.close()

    def summary(self) -> str:
        if not self.latencies:
            return f"no answer, {self.failures} failed"
        ordered = sorted(self.latencies)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return (f"median {statistics.median(ordered) * 1000:8.2f} ms  p99 {p99 * 1000:8.2f} ms"
                f"  ({len(ordered)} answered, {self.failures} failed)")


def while_attacked(port: int, attack: Callable[[threading.Event], None], seconds: float,
                   probe: Probe) -> Probe:
    stop = threading.Event()
    threads = [threading.Thread(target=probe.run), threading.Thread(target=attack, args=(stop,))]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    probe.stop.set()
    for thread in threads:
        thread.join(timeout=60)
    return probe


# -- the attacks --------------------------------------------------------------------------------

def header_flood(port: int, flooders: int, megabytes: int) -> Callable[[threading.Event], None]:
    piece = b"a" * 65536

    def one(stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
                    conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Flood: ")
                    for _ in range(megabytes * 16):
                        if stop.is_set():
                            break
                        conn.sendall(piece)
                    conn.sendall(b"\r\n\r\n")
                    conn.recv(1024)
            except OSError:
                time.sleep(0.01)

    def attack(stop: threading.Event) -> None:
        threads = [threading.Thread(target=one, args=(stop,)) for _ in range(flooders)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    return attack


@dataclass
class Slowloris:
    port: int
    connections: int
    closed_by_server: int = 0

    def attack(self, stop: threading.Event) -> None:
        socks: list[socket.socket | None] = [None] * self.connections
        while not stop.is_set():
            for i, held in enumerate(socks):
                try:
                    if held is None:
                        fresh = socket.create_connection(("127.0.0.1", self.port), timeout=5)
                        socks[i] = fresh
                        fresh.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                    else:
                        held.sendall(b"X")
                except OSError:
                    if held is not None:
                        held.close()
                        self.closed_by_server += 1
                    socks[i] = None
            stop.wait(1.0)
        for conn in socks:
            if conn is not None:
                conn.close()


def heavy_deal(ident: str, entries: int, rng: random.Random) -> dict[str, Any]:
    start = datetime(2020, 1, 1, 6, tzinfo=UTC)
    stages = ["find_dm", "qualification", "meeting", "proposal"]
    at = start
    history = []
    for _ in range(entries):
        at += timedelta(minutes=rng.randint(5, 90))
        history.append({"stage": rng.choice(stages), "at": at.isoformat()})
    return {"id": ident, "stage": history[-1]["stage"], "source": "cold", "owner": "o",
            "manager": "m", "fields": {"amount": 1}, "history": history}


def evaluate_body(deals: int, entries: int, seed: int) -> bytes:
    rng = random.Random(seed)
    return json.dumps({"ruleset": "b2b-sales", "now": "2026-11-20T09:05:00+03:00",
                       "deals": [heavy_deal(f"H-{i}", entries, rng)
                                 for i in range(deals)]}).encode()


def during_heavy_evaluate(port: int, body: bytes) -> tuple[Probe, Probe, str]:
    health = Probe(port, "GET", "/healthz")
    check = Probe(port, "POST", "/v1/check-transition", CHECK)
    threads = [threading.Thread(target=health.run), threading.Thread(target=check.run)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    start = time.perf_counter()
    conn.request("POST", "/v1/evaluate", body=body, headers=HEADERS)
    response = conn.getresponse()
    response.read()
    outcome = f"evaluate {response.status} in {time.perf_counter() - start:.2f} s"
    conn.close()
    health.stop.set()
    check.stop.set()
    for thread in threads:
        thread.join(timeout=60)
    return health, check, outcome


# -- the run ------------------------------------------------------------------------------------

def measure(label: str, executable: str, args: argparse.Namespace,
            heavy: list[tuple[str, bytes]]) -> None:
    print(f"\n== {label}: {executable}")
    with serving(executable) as server:
        port = server.port
        idle = while_attacked(port, lambda stop: stop.wait(), args.seconds / 2,
                              Probe(port, "POST", "/v1/check-transition", CHECK))
        print(f"  no attack       check-transition {idle.summary()}  rss {server.rss_mb():.0f} MB")
        flood = while_attacked(port, header_flood(port, args.flooders, args.flood_mb),
                               args.seconds, Probe(port, "POST", "/v1/check-transition", CHECK))
        print(f"  header flood    check-transition {flood.summary()}  "
              f"rss {server.rss_mb():.0f} MB")
    with serving(executable) as server:
        port = server.port
        slow = Slowloris(port, args.slow)
        loris = while_attacked(port, slow.attack, args.seconds + 5,
                               Probe(port, "POST", "/v1/check-transition", CHECK))
        print(f"  slowloris       check-transition {loris.summary()}  "
              f"attack connections closed by the server: {slow.closed_by_server}")
        for name, body in heavy:
            health, check, outcome = during_heavy_evaluate(port, body)
            print(f"  heavy evaluate  ({name}: {len(body) / 2**20:.1f} MB, {outcome})")
            print(f"                  healthz          {health.summary()}")
            print(f"                  check-transition {check.summary()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="the old build's pipeline-rules")
    parser.add_argument("--after", default=str(ROOT / ".venv" / "bin" / "pipeline-rules"))
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--flooders", type=int, default=2)
    parser.add_argument("--flood-mb", type=int, default=8)
    parser.add_argument("--slow", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    one_deal = evaluate_body(1, 160_000, args.seed)
    limits = evaluate_body(15, 10_000, args.seed)
    print(f"machine: {os.cpu_count()} cores; seconds per attack {args.seconds:g}, "
          f"{args.flooders} flooders x {args.flood_mb} MB heads, {args.slow} slow connections")
    measure("before", args.before, args, [("1 deal x 160,000 entries", one_deal),
                                          ("15 deals x 10,000 entries", limits)])
    measure("after", args.after, args, [("15 deals x 10,000 entries", limits)])


if __name__ == "__main__":
    main()
