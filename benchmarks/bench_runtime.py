"""The runtime's figures (issue 16): ingest, a tick against a full evaluation, the memory of
``serve --store``, and delivery to a flaky webhook receiver.

    python benchmarks/bench_runtime.py [--count 100000[,1000000]] [--repeat 5] [--changed 0.01]
        [--step 10m] [--postgresql URL] [--serve] [--webhook 1000] [--seed 42]

For each ``--count`` (several sizes, comma-separated, show how the figures grow), seeded deals
for the reference ruleset (generate_deals.py), and in this one process:

* **ingest**: every deal upserted into a fresh SQLite store (the runtime's batches of 500, one
  transaction each), judged at ``now`` — upserts per second; then every deal sent again as it
  was, a minute later (what a CRM that exports everything does): those whose wake has not come
  are left as they are;
* **full evaluate**: the batch a scheduled run repeats, measured two ways: the ``evaluate``
  command on the deals as a JSON Lines file at the window's end (``pipeline-rules evaluate
  RULESET deals.jsonl --now T --output findings.jsonl``: reading, judging and writing, the CPU
  time of that process — the baseline the figure is defined against), and, stricter, every deal
  judged in this process by the same judge, already decoded, nothing written;
* **tick**: a window of ``--step``: ``--changed`` of the deals (a seeded sample) are sent again
  with one more task (JSON lines decoded and upserted, each judged at once), then the store is
  ticked to the window's end.

Full evaluations and windows alternate, ``--repeat`` of each, and each figure is the median of
the ratios window / full evaluation of each pair: the machine's load at one moment weighs on
both sides of a ratio. Times are CPU time (of this process, or of the ``evaluate`` process:
steadier on a shared machine than the wall clock, which is printed beside it for ingest); the
deals ingested are kept as JSON and decoded outside the timed part.

``--postgresql URL``: ingest the same deals into a fresh database made on that server (dropped
afterwards). ``--serve``: start ``pipeline-rules serve rulesets/ --store`` on the largest store,
put and read deals over HTTP while its scheduler runs, and report its peak RSS. ``--webhook N``:
N alerts fall due in a store and are delivered to a loopback receiver that fails 30 % of
requests (seeded), with the runtime's retries: every alert must arrive, and the delay from due
to delivered is reported (median, p99, max).
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import random
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from generate_deals import NOW, deals  # noqa: E402

from pipeline_rules.deals.model import Record  # noqa: E402
from pipeline_rules.evaluate.judge import Judge, Runs  # noqa: E402
from pipeline_rules.ruleset.catalog import load_catalog  # noqa: E402
from pipeline_rules.runtime.service import Retry, Runtime  # noqa: E402
from pipeline_rules.runtime.sinks import WebhookSink  # noqa: E402
from pipeline_rules.runtime.sqlite import SqliteStore  # noqa: E402
from pipeline_rules.runtime.store import Store  # noqa: E402
from pipeline_rules.time.durations import parse_duration  # noqa: E402

B2B = ROOT / "rulesets" / "b2b_sales.yaml"
#: Deals decoded at a time outside the timed parts.
CHUNK = 20_000
cpu = time.process_time


def changed(deal: dict[str, Any], window: int) -> dict[str, Any]:
    """The deal as a CRM sends it again: one more open task."""
    tasks = [*deal.get("tasks", []), {"id": f"{deal['id']}-w{window}",
                                     "due": (NOW + timedelta(days=2)).isoformat(),
                                     "done": False}]
    return {**deal, "tasks": tasks}


def chunks(lines: list[bytes]) -> Iterator[list[Record]]:
    """The deals as records, CHUNK at a time."""
    for start in range(0, len(lines), CHUNK):
        yield [Record(f"deal {start + n + 1}", orjson.loads(line))
               for n, line in enumerate(lines[start:start + CHUNK])]


def ingest(runtime: Runtime, lines: list[bytes]) -> tuple[float, float]:
    """Every deal upserted at NOW: (CPU seconds, wall seconds)."""
    spent = wall = 0.0
    for records in chunks(lines):
        start, start_wall = cpu(), time.perf_counter()
        counts = runtime.ingest(records, NOW)
        spent += cpu() - start
        wall += time.perf_counter() - start_wall
        assert counts.stored == len(records), counts
    return spent, wall


def full_evaluate(judge: Judge, lines: list[bytes], moment: datetime) -> float:
    """CPU seconds to judge every deal at ``moment``, nothing stored."""
    runs = Runs(moment)
    spent = 0.0
    for records in chunks(lines):
        start = cpu()
        for record in records:
            judge.judge(record, runs)
        spent += cpu() - start
    return spent


def evaluate_command(deals_file: Path, moment: datetime, folder: Path) -> float:
    """CPU seconds of ``pipeline-rules evaluate`` over ``deals_file`` at ``moment``, findings
    written to a file (what a scheduled full run costs)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-m", "pipeline_rules", "evaluate", str(B2B),
                    str(deals_file), "--now", moment.isoformat(), "--output",
                    str(folder / "findings.jsonl")], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def size(count: int, args: argparse.Namespace, folder: Path) -> tuple[list[bytes], Path]:
    """The figures for ``count`` deals; the deals and the SQLite store are kept for the
    other parts."""
    step = timedelta(seconds=parse_duration(args.step).amount)
    rng = random.Random(args.seed)
    lines = [orjson.dumps(d) for d in deals(count, seed=args.seed, now=NOW)]
    judge = Judge.of(load_catalog(B2B))
    path = folder / f"bench-{count}.db"
    runtime = Runtime(judge, SqliteStore(str(path)))
    spent, wall = ingest(runtime, lines)
    print(f"deals stored:            {count:,}")
    print(f"ingest into SQLite:      {count / spent:,.0f} upserts/s CPU ({spent:.1f} s), "
          f"{count / wall:,.0f} upserts/s wall ({wall:.1f} s)")
    # A CRM that exports everything sends every deal again, most as they were.
    start = cpu()
    again = runtime.ingest((Record(f"again {n}", orjson.loads(line))
                            for n, line in enumerate(lines)), NOW + timedelta(minutes=1))
    spent = cpu() - start
    print(f"sent again a minute on:  {count / spent:,.0f} upserts/s CPU ({spent:.1f} s; "
          f"{again.unchanged:,} unchanged, {again.stored:,} judged again)")

    deals_file = folder / f"deals-{count}.jsonl"
    deals_file.write_bytes(b"\n".join(lines) + b"\n")
    ratios, judged, commands, fulls, windows, woken, steps = [], [], [], [], [], [], []
    moment = NOW
    for window in range(1, args.repeat + 1):
        moment += step
        command = evaluate_command(deals_file, moment, folder)
        full = full_evaluate(judge, lines, moment)
        chosen = rng.sample(range(count), max(1, int(count * args.changed)))
        again = [orjson.dumps(changed(orjson.loads(lines[i]), window)) for i in chosen]
        start = cpu()
        runtime.ingest((Record(f"again {window}:{n + 1}", orjson.loads(line))
                        for n, line in enumerate(again)), moment)
        counts = runtime.tick(moment)
        spent = cpu() - start
        ratios.append(spent / command)
        judged.append(spent / full)
        commands.append(command)
        fulls.append(full)
        windows.append(spent)
        woken.append(counts.woken)
        steps.append(len(again))
    runtime.store.close()
    command_median, full_median = statistics.median(commands), statistics.median(fulls)
    print(f"evaluate command:        {command_median:.2f} s CPU (median of {args.repeat}), "
          f"{count / command_median:,.0f} deals/s")
    print(f"judged in process:       {full_median:.2f} s CPU (median of {args.repeat}), "
          f"{count / full_median:,.0f} deals/s")
    print(f"tick + upserts per {args.step}: {statistics.median(windows):.3f} s CPU (median of "
          f"{args.repeat}; {statistics.median(steps):,.0f} upserts, "
          f"{statistics.median(woken):,.0f} deals woken)")
    print(f"tick / evaluate command: {statistics.median(ratios):.2%} (median of the "
          f"{args.repeat} pairs; each: {', '.join(f'{r:.2%}' for r in ratios)})")
    print(f"tick / judged in process: {statistics.median(judged):.2%} (median of the "
          f"{args.repeat} pairs; each: {', '.join(f'{r:.2%}' for r in judged)})")
    return lines, path


def postgresql(url: str, lines: list[bytes]) -> None:
    """Ingest into a fresh database on the server at ``url``."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    from pipeline_rules.runtime.postgres import PostgresStore

    name = f"bench_runtime_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        target = make_conninfo(**{**conninfo_to_dict(url), "dbname": name})
        store = PostgresStore(target)
        runtime = Runtime(Judge.of(load_catalog(B2B)), store)
        spent, wall = ingest(runtime, lines)
        store.close()
        print(f"ingest into PostgreSQL:  {len(lines) / wall:,.0f} upserts/s wall "
              f"({wall:.1f} s; {len(lines) / spent:,.0f}/s of this process's CPU)")
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name}")


def serve_rss(path: Path, lines: list[bytes], seconds: float) -> None:
    """Peak RSS of ``serve --store`` on the store at ``path``, under a few requests."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline_rules", "serve", str(ROOT / "rulesets"), "--store",
         str(path), "--port", str(port), "--tick", "0.5"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise SystemExit("serve did not start: " + process.stderr.read().decode()
                                     if process.stderr else "") from None
                time.sleep(0.2)
        rng = random.Random(1)
        requests = 0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            deal = orjson.loads(lines[rng.randrange(len(lines))])
            ident = deal["id"]
            put = urllib.request.Request(f"{base}/v1/deals/b2b-sales/{ident}",
                                         orjson.dumps(changed(deal, 99)), method="PUT",
                                         headers={"Content-Type": "application/json"})
            urllib.request.urlopen(put, timeout=30).read()
            urllib.request.urlopen(f"{base}/v1/deals/b2b-sales/{ident}", timeout=30).read()
            urllib.request.urlopen(f"{base}/v1/alerts?status=due&limit=100", timeout=30).read()
            requests += 3
        status = Path(f"/proc/{process.pid}/status").read_text()
        peak = next(line.split()[1] for line in status.splitlines()
                    if line.startswith("VmHWM:"))
        print(f"serve --store peak RSS:  {int(peak) / 1024:,.0f} MB ({len(lines):,} deals "
              f"stored, {requests} requests over {seconds:.0f} s with its scheduler running)")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Flaky(http.server.BaseHTTPRequestHandler):
    """A receiver that fails a seeded 30 % of requests with 500 and notes the rest."""

    rng = random.Random(7)
    lock = threading.Lock()
    arrived: ClassVar[dict[str, float]] = {}  # idempotency key -> first success, monotonic
    failures = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with self.lock:
            fail = self.rng.random() < 0.3
            if fail:
                type(self).failures += 1
            else:
                self.arrived.setdefault(self.headers["Idempotency-Key"], time.monotonic())
        assert body
        self.send_response(500 if fail else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        """Quiet."""


def webhook(count: int, seed: int, folder: Path) -> None:
    """``count`` alerts due and delivered to a receiver failing 30 % of requests."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    judge = Judge.of(load_catalog(B2B))
    store: Store = SqliteStore(str(folder / "webhook.db"))
    runtime = Runtime(judge, store)
    # Deals with an escalation due at once (a breached SLA): each a delivery queued at ingest.
    records = [Record(f"w{n}", deal)
               for n, deal in enumerate(deals(count * 20, seed=seed, now=NOW))]
    runtime.ingest(records, NOW)
    # Only ``count`` of them: the rest are marked done as if delivered before.
    with store.transaction():
        for delivery in store.pending(10**7)[count:]:
            store.finish_delivery(delivery.seq, "done", 0)
    pending = store.pending(10**7)
    due = time.monotonic()
    sink = WebhookSink(f"http://127.0.0.1:{server.server_address[1]}/hook", b"secret")
    retry = Retry(rng=random.Random(seed))
    while store.pending(1):
        runtime.deliver(sink, retry=retry)
        time.sleep(0.02)
    keys = {f"{d.key}:{d.event}" for d in pending}
    server.shutdown()
    store.close()
    assert keys <= set(Flaky.arrived), "an alert was not delivered"
    delays = sorted(Flaky.arrived[k] - due for k in keys)
    p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))]
    print(f"webhook, 30 % failures:  {len(keys):,} alerts, all delivered "
          f"({Flaky.failures:,} failed requests retried); delay from due to delivered: "
          f"median {statistics.median(delays):.2f} s, p99 {p99:.2f} s, max {delays[-1]:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", default="100000",
                        help="Deals stored; several sizes comma-separated.")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--changed", type=float, default=0.01)
    parser.add_argument("--step", default="10m")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--postgresql", default=None, metavar="URL")
    parser.add_argument("--serve", action="store_true")
    parser.add_argument("--serve-seconds", type=float, default=20.0)
    parser.add_argument("--webhook", type=int, default=0, metavar="N")
    args = parser.parse_args()
    print(f"# bench_runtime {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
          f"{json.dumps(vars(args))}")
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        lines: list[bytes] = []
        path = folder
        for count in (int(c) for c in args.count.split(",")):
            if path.is_file():
                path.unlink()  # only the largest store is kept
            lines, path = size(count, args, folder)
        if args.postgresql:
            postgresql(args.postgresql, lines)
        if args.serve:
            serve_rss(path, lines, args.serve_seconds)
        if args.webhook:
            webhook(args.webhook, args.seed, folder)


if __name__ == "__main__":
    main()
