"""A seeded generator of realistic deals for the reference ruleset (rulesets/b2b_sales.yaml).

    python benchmarks/generate_deals.py COUNT [--seed 42] [--now TIME] > deals.jsonl

Deals start cold (half) or inbound, walk the pipeline with stage dwell times drawn per stage,
sometimes skip a stage or go back (about 5 % of moves), and end won (with a payment date), lost
(with a reason) or still open at ``now``. Open deals carry 0–3 tasks around ``now``, deals in the
meeting stage often a meeting in the next days, a few a pause. 3–8 history entries each.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import orjson

COLD = ["find_dm", "qualification", "meeting", "proposal", "invoice", "paid"]
INBOUND = ["request", "qualification", "meeting", "proposal", "invoice", "paid"]
SOURCES = ["cold", "cold", "web_form", "inbound_call", "email"]
#: Median dwell per stage, in hours (the draw is log-normal around it).
DWELL = {"find_dm": 72, "request": 6, "qualification": 48, "meeting": 120, "proposal": 60,
         "invoice": 150}
OWNERS = ["sergey", "olga", "ivan", "maria", "pavel", "elena"]
MANAGERS = ["anna", "dmitry"]
NOW = datetime.fromisoformat("2026-11-20T09:05:00+03:00")


def _path(rng: random.Random, start: list[str]) -> list[str]:
    moves = rng.randint(2, 7)  # 3-8 history entries
    stages = [start[0]]
    position = 0
    while len(stages) <= moves:
        roll = rng.random()
        if roll < 0.03 and position + 2 < len(start) - 1:
            position += 2  # a skipped stage
        elif roll < 0.05 and position > 0:
            position -= 1  # a step back
        elif roll < 0.15:
            stages.append("lost")
            return stages
        else:
            position += 1
        stages.append(start[position])
        if start[position] == "paid":
            return stages
    return stages


def deal(n: int, rng: random.Random, now: datetime = NOW) -> dict[str, Any]:
    """One generated deal record (JSON-shaped)."""
    source = rng.choice(SOURCES)
    stages = _path(rng, COLD if source == "cold" else INBOUND)
    dwell = [timedelta(hours=rng.lognormvariate(0, 0.8) * DWELL.get(s, 24)) for s in stages]
    total = sum(dwell[:-1], timedelta())
    # Open deals are in their last stage "now"; the walk ends a random way into it.
    start = now - total - timedelta(
        hours=rng.lognormvariate(0, 0.9) * DWELL.get(stages[-1], 24))
    history, moment = [], start
    for stage, spent in zip(stages, dwell, strict=True):
        history.append({"stage": stage, "at": moment.isoformat(timespec="seconds")})
        moment += spent
    fields: dict[str, Any] = {"amount": rng.randrange(10_000, 2_000_000, 1000)}
    if stages[-1] == "paid":
        fields["payment_date"] = history[-1]["at"][:10]
    if stages[-1] == "lost":
        fields["loss_reason"] = rng.choice(["price", "competitor", "no budget", "no response"])
    record: dict[str, Any] = {
        "id": f"D-{n:07d}", "stage": stages[-1], "source": source,
        "owner": rng.choice(OWNERS), "manager": rng.choice(MANAGERS), "fields": fields,
        "history": history, "tasks": [], "events": []}
    if stages[-1] not in ("paid", "lost"):
        for t in range(rng.choice([0, 1, 1, 1, 2, 3])):
            due = now + timedelta(hours=rng.uniform(-72, 240))
            record["tasks"].append({"id": f"D-{n:07d}-{t}",
                                    "due": due.isoformat(timespec="minutes"),
                                    "done": rng.random() < 0.2})
        if stages[-1] == "meeting" and rng.random() < 0.6:
            meeting = (now + timedelta(hours=rng.uniform(0.5, 96))).replace(
                minute=0, second=0, microsecond=0)
            record["events"].append({"type": "meeting", "at": meeting.isoformat()})
        if rng.random() < 0.03:
            pause_start = now - timedelta(days=rng.uniform(1, 10))
            record["pauses"] = [{"from": pause_start.isoformat(timespec="minutes"),
                                 "to": (pause_start + timedelta(days=3)).isoformat(
                                     timespec="minutes"),
                                 "reason": "client asked to wait for budget approval"}]
    return record


def deals(count: int, seed: int = 42, now: datetime = NOW) -> Iterator[dict[str, Any]]:
    """``count`` generated deals, the same ones for the same seed."""
    rng = random.Random(seed)
    for n in range(count):
        yield deal(n, rng, now)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--now", default=NOW.isoformat())
    args = parser.parse_args()
    out = sys.stdout.buffer
    for record in deals(args.count, args.seed, datetime.fromisoformat(args.now)):
        out.write(orjson.dumps(record) + b"\n")


if __name__ == "__main__":
    main()
