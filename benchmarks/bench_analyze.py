"""Analysis speed and memory against evaluation, and the time of a 90-point backtest.

    python benchmarks/bench_analyze.py [--count 1000000] [--backtest-count 100000] [--repeat 3]

Generates seeded deals for the reference ruleset (generate_deals.py), then measures with medians
of ``--repeat`` runs, alternating:

* ``pipeline-rules analyze`` and ``pipeline-rules evaluate`` on the same ``--count`` deals, with
  the peak RSS of each process and the ratio analyze / evaluate;
* ``pipeline-rules backtest`` over 90 daily evaluation points on ``--backtest-count`` deals.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_evaluate import timed  # noqa: E402
from generate_deals import NOW, deals  # noqa: E402


def write(path: Path, count: int) -> None:
    with open(path, "wb") as out:
        for record in deals(count, seed=42, now=NOW):
            out.write(orjson.dumps(record) + b"\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--backtest-count", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    ruleset = str(ROOT / "rulesets/b2b_sales.yaml")
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        big, small = Path(tmp) / "deals.jsonl", Path(tmp) / "backtest.jsonl"
        write(big, args.count)
        write(small, args.backtest_count)
        now = NOW.isoformat()
        analyze = [python, "-m", "pipeline_rules", "analyze", ruleset, str(big), "--now", now,
                   "--format", "json"]
        evaluate = [python, "-m", "pipeline_rules", "evaluate", ruleset, str(big), "--now", now,
                    "--format", "jsonl"]
        start = (NOW - timedelta(days=89)).isoformat()
        back = [python, "-m", "pipeline_rules", "backtest", ruleset, str(small), "--from", start,
                "--to", now, "--every", "1d", "--format", "json"]
        runs: dict[str, list[tuple[float, int]]] = {"analyze": [], "evaluate": [], "backtest": []}
        for _ in range(args.repeat):
            runs["analyze"].append(timed(analyze))
            runs["evaluate"].append(timed(evaluate))
            runs["backtest"].append(timed(back))
    seconds = {k: statistics.median(t for t, _ in v) for k, v in runs.items()}
    rss = {k: max(r for _, r in v) / 1024 for k, v in runs.items()}
    for name, count in (("analyze", args.count), ("evaluate", args.count),
                        ("backtest", args.backtest_count)):
        print(f"{name:>8}: {seconds[name]:7.1f} s for {count:,} deals "
              f"({count / seconds[name]:,.0f} deals/s), peak RSS {rss[name]:.0f} MB "
              f"(median of {args.repeat})")
    print(f"analyze / evaluate: {seconds['analyze'] / seconds['evaluate']:.2f}x; backtest: 90 "
          f"daily points on {args.backtest_count:,} deals in {seconds['backtest']:.1f} s")


if __name__ == "__main__":
    main()
