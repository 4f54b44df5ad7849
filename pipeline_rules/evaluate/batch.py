"""Evaluating a stream of records in batches, in this process or in a pool of processes.

Each record's findings are serialised to JSON lines where they are computed (in a worker when
``jobs > 1``), so only bytes cross process boundaries. The parent keeps the order of the input,
the set of deal ids seen (a later record with a seen id becomes a ``bad-record``), and the
counts; at most ``4 × jobs`` batches are in flight, so memory stays flat on any input size.
Output with ``jobs=N`` is byte for byte the output with ``jobs=1``: both go through
:func:`evaluate_batch` and the same parent-side duplicate check.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice

import orjson

from ..deals import Record
from ..findings import Finding
from ..idset import HashSet
from ..intake import as_record
from . import Evaluator
from .context import Run

BATCH = 500


@dataclass(frozen=True)
class Outcome:
    """One record's result: its deal id (None for a bad record), its findings as JSON lines,
    and their codes."""

    deal: str | None
    lines: tuple[bytes, ...]
    codes: tuple[str, ...]


def serialise(finding: Finding) -> bytes:
    """One finding as a JSON line (no newline)."""
    return orjson.dumps(finding.to_dict())


#: What a batch holds: records, or raw JSON lines with their origin (parsed where evaluated,
#: so with ``jobs > 1`` the parent process only reads and writes bytes).
Item = Record | tuple[str, bytes]


def evaluate_batch(evaluator: Evaluator, run: Run, items: list[Item]) -> list[Outcome]:
    """Outcomes for a batch of records (or raw JSON lines), in order."""
    outcomes = []
    for item in items:
        deal, found = evaluator.outcome(as_record(item), run)
        outcomes.append(Outcome(deal, tuple(serialise(f) for f in found),
                                tuple(f.code for f in found)))
    return outcomes


@dataclass
class Totals:
    """What a run produced: records read, findings per code."""

    records: int = 0
    codes: Counter[str] = field(default_factory=Counter)


# -- worker side (module globals: one evaluator per worker process) ---------------------------

_WORKER: dict[str, tuple[Evaluator, Run]] = {}


def _start_worker(factory: Callable[[], Evaluator], now: datetime) -> None:
    evaluator = factory()
    _WORKER["state"] = (evaluator, evaluator.run(now))


def _work(items: list[Item]) -> list[Outcome]:
    evaluator, run = _WORKER["state"]
    return evaluate_batch(evaluator, run, items)


# -- parent side ------------------------------------------------------------------------------

def _batches(records: Iterable[Item], size: int) -> Iterator[list[Item]]:
    iterator = iter(records)
    while batch := list(islice(iterator, size)):
        yield batch


def run_records(factory: Callable[[], Evaluator], records: Iterable[Item], now: datetime,
                jobs: int = 1, totals: Totals | None = None,
                progress: Callable[[int], None] | None = None) -> Iterator[bytes]:
    """JSON lines of findings for every record, in input order, with ``jobs`` processes.

    ``factory`` builds the evaluator (it is sent to workers, so it must be picklable — a
    ``functools.partial`` of a loader works).
    """
    totals = totals if totals is not None else Totals()
    evaluator = factory()
    run = evaluator.run(now)
    seen = HashSet()
    pending: deque[tuple[list[Item], Future[list[Outcome]]]] = deque()

    def settle(batch: list[Item], outcomes: list[Outcome]) -> Iterator[bytes]:
        for item, outcome in zip(batch, outcomes, strict=True):
            totals.records += 1
            # A hash of the id stands for it: see Evaluator.evaluate_item.
            if outcome.deal is not None and not seen.add(hash(outcome.deal)):
                origin = item.origin if isinstance(item, Record) else item[0]
                finding = evaluator.duplicate(run, Record(origin), outcome.deal)
                totals.codes[finding.code] += 1
                yield serialise(finding)
                continue
            totals.codes.update(outcome.codes)
            yield from outcome.lines
        if progress is not None:
            progress(totals.records)

    if jobs <= 1:
        for batch in _batches(records, BATCH):
            yield from settle(batch, evaluate_batch(evaluator, run, batch))
        return
    with ProcessPoolExecutor(max_workers=jobs, initializer=_start_worker,
                             initargs=(factory, now)) as pool:
        for batch in _batches(records, BATCH):
            pending.append((batch, pool.submit(_work, batch)))
            while len(pending) >= 4 * jobs:
                done_batch, future = pending.popleft()
                yield from settle(done_batch, future.result())
        while pending:
            done_batch, future = pending.popleft()
            yield from settle(done_batch, future.result())


__all__ = ["BATCH", "Outcome", "Totals", "evaluate_batch", "run_records", "serialise"]
