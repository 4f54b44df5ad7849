"""What routing costs: per-deal time with routing against the same run without it.

    python benchmarks/bench_routing.py [--count 200000] [--repeat 5] [--seed 42]

Generates ``--count`` seeded deals (generate_deals.py) and evaluates them at the generator's
``now`` with

* ``reference`` — rulesets/b2b_sales.yaml as it is (no routing);
* ``routed`` — the same file with routing turned on: a ``routing:`` block with its defaults
  (every violation to its people), the teams and the owner → manager lookup file of the routed
  example;
* ``example`` — examples/b2b_sales_routed.yaml, which also has warning and escalation levels,
  stage-entry and end actions and the pause limit (shown for information).

Two measures of CPU time (not wall-clock: on a shared machine other processes' load moves the
wall clock by 2x from run to run), each the median of ``--repeat`` runs, the rulesets
alternated:

* in process — decoding each line, ``Evaluator.findings`` and the findings' JSON form, deal by
  deal as the engine streams them, in microseconds a deal (without start-up, reading files or
  writing);
* end to end — the CPU time of ``pipeline-rules evaluate --jobs 1`` into /dev/null, in
  microseconds a deal (start-up included).

It prints both, the ratio routed / reference for each, and how many findings each ruleset gave.
The target is a ratio of at most 1.2.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from generate_deals import NOW, deals  # noqa: E402

from pipeline_rules.deals.decode import decode_deal  # noqa: E402
from pipeline_rules.evaluate import Evaluator  # noqa: E402
from pipeline_rules.ruleset.catalog import compile_path  # noqa: E402

REFERENCE = ROOT / "rulesets" / "b2b_sales.yaml"
EXAMPLE = ROOT / "examples" / "b2b_sales_routed.yaml"
ROUTING = """
teams:
  sales: {members: [olga, sergey, ivan], manager: anna}
  service: {members: [maria, pavel], manager: boris}
routing:
  lookup: managers.csv
"""


def rulesets(folder: Path) -> dict[str, Path]:
    """The three rulesets, the routed one written into ``folder`` beside its lookup file."""
    routed = folder / "b2b_sales_routed_defaults.yaml"
    routed.write_text(REFERENCE.read_text("utf-8") + ROUTING, encoding="utf-8")
    (folder / "managers.csv").write_bytes((ROOT / "examples" / "managers.csv").read_bytes())
    return {"reference": REFERENCE, "routed": routed, "example": EXAMPLE}


def in_process(path: Path, lines: list[bytes]) -> tuple[float, int]:
    """Seconds to decode and judge every deal and form its findings' JSON, one deal at a time
    as the engine streams them, and the number of findings."""
    evaluator = Evaluator(compile_path(path))
    zone = evaluator.compiled.zone
    run = evaluator.run(NOW)
    started = time.process_time()
    found = 0
    for line in lines:
        deal = decode_deal(line, zone)
        assert deal is not None
        for finding in evaluator.findings(deal, run):
            finding.to_dict(run.isoformat)
            found += 1
    return time.process_time() - started, found


def end_to_end(path: Path, deals_file: str) -> float:
    """CPU seconds (user + system) of ``pipeline-rules evaluate --jobs 1`` into /dev/null."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-m", "pipeline_rules", "evaluate", str(path), deals_file,
                    "--now", NOW.isoformat(), "--format", "jsonl", "--jobs", "1"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    lines = [orjson.dumps(d) for d in deals(args.count, args.seed)]
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as folder:
        paths = rulesets(Path(folder))
        inner: dict[str, list[float]] = {name: [] for name in paths}
        outer: dict[str, list[float]] = {name: [] for name in paths}
        deals_file = Path(folder) / "deals.jsonl"
        deals_file.write_bytes(b"\n".join(lines) + b"\n")
        for _ in range(args.repeat):
            for name, path in paths.items():
                seconds, counts[name] = in_process(path, lines)
                inner[name].append(seconds)
                outer[name].append(end_to_end(path, str(deals_file)))
    print(f"{args.count:,} deals (seed {args.seed}), medians of {args.repeat} runs")
    for label, runs in (("in process", inner), ("end to end", outer)):
        per_deal = {name: statistics.median(times) / args.count * 1e6
                    for name, times in runs.items()}
        base = per_deal["reference"]
        print(f"{label:>10}: reference {base:.1f} µs/deal, "
              f"routed {per_deal['routed']:.1f} µs/deal (ratio {per_deal['routed'] / base:.3f}), "
              f"example {per_deal['example']:.1f} µs/deal (ratio {per_deal['example'] / base:.3f})")
    print("findings: " + ", ".join(f"{name} {n:,}" for name, n in counts.items()))


if __name__ == "__main__":
    main()
