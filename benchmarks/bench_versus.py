"""This checkout's `pipeline-rules evaluate` against a baseline build, measured in one run.

    python benchmarks/bench_versus.py --baseline OLD/.venv/bin/pipeline-rules [--count 200000]

The baseline is another checkout's command (e.g. an older commit in a git worktree with its own
virtual environment). Both commands evaluate the same seeded deals with the same ruleset,
alternately, so machine noise falls on both alike; the report gives medians and the ratio
this/baseline for:

- throughput: microseconds per deal on ``--count`` generated deals (JSON Lines out, to a file);
- start-up: one `evaluate FILE` of the six example deals (reading, checking and compiling the
  ruleset dominates).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOW = "2026-11-20T09:05:00+03:00"
RULESET = ROOT / "rulesets" / "b2b_sales.yaml"


def _seconds(command: list[str], output: Path) -> float:
    """Wall-clock seconds of one run of ``command``, its stdout into ``output``."""
    with output.open("wb") as out:
        start = time.perf_counter()
        subprocess.run(command, stdout=out, stderr=subprocess.DEVNULL, check=True,
                       env={**os.environ, "LANG": "C.UTF-8"})
        return time.perf_counter() - start


def _evaluate(cli: str, deals: Path) -> list[str]:
    return [cli, "evaluate", str(RULESET), str(deals), "--now", NOW, "--format", "jsonl",
            "--lang", "en"]


def _measure(commands: dict[str, list[str]], repeat: int, work: Path) -> dict[str, list[float]]:
    """Each command ``repeat`` times, alternating, so drift and noise hit all of them."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, command in commands.items():
            times[name].append(_seconds(command, work / f"{name}.out"))
    return times


def main() -> None:
    """Run both commands and print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="the baseline's pipeline-rules command")
    parser.add_argument("--current", default=str(Path(sys.executable).with_name("pipeline-rules")),
                        help="this checkout's command (default: beside this Python)")
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--startups", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        deals = work / "deals.jsonl"
        with deals.open("wb") as out:
            subprocess.run([sys.executable, str(ROOT / "benchmarks" / "generate_deals.py"),
                            str(args.count)], stdout=out, check=True)
        clis = {"baseline": args.baseline, "current": args.current}
        bulk = _measure({n: _evaluate(c, deals) for n, c in clis.items()}, args.repeat, work)
        same = (work / "baseline.out").read_bytes() == (work / "current.out").read_bytes()
        small = ROOT / "examples" / "deals.jsonl"
        start = _measure({n: _evaluate(c, small) for n, c in clis.items()}, args.startups, work)
    per_deal = {n: statistics.median(t) / args.count * 1e6 for n, t in bulk.items()}
    startup = {n: statistics.median(t) * 1e3 for n, t in start.items()}
    print(f"{args.count:,} deals, {args.repeat} runs each; start-up: {args.startups} runs each")
    print(f"{'':<22}{'baseline':>12}{'current':>12}{'current/baseline':>18}")
    print(f"{'evaluate, µs a deal':<22}{per_deal['baseline']:>12.2f}{per_deal['current']:>12.2f}"
          f"{per_deal['current'] / per_deal['baseline']:>18.3f}")
    print(f"{'start-up, ms':<22}{startup['baseline']:>12.1f}{startup['current']:>12.1f}"
          f"{startup['current'] / startup['baseline']:>18.3f}")
    print(f"outputs byte-identical: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
