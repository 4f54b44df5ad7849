"""State machine speed: replay and check on the reference ruleset, against the naive pattern.

    python benchmarks/bench_machine.py [--histories 1000000] [--checks 1000000] [--naive 20000]

Seeded. Measured in one run:
1. ``PipelineMachine.replay`` over N generated stage histories (3–8 moves each, about one in
   eight with an illegal skip or backward move), generated in chunks so only the replay is timed
   and memory stays flat, with one ``ReplayMemo`` for the whole run as an evaluation run keeps
   one; peak RSS is read after 10 % and after 100 % of the histories; and, for comparison, the
   same replays with no memo (each call on its own, as a one-off audit makes it);
2. ``PipelineMachine.check`` on N (deal, target) pairs;
3. the naive pattern users write first — one ``transitions`` model per deal (``add_model``) and
   a trigger per move — on the first ``--naive`` histories, with the same guards;
and prints throughputs (median of ``--repeat`` runs of each) and the ratios.
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from transitions import Machine, MachineError  # noqa: E402

from pipeline_rules.deals.model import Deal, HistoryEntry  # noqa: E402
from pipeline_rules.enforce.machine import Guard, PipelineMachine, ReplayMemo  # noqa: E402
from pipeline_rules.ruleset.catalog import load_ruleset  # noqa: E402

COLD = ["find_dm", "qualification", "meeting", "proposal", "invoice", "paid"]
INBOUND = ["request", "qualification", "meeting", "proposal", "invoice", "paid"]
T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)


def histories(count: int, seed: int) -> Iterator[Deal]:
    """Deals with 3–8 moves along the reference pipeline, some of them illegal."""
    rng = random.Random(seed)
    for n in range(count):
        cold = rng.random() < 0.5
        path = COLD if cold else INBOUND
        moves = rng.randint(3, 8)
        stages = [path[0]]
        position = 0
        while len(stages) < moves + 1 and stages[-1] not in ("paid", "lost"):
            roll = rng.random()
            if roll < 0.06 and position + 2 < len(path):
                position += 2  # skips a stage
            elif roll < 0.09 and position > 0:
                position -= 1  # goes back
            elif roll < 0.15:
                stages.append("lost")
                break
            else:
                position = min(position + 1, len(path) - 1)
            stages.append(path[position])
        fields = {"amount": 1000 + n % 90000, "payment_date": "2026-02-01",
                  "loss_reason": "price"}
        history = tuple(HistoryEntry(s, T0 + timedelta(hours=6 * i))
                        for i, s in enumerate(stages))
        yield Deal(id=f"D-{n}", stage=stages[-1], source="cold" if cold else "web_form",
                   fields=fields, history=history)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_replay(machine: PipelineMachine, count: int, chunk: int = 20000,
                memo: ReplayMemo | None = None) -> tuple[float, int]:
    """Seconds spent in replay over ``count`` histories, and the illegal moves found."""
    spent, illegal, done = 0.0, 0, 0
    source = histories(count, seed=7)
    while done < count:
        batch = [next(source) for _ in range(min(chunk, count - done))]
        gc.freeze()  # the batch is long-lived input, as a reader's buffer would be
        started = time.perf_counter()
        for deal in batch:
            illegal += len(machine.replay(deal, memo))
        spent += time.perf_counter() - started
        done += len(batch)
        gc.unfreeze()
        del batch  # before the next batch is made: one batch alive at a time
    return spent, illegal


def time_checks(machine: PipelineMachine, count: int) -> float:
    rng = random.Random(11)
    pool = list(histories(5000, seed=3))
    targets = [*COLD, *INBOUND, "lost", "negotiation"]
    pairs = [(rng.choice(pool), rng.choice(targets)) for _ in range(min(count, 200000))]
    started = time.perf_counter()
    done = 0
    while done < count:
        for deal, to in pairs[: count - done]:
            machine.check(deal, to)
        done += min(len(pairs), count - done)
    return time.perf_counter() - started


class NaiveDeal:
    """What users write first: the deal is the transitions model."""

    def __init__(self, deal: Deal) -> None:
        self.deal = deal


def time_naive(machine: PipelineMachine, count: int) -> tuple[float, int]:
    """Replay with a model per deal: add_model, then a trigger per move (same guards)."""
    compiled = machine.compiled
    naive = Machine(
        model=None, states=list(compiled.graph.order), initial=compiled.graph.order[0],
        transitions=[{"trigger": f"to_{m.target}", "source": m.source, "dest": m.target,
                      "conditions": [Guard(m)]} for m in compiled.moves],
        auto_transitions=False, send_event=True)
    deals = list(histories(count, seed=7))
    gc.freeze()
    illegal = 0
    started = time.perf_counter()
    for deal in deals:
        model = NaiveDeal(deal)
        naive.add_model(model, initial=deal.history[0].stage)
        for entry in deal.history[1:]:
            try:
                if not model.trigger(f"to_{entry.stage}", deal=deal):  # type: ignore[attr-defined]
                    illegal += 1
                    naive.set_state(entry.stage, model)
            except (MachineError, AttributeError):  # no such move at all
                illegal += 1
                naive.set_state(entry.stage, model)
    spent = time.perf_counter() - started
    gc.unfreeze()
    return spent, illegal


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--histories", type=int, default=1_000_000)
    parser.add_argument("--checks", type=int, default=1_000_000)
    parser.add_argument("--naive", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    machine = PipelineMachine(load_ruleset(ROOT / "rulesets" / "b2b_sales.yaml"))
    rss_start = peak_rss_mb()
    small = max(args.histories // 10, 1)
    spent_small, _ = time_replay(machine, small, memo=ReplayMemo())
    rss_small = peak_rss_mb()
    runs = [time_replay(machine, args.histories, memo=ReplayMemo()) for _ in range(args.repeat)]
    rss_full = peak_rss_mb()
    replay = statistics.median(r[0] for r in runs)
    alone = statistics.median(time_replay(machine, small)[0] for _ in range(args.repeat))
    illegal = runs[0][1]
    checks = statistics.median(time_checks(machine, args.checks) for _ in range(args.repeat))
    naive_runs = [time_naive(machine, args.naive) for _ in range(args.repeat)]
    naive = statistics.median(r[0] for r in naive_runs)
    rss_naive = peak_rss_mb()

    ours_rate = args.histories / replay
    naive_rate = args.naive / naive
    print(f"replay: {args.histories:,} histories in {replay:.2f} s -> {ours_rate:,.0f} "
          f"histories/s ({illegal:,} illegal moves found; median of {args.repeat})")
    print(f"replay with no memo: {small:,} histories in {alone:.2f} s -> "
          f"{small / alone:,.0f} histories/s")
    print(f"check:  {args.checks:,} calls in {checks:.2f} s -> {args.checks / checks:,.0f} "
          f"checks/s ({checks / args.checks * 1e6:.2f} us each)")
    print(f"naive (add_model + trigger per move): {args.naive:,} histories in {naive:.2f} s -> "
          f"{naive_rate:,.0f} histories/s ({naive_runs[0][1]:,} illegal moves found)")
    print(f"ratio: replay is {ours_rate / naive_rate:.0f}x the naive pattern's throughput")
    print(f"peak RSS: {rss_start:.0f} MB at start, {rss_small:.0f} MB after {small:,} "
          f"histories, {rss_full:.0f} MB after {args.histories:,} x {args.repeat}, "
          f"{rss_naive:.0f} MB after the naive runs ({spent_small:.2f} s for the first {small:,})")


if __name__ == "__main__":
    main()
