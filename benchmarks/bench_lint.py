"""Lint speed: a seeded 2,000-stage / 10,000-transition ruleset, and the CLI on the reference;
with ``--scale``, the growth of lint time from 1,000 to 100,000 stages.

    python benchmarks/bench_lint.py [--runs 7] [--stages 2000] [--transitions 10000]
    python benchmarks/bench_lint.py --scale [--runs 3] [--baseline OTHER/bin/pipeline-rules]

Prints medians of repeated runs measured in this one process (the machines are noisy):
1. linting the generated ruleset in-process (parse, schema, model, every rule), with the time of
   each phase, with the collector paused as ``pipeline-rules lint`` runs; and the whole lint
   again with the collector running, as a library caller (the server, a CRM hook) runs it;
2. the CLI as a fresh process on the generated file and on ``rulesets/b2b_sales.yaml``, against
   ``python -c pass`` measured alternately in the same run, and the ratio.

``--scale`` lints compact seeded rulesets of 1,000, 10,000, 50,000 and 100,000 stages (a chain
with a skip move for every tenth stage and a move to lost from every stage, each file under
the 5 MB limit) with ``pipeline-rules lint`` as a fresh process, and prints the wall and CPU
time (medians) and the time per stage, which stays flat when lint is linear. ``--baseline``
runs another installation's ``pipeline-rules`` (an older version, say) on the same files in
the same run, bounded by ``--timeout`` seconds a run, for the sizes in ``--baseline-sizes``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline_rules.lint import all_rules, lint  # noqa: E402
from pipeline_rules.lint.rules.graph import GAP_VOCABULARY  # noqa: E402
from pipeline_rules.ruleset.checks.context import CheckContext  # noqa: E402
from pipeline_rules.ruleset.checks.registry import Phase  # noqa: E402
from pipeline_rules.ruleset.gcpause import paused  # noqa: E402
from pipeline_rules.ruleset.loader import load_document  # noqa: E402
from pipeline_rules.ruleset.model import build_ruleset  # noqa: E402
from pipeline_rules.ruleset.schema import validate  # noqa: E402
from pipeline_rules.ruleset.source import Source  # noqa: E402


def generate(stages: int, transitions: int, seed: int = 20261127) -> str:
    """A large, plausible regulation: a main chain with skips, loops back, and SLAs."""
    rng = random.Random(seed)
    ids = [f"stage_{i:04d}" for i in range(stages)]
    lines = [
        "version: 1", "id: generated", "timezone: Europe/Moscow",
        "calendars:", "  workdays:", "    week: [mon, tue, wed, thu, fri]",
        '    hours: ["09:00-13:00", "14:00-18:00"]', "    holidays: {country: RU}",
        "stages:",
    ]
    lines += [f'  - {{id: {s}, title: "Stage {i}"}}' for i, s in enumerate(ids)]
    lines += ["  - {id: won, terminal: won}", "  - {id: lost, terminal: lost}"]
    lines += ["start:", f"  - {{id: cold, stage: {ids[0]}, when: {{source: cold}}}}",
              f"  - {{id: inbound, stage: {ids[1]}, when: {{source: [web, call]}}}}"]
    edges: set[tuple[int, int]] = {(i, i + 1) for i in range(stages - 1)}
    while len(edges) < transitions - 2:
        source = rng.randrange(stages - 1)
        if rng.random() < 0.8:
            target = min(stages - 1, source + rng.randint(2, 6))
        else:
            target = max(0, source - rng.randint(1, 3))
        if target != source:
            edges.add((source, target))
    lines.append("transitions:")
    lines += [f"  - {{from: {ids[a]}, to: {ids[b]}}}" for a, b in sorted(edges)]
    lines += [f"  - {{from: {ids[-1]}, to: won, require: [amount]}}",
              '  - {from: "*", to: lost, require: [loss_reason]}']
    lines.append("sla:")
    for i in range(0, stages, 10):
        limit = rng.choice(["3d", "7d", "5 business days", "16 business hours"])
        lines.append(f"  - {{id: sla-{i}, stage: {ids[i]}, limit: {limit}, warn: [50, 80], "
                     "calendar: workdays, on_breach: [escalate]}")
    lines += ["  - {id: whole-cycle, from: start, to: end, limit: 365d}",
              "actions:", "  escalate: {notify: manager, channel: crm_task}",
              'schedule: {evaluate: "*/15 8-19 * * mon-fri"}']
    return "\n".join(lines) + "\n"


def median_time(action: Callable[[], object], runs: int, pause: bool = True) -> float:
    """Median wall time of ``action``; by default with the collector paused, as the lint
    command runs (the library itself leaves the collector alone)."""
    times = []
    for _ in range(runs):
        with paused() if pause else contextlib.nullcontext():
            started = time.perf_counter()
            action()
            times.append(time.perf_counter() - started)
    return statistics.median(times)


#: Processes run as users run them: with Python's bytecode cache. (This sandbox sets
#: PYTHONDONTWRITEBYTECODE, which makes every start recompile the package from source.)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def median_process(commands: list[list[str]], runs: int) -> list[float]:
    """Median wall time of each command as a fresh process, the commands run alternately
    (after one warm-up run each, which also writes the bytecode cache)."""
    times: list[list[float]] = [[] for _ in commands]
    for command in commands:
        subprocess.run(command, check=False, capture_output=True, env=ENV)
    for _ in range(runs):
        for command, spent in zip(commands, times, strict=True):
            started = time.perf_counter()
            subprocess.run(command, check=False, capture_output=True, env=ENV)
            spent.append(time.perf_counter() - started)
    return [statistics.median(t) * 1000 for t in times]


def generate_scale(stages: int, seed: int = 20261202) -> str:
    """A compact regulation of ``stages`` open stages: a chain, a skip move for every tenth
    stage, and a move to lost from every stage."""
    rng = random.Random(seed)
    ids = [f"s{i}" for i in range(stages)]
    lines = ["version: 1", "id: scale", "timezone: Europe/Moscow", "stages:"]
    lines += [f"- {{id: {s}}}" for s in ids]
    lines += ["- {id: won, terminal: won}", "- {id: lost, terminal: lost}",
              "start:", f"- {{id: cold, stage: {ids[0]}}}", "transitions:"]
    edges = [(i, i + 1) for i in range(stages - 1)]
    for _ in range(stages // 10):
        source = rng.randrange(stages - 1)
        edges.append((source, min(stages - 1, source + rng.randint(2, 6))))
    lines += [f"- {{from: {ids[a]}, to: {ids[b]}}}" for a, b in edges]
    lines += [f"- {{from: {ids[-1]}, to: won}}", '- {from: "*", to: lost}']
    return "\n".join(lines) + "\n"


def timed_process(command: list[str], timeout: float) -> tuple[float, float] | None:
    """Wall and CPU seconds of one run of ``command``, or None if it ran past ``timeout``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    try:
        subprocess.run(command, check=False, capture_output=True, env=ENV, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def scale(args: argparse.Namespace) -> None:
    """Lint time from 1,000 to 100,000 stages, and a baseline's on the same files."""
    lint_cli = [sys.executable, "-m", "pipeline_rules", "lint"]
    print(f"lint as a fresh process, median of {args.runs} runs (wall / CPU seconds)")
    timed_process([*lint_cli, str(ROOT / "rulesets/b2b_sales.yaml")], args.timeout)  # warm-up
    with tempfile.TemporaryDirectory() as tmp:
        for stages in args.sizes:
            path = Path(tmp) / f"scale-{stages}.yaml"
            path.write_text(generate_scale(stages), encoding="utf-8")
            size = path.stat().st_size / 1024 / 1024
            commands = [("this version", lint_cli)]
            if args.baseline and stages in args.baseline_sizes:
                commands.append(("baseline", [args.baseline, "lint"]))
            for label, command in commands:
                runs = args.runs if label == "this version" else args.baseline_runs
                results = []
                for _ in range(runs):
                    result = timed_process([*command, str(path)], args.timeout)
                    if result is None:
                        break
                    results.append(result)
                if len(results) < runs:
                    print(f"  {stages:>7,} stages ({size:.1f} MB) {label}: over "
                          f"{args.timeout:.0f} s (stopped)")
                    continue
                wall = statistics.median(r[0] for r in results)
                cpu = statistics.median(r[1] for r in results)
                print(f"  {stages:>7,} stages ({size:.1f} MB) {label}: {wall:.2f} s wall, "
                      f"{cpu:.2f} s CPU, {cpu / stages * 1e6:.0f} µs CPU per stage")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--stages", type=int, default=2000)
    parser.add_argument("--transitions", type=int, default=10000)
    parser.add_argument("--scale", action="store_true",
                        help="lint time from 1,000 to 100,000 stages")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 50000, 100000])
    parser.add_argument("--baseline", help="another pipeline-rules executable to time (--scale)")
    parser.add_argument("--baseline-sizes", type=int, nargs="+", default=[10000, 50000])
    parser.add_argument("--baseline-runs", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=90.0)
    args = parser.parse_args()
    if args.scale:
        scale(args)
        return

    text = generate(args.stages, args.transitions)
    source = Source("generated.yaml", text)
    diagnostics = list(lint(source))
    document = load_document(source)
    print(f"generated ruleset: {args.stages} stages, {args.transitions} transitions, "
          f"{len(text) / 1024:.0f} KiB, {len(diagnostics)} diagnostics")
    parse = median_time(lambda: load_document(source), args.runs)
    check = median_time(lambda: validate(document.data), args.runs)
    model = median_time(lambda: build_ruleset(document), args.runs)
    ruleset = build_ruleset(document)
    rules = [r for r in all_rules().values() if r.phase is Phase.RULESET]

    def run_rules() -> None:
        ctx = CheckContext(source, document, None, ruleset, GAP_VOCABULARY)
        for rule in rules:
            list(rule.check(ctx))

    checks = median_time(run_rules, args.runs)
    total = median_time(lambda: list(lint(source)), args.runs)
    library = median_time(lambda: list(lint(source)), args.runs, pause=False)
    print(f"  lint in-process, median of {args.runs}: {total * 1000:.0f} ms; phases measured "
          f"apart: parse {parse * 1000:.0f} ms, schema {check * 1000:.0f} ms, model "
          f"{model * 1000:.0f} ms, ruleset rules {checks * 1000:.0f} ms")
    print(f"  lint in-process with the collector running (a library caller), median of "
          f"{args.runs}: {library * 1000:.0f} ms")

    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "generated.yaml"
        big.write_text(text, encoding="utf-8")
        lint_cli = [sys.executable, "-m", "pipeline_rules", "lint"]
        runs = max(args.runs, 11)
        big_ms, b2b_ms, pass_ms = median_process(
            [[*lint_cli, str(big)], [*lint_cli, str(ROOT / "rulesets/b2b_sales.yaml")],
             [sys.executable, "-c", "pass"]], runs)
    print(f"  pipeline-rules lint generated.yaml: {big_ms:.0f} ms wall (median of {runs})")
    print(f"  pipeline-rules lint rulesets/b2b_sales.yaml: {b2b_ms:.0f} ms wall; "
          f"python -c pass: {pass_ms:.0f} ms; ratio {b2b_ms / pass_ms:.1f}x (medians of {runs})")


if __name__ == "__main__":
    main()
