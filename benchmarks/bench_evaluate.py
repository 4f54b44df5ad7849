"""Evaluation speed and memory: the CLI on generated deals, against the parse floor.

    python benchmarks/bench_evaluate.py [--count 1000000] [--repeat 3] [--keep FILE]
                                        [--breakdown 200000]

Generates ``--count`` seeded deals for the reference ruleset (generate_deals.py) into a JSONL
file, then measures, alternating the runs, with medians of ``--repeat``:

* the parse floor — a loop that reads each line, parses it with orjson and parses every
  timestamp in it with ``datetime.fromisoformat``, and nothing else;
* ``pipeline-rules evaluate`` with ``--jobs 1`` and ``--jobs 2`` (output to /dev/null), with the
  peak RSS of each process;

and prints deals/s, the ratio to the parse floor, the speed-up of two jobs, and peak RSS.

``--breakdown N`` then says where one process spends its time, in microseconds a deal over the
first N deals (in this process, collector on, best of 3): the whole batch, decoding lines to
deals, each check on the deals it judges (its findings included), and writing the findings out.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from generate_deals import NOW, deals  # noqa: E402

FLOOR = """
import sys, orjson
from datetime import datetime
parse = datetime.fromisoformat
with open(sys.argv[1], "rb") as stream:
    for line in stream:
        d = orjson.loads(line)
        for h in d["history"]:
            parse(h["at"])
        for t in d["tasks"]:
            if t["due"] is not None:
                parse(t["due"])
        for e in d["events"]:
            parse(e["at"])
        for p in d.get("pauses", ()):
            parse(p["from"])
            if p["to"] is not None:
                parse(p["to"])
"""


def timed(command: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KB, from GNU time's %M or the kernel's accounting)."""
    started = time.perf_counter()
    with tempfile.NamedTemporaryFile("r") as report:
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", report.name, *command],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        spent = time.perf_counter() - started
        rss = int(report.read().strip().splitlines()[-1])
    return spent, rss


def _exhaust(check: Callable[[Any, Any], Any], run: Any, deal: Any) -> list[Any]:
    return list(check(deal, run))


def _best(work: Callable[[], object], count: int) -> float:
    """Microseconds a deal of the fastest of three runs of ``work`` over ``count`` deals."""
    spent = []
    for _ in range(3):
        started = time.perf_counter()
        work()
        spent.append(time.perf_counter() - started)
    return min(spent) / count * 1e6


def breakdown(path: Path, count: int) -> None:
    """Where the time of one process goes, part by part (see the module docstring)."""
    from itertools import islice

    from pipeline_rules import evaluate
    from pipeline_rules.deals.decode import decode_deal
    from pipeline_rules.deals.readers.jsonl import Block
    from pipeline_rules.evaluate.engine import judge_batch, serialise
    from pipeline_rules.evaluate.judge import Judge, Runs
    from pipeline_rules.ruleset.catalog import load_file

    with open(path, "rb") as stream:
        lines = list(islice(stream, count))
    count = len(lines)
    blocks = [Block(str(path), i + 1, lines[i:i + 1000]) for i in range(0, count, 1000)]
    judge = Judge.of(load_file(ROOT / "rulesets/b2b_sales.yaml"))
    runs = Runs(NOW)
    evaluator = next(iter(judge.evaluators.values()))
    run = runs.of(evaluator)
    zone = evaluator.compiled.zone

    def whole() -> None:
        for block in blocks:
            judge_batch(judge, runs, block)

    whole()  # warm the per-run caches
    full = _best(whole, count)

    def each(items: list[Any], work: Callable[[Any], object]) -> Callable[[], None]:
        def loop() -> None:  # results dropped as they come, as the evaluator does
            for item in items:
                work(item)
        return loop

    deals = [d for d in (decode_deal(x, zone) for x in lines) if d is not None]
    terminal = evaluator.compiled.graph.terminal
    parts = {
        "orjson.loads (the floor's parser)": _best(each(lines, orjson.loads), count),
        "decode to deals (msgspec)": _best(each(lines, lambda x: decode_deal(x, zone)), count),
    }
    # Each check timed on the deals it runs on (open ones, or all for the history's replay),
    # findings included, spread over every deal of the sample.
    for check in evaluate.OPEN_DEAL_CHECKS:
        judged = deals if check in evaluate.CLOSED_DEAL_CHECKS else \
            [d for d in deals if d.stage not in terminal]
        parts[check.__name__] = _best(each(judged, partial(_exhaust, check, run)), count)
    found = [f for d in deals for f in evaluator.findings(d, run)]
    parts["serialise findings"] = _best(each(found, lambda f: serialise(f, run)), count)
    print(f"where one process spends its time ({count:,} deals, {len(found) / count:.2f} "
          "findings a deal, microseconds a deal, best of 3):")
    print(f"  {'whole batch (decode, checks, findings, serialise)':<56} {full:6.2f}")
    for name, spent in parts.items():
        print(f"  {name:<56} {spent:6.2f}")
    rest = full - sum(parts.values()) + parts["orjson.loads (the floor's parser)"]
    print(f"  {'the rest: per-record stage checks, ordering, batching':<56} {rest:6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", help="write the generated deals here and keep them")
    parser.add_argument("--breakdown", type=int, default=0, metavar="N",
                        help="also time each part of the evaluation on the first N deals")
    args = parser.parse_args()

    path = Path(args.keep) if args.keep else Path(tempfile.mkstemp(suffix=".jsonl")[1])
    started = time.perf_counter()
    with open(path, "wb") as out:
        for record in deals(args.count, seed=42, now=NOW):
            out.write(orjson.dumps(record) + b"\n")
    size = path.stat().st_size
    print(f"generated {args.count:,} deals ({size / 2**20:.0f} MiB) in "
          f"{time.perf_counter() - started:.0f} s")

    python = sys.executable
    evaluate = [python, "-m", "pipeline_rules", "evaluate", str(ROOT / "rulesets/b2b_sales.yaml"),
                str(path), "--now", NOW.isoformat(), "--format", "jsonl"]
    runs: dict[str, list[tuple[float, int]]] = {"floor": [], "jobs1": [], "jobs2": []}
    for _ in range(args.repeat):
        runs["floor"].append(timed([python, "-c", FLOOR, str(path)]))
        runs["jobs1"].append(timed([*evaluate, "--jobs", "1"]))
        runs["jobs2"].append(timed([*evaluate, "--jobs", "2"]))
    seconds = {k: statistics.median(t for t, _ in v) for k, v in runs.items()}
    rss = {k: max(r for _, r in v) / 1024 for k, v in runs.items()}
    for name in ("floor", "jobs1", "jobs2"):
        print(f"{name:>6}: {seconds[name]:7.1f} s  {args.count / seconds[name]:>10,.0f} deals/s  "
              f"peak RSS {rss[name]:.0f} MB (median of {args.repeat})")
    print(f"ratio to the parse floor: jobs1 {seconds['jobs1'] / seconds['floor']:.1f}x, "
          f"jobs2 {seconds['jobs2'] / seconds['floor']:.1f}x; "
          f"--jobs 2 is {seconds['jobs1'] / seconds['jobs2']:.2f}x faster than --jobs 1")
    print(f"measured {datetime.now():%Y-%m-%d %H:%M} on {os.cpu_count()} CPUs")
    if args.breakdown:
        breakdown(path, args.breakdown)
    if not args.keep:
        path.unlink()


if __name__ == "__main__":
    main()
