"""Parquet against JSON Lines, and Dask against one process, on the same generated deals.

    python benchmarks/bench_columnar.py [--count 1000000] [--partitions 8] [--repeat 3]
        [--keep DIR]

Writes ``--count`` seeded deals for the reference ruleset (generate_parquet.py) as a Parquet
dataset of ``--partitions`` files and as one JSONL file, then measures, alternating the runs,
medians of ``--repeat``:

* reading alone: every record of the JSONL file parsed (orjson) against every record of the
  dataset converted from Arrow (the input cost, without evaluating);
* ``pipeline-rules evaluate`` of the JSONL file and of the dataset, one process, JSONL to
  /dev/null (input throughput end to end), and of the dataset to a Parquet findings file;
* ``--engine dask --jobs 2``: a local cluster of 2 worker processes, one Parquet findings file
  per partition (cluster start-up included), and the same run on an already started cluster;
* the engine's overhead per partition: a no-op task's round trip, and a one-deal partition
  evaluated on the cluster minus the same call in this process.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_evaluate import timed  # noqa: E402
from generate_deals import NOW  # noqa: E402
from generate_parquet import write_dataset  # noqa: E402

from pipeline_rules.deals.readers import parquet as columnar  # noqa: E402
from pipeline_rules.evaluate.dask import evaluate_file, run_partitions  # noqa: E402
from pipeline_rules.evaluate.judge import Judge  # noqa: E402
from pipeline_rules.outputs.parquet import FindingsFiles  # noqa: E402
from pipeline_rules.ruleset.catalog import load_file  # noqa: E402

RULESET = str(ROOT / "rulesets" / "b2b_sales.yaml")
SINK = FindingsFiles()
READ_JSONL = """
import sys
from pipeline_rules.deals.readers.jsonl import read_jsonl
print(sum(1 for _ in read_jsonl(sys.argv[1])))
"""
READ_PARQUET = """
import sys
from pipeline_rules.deals.readers.parquet import read_parquet
print(sum(1 for _ in read_parquet(sys.argv[1])))
"""


def _seconds(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def engine_overhead(client: Any, work: Path, samples: int = 30) -> dict[str, float]:
    """Seconds per no-op task round trip and per one-deal partition beyond its own work."""
    noop = [_seconds(lambda: client.submit(int, 0, pure=False).result())
            for _ in range(samples)]
    batch_started = time.perf_counter()
    client.gather([client.submit(int, i, pure=False) for i in range(1000)])
    throughput = (time.perf_counter() - batch_started) / 1000
    tiny = work / "tiny"
    write_dataset(1, str(tiny), partitions=1, now=NOW)
    source = str(tiny / "part-00000.parquet")
    judge = Judge.of(load_file(RULESET))
    shipped = client.submit(lambda t: t, judge, pure=False)
    client.submit(evaluate_file, source, str(work / "warm.parquet"), shipped, NOW, SINK,
                  pure=False).result()  # the workers compile the ruleset once, not timed
    remote = [_seconds(lambda i=i: client.submit(
        evaluate_file, source, str(work / f"t{i}.parquet"), shipped, NOW, SINK,
        pure=False).result()) for i in range(samples)]
    local = [_seconds(lambda i=i: evaluate_file(source, str(work / f"l{i}.parquet"), judge,
                                                NOW, SINK)) for i in range(samples)]
    return {"noop": statistics.median(noop), "noop_batched": throughput,
            "tiny_remote": statistics.median(remote), "tiny_local": statistics.median(local)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", help="generate into this directory and keep it")
    args = parser.parse_args()

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-columnar-"))
    work.mkdir(parents=True, exist_ok=True)
    dataset, jsonl = work / "deals", work / "deals.jsonl"
    started = time.perf_counter()
    if not (dataset.is_dir() and jsonl.is_file()):
        write_dataset(args.count, str(dataset), args.partitions, now=NOW, jsonl=str(jsonl))
    size = sum(p.stat().st_size for p in dataset.glob("*.parquet"))
    print(f"{args.count:,} deals: Parquet {size / 2**20:.0f} MiB in {args.partitions} files, "
          f"JSONL {jsonl.stat().st_size / 2**20:.0f} MiB "
          f"(written in {time.perf_counter() - started:.0f} s)")

    python = sys.executable
    evaluate = [python, "-m", "pipeline_rules", "evaluate", RULESET, "--now", NOW.isoformat()]
    commands = {
        "read jsonl": [python, "-c", READ_JSONL, str(jsonl)],
        "read parquet": [python, "-c", READ_PARQUET, str(dataset)],
        "jsonl -> jsonl": [*evaluate, str(jsonl), "--format", "jsonl"],
        "parquet -> jsonl": [*evaluate, str(dataset), "--format", "jsonl"],
        "parquet -> parquet": [*evaluate, str(dataset), "--output", str(work / "f.parquet")],
        "dask 2 workers": [*evaluate, str(dataset), "--engine", "dask", "--jobs", "2",
                           "--output", str(work / "dask-out")],
    }
    runs: dict[str, list[tuple[float, int]]] = {name: [] for name in commands}
    for _ in range(args.repeat):
        for name, command in commands.items():
            shutil.rmtree(work / "dask-out", ignore_errors=True)
            runs[name].append(timed(command))
    seconds = {k: statistics.median(t for t, _ in v) for k, v in runs.items()}
    for name in commands:
        rss = max(r for _, r in runs[name]) / 1024
        print(f"{name:>19}: {seconds[name]:6.1f} s  {args.count / seconds[name]:>9,.0f} deals/s"
              f"  peak RSS {rss:4.0f} MB")
    print(f"Parquet input is {seconds['jsonl -> jsonl'] / seconds['parquet -> jsonl']:.2f}x the "
          f"speed of JSONL end to end ({seconds['read jsonl'] / seconds['read parquet']:.2f}x "
          "reading alone)")
    print(f"Dask, 2 workers, is {seconds['parquet -> parquet'] / seconds['dask 2 workers']:.2f}x "
          "one process (parquet -> parquet), cluster start-up included; the RSS shown is the "
          "driver's")

    from dask.distributed import Client, LocalCluster

    cluster_started = time.perf_counter()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0", silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as client:
        start_up = time.perf_counter() - cluster_started
        judge = Judge.of(load_file(RULESET))
        warm: list[float] = []
        for index in range(args.repeat):
            output = work / f"warm-{index}"
            began = time.perf_counter()
            result = run_partitions(client, str(dataset), str(output), judge, NOW, SINK)
            warm.append(time.perf_counter() - began)
            assert not result.failures, result.failures
            shutil.rmtree(output)
        overhead = engine_overhead(client, work)
    running = statistics.median(warm)
    print(f"local cluster start-up {start_up:.1f} s; on a started cluster {running:.1f} s, "
          f"{args.count / running:,.0f} deals/s, "
          f"{seconds['parquet -> parquet'] / running:.2f}x one process")
    print(f"per-task overhead: no-op round trip {overhead['noop'] * 1000:.1f} ms "
          f"({overhead['noop_batched'] * 1000:.2f} ms each when 1,000 are in flight); "
          f"one-deal partition {overhead['tiny_remote'] * 1000:.1f} ms on the cluster vs "
          f"{overhead['tiny_local'] * 1000:.1f} ms in process: "
          f"{(overhead['tiny_remote'] - overhead['tiny_local']) * 1000:.1f} ms of engine")
    print(f"measured {datetime.now():%Y-%m-%d %H:%M} on {os.cpu_count()} CPUs, "
          f"pyarrow {columnar.pa.__version__}")
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
