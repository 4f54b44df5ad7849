"""The runtime's cost: ingest into SQLite, and a tick against a full evaluation.

    python benchmarks/bench_runtime.py [--count 100000] [--repeat 3] [--changed 0.01]
                                       [--step 10m]

Generates ``--count`` seeded deals for the reference ruleset (generate_deals.py), then, in this
process:

* **ingest**: every deal upserted into a fresh SQLite store (500 a transaction), judged at
  ``now`` — upserts per second;
* **full evaluate**: every deal judged at ``now + step`` by the same judge, nothing stored (the
  batch a scheduled run repeats) — median of ``--repeat``;
* **tick**: ``--repeat`` windows of ``step`` each: ``--changed`` of the deals (a seeded sample)
  are sent again with one more task (upserts, judged at once), then the store is ticked to the
  window's end — median of the windows.

It prints each figure and the ratio tick / full evaluate, measured in this one run. The issue's
figure is for 1,000,000 deals; the default is 100,000 (a tick's cost does not depend on how
many deals are stored, only on how many wake, but ingest of a million takes minutes here).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from generate_deals import NOW, deals  # noqa: E402

from pipeline_rules.deals.model import Record  # noqa: E402
from pipeline_rules.evaluate.judge import Judge, Runs  # noqa: E402
from pipeline_rules.ruleset.catalog import load_catalog  # noqa: E402
from pipeline_rules.runtime.service import Runtime  # noqa: E402
from pipeline_rules.runtime.sqlite import SqliteStore  # noqa: E402
from pipeline_rules.time.durations import parse_duration  # noqa: E402


def changed(deal: dict[str, Any], window: int) -> dict[str, Any]:
    """The deal as a CRM sends it again: one more open task."""
    tasks = [*deal.get("tasks", []), {"id": f"{deal['id']}-w{window}",
                                     "due": (NOW + timedelta(days=2)).isoformat(),
                                     "done": False}]
    return {**deal, "tasks": tasks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--changed", type=float, default=0.01)
    parser.add_argument("--step", default="10m")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    step = timedelta(seconds=parse_duration(args.step).amount)
    rng = random.Random(args.seed)
    sample = list(deals(args.count, seed=args.seed, now=NOW))
    judge = Judge.of(load_catalog(ROOT / "rulesets" / "b2b_sales.yaml"))

    with tempfile.TemporaryDirectory() as folder:
        runtime = Runtime(judge, SqliteStore(str(Path(folder) / "bench.db")))
        records = [Record(f"deal {n}", d) for n, d in enumerate(sample, 1)]
        start = time.perf_counter()
        counts = runtime.ingest(records, NOW)
        ingest = time.perf_counter() - start
        assert counts.stored == args.count, counts

        full = []
        for _ in range(args.repeat):
            runs = Runs(NOW + step)
            start = time.perf_counter()
            for record in records:
                judge.judge(record, runs)
            full.append(time.perf_counter() - start)

        ticks, woken, upserts = [], [], []
        moment = NOW
        for window in range(1, args.repeat + 1):
            moment += step
            chosen = rng.sample(sample, max(1, int(args.count * args.changed)))
            again = [Record(f"again {window}", changed(d, window)) for d in chosen]
            start = time.perf_counter()
            runtime.ingest(again, moment)
            counts = runtime.tick(moment)
            ticks.append(time.perf_counter() - start)
            woken.append(counts.woken)
            upserts.append(len(again))
        runtime.store.close()

    full_median = statistics.median(full)
    tick_median = statistics.median(ticks)
    print(f"deals stored:           {args.count:,}")
    print(f"ingest into SQLite:     {ingest:.2f} s, {args.count / ingest:,.0f} upserts/s")
    print(f"full evaluate:          {full_median:.3f} s (median of {args.repeat}), "
          f"{args.count / full_median:,.0f} deals/s")
    print(f"tick + upserts per {args.step}: {tick_median:.3f} s (median of {args.repeat}; "
          f"{statistics.median(upserts):,.0f} upserts, {statistics.median(woken):,.0f} "
          f"deals woken)")
    print(f"tick / full evaluate:   {tick_median / full_median:.2%}")


if __name__ == "__main__":
    main()
