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
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOW = "2026-11-20T09:05:00+03:00"
RULESET = ROOT / "rulesets" / "b2b_sales.yaml"


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _seconds(command: list[str], output: Path) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one run of ``command``, its stdout into ``output``.

    CPU time (user + system of the child) is what the command costs; on a shared machine it
    moves much less with other load than wall-clock time does."""
    with output.open("wb") as out:
        start, cpu = time.perf_counter(), _cpu()
        subprocess.run(command, stdout=out, stderr=subprocess.DEVNULL, check=True,
                       env={**os.environ, "LANG": "C.UTF-8"})
        return time.perf_counter() - start, _cpu() - cpu


def _evaluate(cli: str, deals: Path) -> list[str]:
    return [cli, "evaluate", str(RULESET), str(deals), "--now", NOW, "--format", "jsonl",
            "--lang", "en"]


def _measure(commands: dict[str, list[str]], repeat: int,
             work: Path) -> dict[str, list[tuple[float, float]]]:
    """Each command ``repeat`` times, alternating, so drift and noise hit all of them."""
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
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
    print(f"{args.count:,} deals, {args.repeat} runs each; start-up: {args.startups} runs each;"
          " medians")
    print(f"{'':<28}{'baseline':>12}{'current':>12}{'current/baseline':>18}")
    rows = [("evaluate, µs a deal", bulk, 1e6 / args.count), ("start-up, ms", start, 1e3)]
    for label, runs, scale in rows:
        for kind, index in (("wall", 0), ("CPU", 1)):
            old, new = (statistics.median(t[index] for t in runs[n]) * scale
                        for n in ("baseline", "current"))
            print(f"{label + ' (' + kind + ')':<28}{old:>12.2f}{new:>12.2f}{new / old:>18.3f}")
    print(f"outputs byte-identical: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
