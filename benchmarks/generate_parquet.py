"""A seeded Parquet dataset of deals in the layout of docs/scale.md, from generate_deals.py.

    python benchmarks/generate_parquet.py COUNT OUT_DIR [--partitions 8] [--seed 42]
        [--now TIME] [--rulesets b2b-sales,acme] [--jsonl FILE]

Writes ``OUT_DIR/part-00000.parquet`` ... : the ``COUNT`` deals of generate_deals.py (the same
ones for the same seed), in input order, split into ``--partitions`` files of consecutive deals.
With ``--rulesets``, each deal gets a ``ruleset`` column naming one of them (drawn with the same
seed), for a multi-ruleset run. ``--jsonl`` also writes the same records as JSON Lines, so the
two inputs can be compared.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate_deals import NOW, deals

from pipeline_rules.outputs.parquet import write_deals

#: The deal fields generate_deals.py sets, as typed Parquet columns.
FIELDS = pa.struct([("amount", pa.int64()), ("payment_date", pa.string()),
                    ("loss_reason", pa.string())])


def tenant_deals(count: int, seed: int = 42, now: datetime = NOW,
                 rulesets: tuple[str, ...] = ()) -> Iterator[dict[str, Any]]:
    """The generated deals, each naming one of ``rulesets`` (if any) in its ``ruleset`` key."""
    pick = random.Random(seed + 1)
    for record in deals(count, seed, now):
        yield {"id": record["id"], "ruleset": pick.choice(rulesets), **record} \
            if rulesets else record


def write_dataset(count: int, out_dir: str, partitions: int = 8, seed: int = 42,
                  now: datetime = NOW, rulesets: tuple[str, ...] = (),
                  jsonl: str | None = None) -> list[str]:
    """Write the dataset (and the JSON Lines copy); the partition files in order."""
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    records = tenant_deals(count, seed, now, rulesets)
    lines = open(jsonl, "wb") if jsonl else None  # noqa: SIM115 - closed below
    files = []
    try:
        for index in range(partitions):
            size = count // partitions + (1 if index < count % partitions else 0)
            chunk = [next(records) for _ in range(size)]
            if lines is not None:
                lines.writelines(orjson.dumps(record) + b"\n" for record in chunk)
            path = str(Path(out_dir) / f"part-{index:05d}.parquet")
            write_deals(chunk, path, "ruleset" if rulesets else None, FIELDS)
            files.append(path)
    finally:
        if lines is not None:
            lines.close()
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int)
    parser.add_argument("out_dir")
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--now", default=NOW.isoformat())
    parser.add_argument("--rulesets", default="",
                        help="comma-separated ruleset ids to spread the deals over")
    parser.add_argument("--jsonl", help="also write the deals as JSON Lines here")
    args = parser.parse_args()
    rulesets = tuple(r for r in args.rulesets.split(",") if r)
    files = write_dataset(args.count, args.out_dir, args.partitions, args.seed,
                          datetime.fromisoformat(args.now), rulesets, args.jsonl)
    print(f"wrote {args.count:,} deals in {len(files)} partitions to {args.out_dir}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
