"""What the studio's deals part costs per request, at a few sizes of deals.

    python benchmarks/bench_studio_deals.py [--counts 1000,10000,100000] [--repeat 3]

Generates seeded deals for the reference ruleset (generate_deals.py) and times, in this process
(medians of ``--repeat`` runs), the work behind each endpoint: loading the file, the findings of
every deal at one ``now`` (a move of the slider), one deal's timeline, and a what-if of the
meeting SLA tightened from 7 to 2 days without and with a 30-day daily backtest. The ratio
column is the findings at a ``now`` per deal against ``pipeline-rules evaluate``'s engine on the
same deals in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from generate_deals import NOW, deals  # noqa: E402

from pipeline_rules.evaluate.engine import evaluate_stream  # noqa: E402
from pipeline_rules.evaluate.judge import Judge  # noqa: E402
from pipeline_rules.ruleset.catalog import catalog_of, compile_path  # noqa: E402
from pipeline_rules.studio.context import compile_named  # noqa: E402
from pipeline_rules.studio.deals import (  # noqa: E402
    Period,
    findings_at,
    load_deals,
    timeline,
    what_if,
)


def median(fn: Callable[[], Any], repeat: int) -> float:
    """The median wall time of ``fn`` in seconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="1000,10000,100000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    saved = compile_path(ROOT / "rulesets" / "b2b_sales.yaml")
    text = (ROOT / "rulesets" / "b2b_sales.yaml").read_text("utf-8")
    draft = compile_named("b2b_sales.yaml", text.replace("limit: 7d", "limit: 2d", 1))
    period = Period(NOW - timedelta(days=30), NOW, timedelta(days=1))
    print(f"{'deals':>8} {'load':>8} {'findings':>9} {'engine':>8} {'ratio':>6} "
          f"{'timeline':>9} {'what-if':>8} {'+backtest':>10}  (seconds, medians of "
          f"{args.repeat})")
    with tempfile.TemporaryDirectory() as tmp:
        for count in (int(c) for c in args.counts.split(",")):
            path = Path(tmp) / f"deals-{count}.jsonl"
            with open(path, "wb") as out:
                for record in deals(count, seed=42, now=NOW):
                    out.write(orjson.dumps(record) + b"\n")
            loaded = load_deals(str(path), saved.zone, cap=count)
            records = loaded.records
            first = records[0]
            judge = Judge.of(catalog_of(saved))
            load = median(lambda p=path, c=count: load_deals(str(p), saved.zone, cap=c),
                          args.repeat)
            found = median(lambda r=records: findings_at(saved, r, NOW), args.repeat)
            engine = median(lambda r=records, j=judge: [s for s in evaluate_stream(
                j, [list(r)], NOW)], args.repeat)
            line = median(lambda r=first: timeline(saved, r, NOW), args.repeat)
            compared = median(lambda r=records: what_if(saved, draft, r, NOW), args.repeat)
            backtested = median(lambda r=records: what_if(saved, draft, r, NOW, period),
                                args.repeat)
            print(f"{count:>8,} {load:>8.3f} {found:>9.3f} {engine:>8.3f} "
                  f"{found / engine:>6.2f} {line:>9.4f} {compared:>8.3f} {backtested:>10.3f}",
                  flush=True)


if __name__ == "__main__":
    main()
