"""What refusing duplicate keys in a JSON deal would cost the evaluator, per deal.

    python benchmarks/bench_duplicate_keys.py [--count 20000] [--repeat 7]

JSON parsers (orjson, msgspec) keep the last of two equal keys without a word. Seeing a
duplicate takes a parse that reports every key: the standard library's ``json.loads`` with an
``object_pairs_hook`` is the cheapest exact one at hand. Measured in this one process on
``--count`` seeded deals for the reference ruleset (generate_deals.py), medians of ``--repeat``
passes, alternating:

* the evaluator's own per-line work on the fast route (decode + every check + findings:
  ``Evaluator.line_outcome``), the cost a deal has today;
* the duplicate-key check alone on the same lines;

and prints both in microseconds a deal and the check's share of the evaluation.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from generate_deals import NOW, deals  # noqa: E402

from pipeline_rules.evaluate import Evaluator  # noqa: E402
from pipeline_rules.ruleset.catalog import compile_path  # noqa: E402


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """``object_pairs_hook``: the object, or ValueError naming a repeated key."""
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"key '{key}' is repeated")
            seen.add(key)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    import orjson

    lines = [orjson.dumps(deal) + b"\n" for deal in deals(args.count, 42, NOW)]
    evaluator = Evaluator(compile_path(ROOT / "rulesets" / "b2b_sales.yaml"))
    run = evaluator.run(datetime.fromisoformat("2026-11-20T09:05:00+03:00"))

    def evaluate() -> None:
        for number, line in enumerate(lines, 1):
            evaluator.line_outcome(line, run, "deals.jsonl", number)

    def check() -> None:
        for line in lines:
            json.loads(line, object_pairs_hook=_no_duplicates)

    times: dict[str, list[float]] = {"evaluate": [], "check": []}
    for _ in range(args.repeat):
        for name, action in (("evaluate", evaluate), ("check", check)):
            started = time.perf_counter()
            action()
            times[name].append((time.perf_counter() - started) / len(lines) * 1e6)
    evaluate_us = statistics.median(times["evaluate"])
    check_us = statistics.median(times["check"])
    size = statistics.median(len(line) for line in lines)
    print(f"{len(lines):,} deals (median {size:.0f} bytes a line), medians of {args.repeat}:")
    print(f"  evaluation (decode, checks, findings): {evaluate_us:.1f} µs a deal")
    print(f"  duplicate-key check alone:             {check_us:.1f} µs a deal "
          f"({check_us / evaluate_us:.0%} of the evaluation)")


if __name__ == "__main__":
    main()
