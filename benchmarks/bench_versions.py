"""Evaluation with a ruleset kept in three versions against the same ruleset as one file.

    python benchmarks/bench_versions.py [--count 50000] [--repeat 5]

Generates ``--count`` seeded deals for the reference ruleset (generate_deals.py) and judges them
in this process through the one judge (``judge_batch``, as ``evaluate --jobs 1`` does) with:

* ``one``: ``rulesets/b2b_sales.yaml`` as it is;
* ``three``: a versions folder of it in three versions (taking effect 1 January, 1 September
  and 1 November 2026, so the generated histories fall under all three), whose SLA limits
  differ — the common change, where the moves are the same and one replay serves all;
* ``three-moves``: the same with a move added in each later version, so moves are judged per
  version (a replay per version).

Variants take turns block by block (1,000 deals), so a change in the machine's load falls on
each alike; each is timed ``--repeat`` times and the median microseconds a deal are printed (CPU
time of the process) with the ratio to ``one`` (the aim: no worse than 1.2x).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from generate_deals import NOW, deals  # noqa: E402

BASE = (ROOT / "rulesets" / "b2b_sales.yaml").read_text("utf-8")
VERSIONS = [("1", "2026-01-01", {}),
            ("2", "2026-09-01", {"limit: 7d": "limit: 8d", "limit: 45d": "limit: 50d"}),
            ("3", "2026-11-01", {"limit: 7d": "limit: 9d", "limit: 45d": "limit: 40d",
                                 "warn: [80]": "warn: [70]"})]
MOVE = ("  - {from: qualification, to: meeting}\n",
        "  - {from: qualification, to: meeting}\n  - {from: qualification, to: proposal}\n")


def write_versions(folder: Path, moves: bool) -> None:
    """The three versions of the reference ruleset into ``folder``."""
    folder.mkdir()
    for number, (revision, effective, changes) in enumerate(VERSIONS):
        text = BASE.replace("version: 1\n",
                            f"version: 1\nrevision: {revision}\neffective: {effective}\n", 1)
        for old, new in changes.items():
            text = text.replace(old, new)
        if moves and number:
            text = text.replace(*MOVE)
        (folder / f"v{revision}.yaml").write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from pipeline_rules.deals.readers.jsonl import Block
    from pipeline_rules.evaluate.engine import judge_batch
    from pipeline_rules.evaluate.judge import Judge, Runs
    from pipeline_rules.ruleset.catalog import load_catalog

    lines = [orjson.dumps(d) + b"\n" for d in deals(args.count, seed=42, now=NOW)]
    blocks = [Block("deals.jsonl", i + 1, lines[i:i + 1000]) for i in range(0, len(lines), 1000)]
    with tempfile.TemporaryDirectory() as tmp:
        write_versions(Path(tmp) / "three", moves=False)
        write_versions(Path(tmp) / "three-moves", moves=True)
        judges = {"one": Judge.of(load_catalog(ROOT / "rulesets" / "b2b_sales.yaml")),
                  "three": Judge.of(load_catalog(Path(tmp) / "three")),
                  "three-moves": Judge.of(load_catalog(Path(tmp) / "three-moves"))}
    used = {name: 0 for name in judges}
    spent: dict[str, list[float]] = {name: [] for name in judges}
    for round_ in range(args.repeat + 1):  # the first round warms the caches, untimed
        runs_of = {name: Runs(NOW) for name in judges}
        taken = dict.fromkeys(judges, 0.0)
        # Block by block in turn, so a change in the machine's load falls on every variant
        # alike; CPU time of this process, steadier than the wall clock on a shared machine.
        for block in blocks:
            for name, judge in judges.items():
                started = time.process_time()
                judge_batch(judge, runs_of[name], block)
                taken[name] += time.process_time() - started
        if round_:
            for name in judges:
                spent[name].append(taken[name])
    # Which versions judged the findings, to show the histories fall under all three.
    for name in ("three",):
        runs = Runs(NOW)
        seen: dict[str, int] = {}
        evaluator = next(iter(judges[name].evaluators.values()))
        run = runs.of(evaluator)
        from pipeline_rules.deals.decode import decode_deal

        for line in lines:
            deal = decode_deal(line, run.compiled.zone)
            if deal is None:
                continue
            for finding in evaluator.findings(deal, run):
                seen[finding.version or "-"] = seen.get(finding.version or "-", 0) + 1
        print(f"findings by version ({name}): "
              + ", ".join(f"v{k} {v:,}" for k, v in sorted(seen.items())))
        used[name] = len(seen)
    one = statistics.median(spent["one"]) / args.count * 1e6
    print(f"{args.count:,} deals, median of {args.repeat}, microseconds a deal:")
    for name, times in spent.items():
        each = statistics.median(times) / args.count * 1e6
        print(f"  {name:<12} {each:7.2f} us   {each / one:.2f}x one version")
    print(f"measured {datetime.now():%Y-%m-%d %H:%M} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
