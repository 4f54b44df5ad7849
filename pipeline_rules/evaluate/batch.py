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
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import NamedTuple

import orjson

from pipeline_rules.deals.model import Record
from pipeline_rules.deals.readers.jsonl import Block
from pipeline_rules.evaluate import Evaluator
from pipeline_rules.evaluate.context import Run
from pipeline_rules.evaluate.findings import Finding
from pipeline_rules.evaluate.idset import DealIds
from pipeline_rules.evaluate.intake import as_record

BATCH = 1000


class Outcome(NamedTuple):
    """The result of a batch: per record, its deal id (None for a bad record), its findings as
    JSON lines (one bytes object ending in a newline, or empty) and their codes; for raw-line
    batches, each record's line offset in the block. Plain lists of strings and bytes: this
    is what crosses process boundaries, thousands of records a second."""

    deals: list[str | None]
    chunks: list[bytes]
    codes: list[tuple[str, ...]]
    offsets: list[int]


def serialise(finding: Finding, run: Run | None = None) -> bytes:
    """One finding as a JSON line (no newline); ``run`` lends its time formatter."""
    return orjson.dumps(finding.to_dict(run.isoformat) if run is not None
                        else finding.to_dict())


#: One input item: a record, or a raw JSON line with its origin.
Item = Record | tuple[str, bytes]

#: What a batch is: raw JSON lines read in one go (parsed where they are evaluated, so with
#: ``jobs > 1`` the parent only moves bytes), or a list of records or (origin, line) pairs.
Batch = Block | Sequence[Item]


def evaluate_batch(evaluator: Evaluator, run: Run, batch: Batch) -> Outcome:
    """The outcome of one batch, records in order."""
    outcome = Outcome([], [], [], [])
    if isinstance(batch, Block):
        name, first = batch.name, batch.first
        for offset, line in enumerate(batch.lines):
            if line.isspace() or not line:
                continue
            deal, found = evaluator.line_outcome(line, run, name, first + offset)
            _add(outcome, run, deal, found, offset)
        return outcome
    for item in batch:
        deal, found = evaluator.outcome(as_record(item), run)
        _add(outcome, run, deal, found, 0)
    return outcome


def _add(outcome: Outcome, run: Run, deal: str | None, found: list[Finding],
         offset: int) -> None:
    outcome.deals.append(deal)
    outcome.chunks.append(b"".join([serialise(f, run) + b"\n" for f in found])
                          if found else b"")
    outcome.codes.append(tuple([f.code for f in found]))
    outcome.offsets.append(offset)


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


def _work(batch: Batch) -> Outcome:
    evaluator, run = _WORKER["state"]
    return evaluate_batch(evaluator, run, batch)


# -- parent side ------------------------------------------------------------------------------

def batched(items: Iterable[Item], size: int = BATCH) -> Iterator[Batch]:
    """Records (or raw lines) in batches of ``size``."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _origin(batch: Batch, index: int, offset: int) -> str:
    if isinstance(batch, Block):
        return f"{batch.name}:{batch.first + offset}"
    item = batch[index]
    return item.origin if isinstance(item, Record) else item[0]


def run_records(factory: Callable[[], Evaluator], batches: Iterable[Batch], now: datetime,
                jobs: int = 1, totals: Totals | None = None,
                progress: Callable[[int], None] | None = None) -> Iterator[bytes]:
    """Findings as JSON Lines, in input order, evaluated with ``jobs`` processes; each item
    yielded is one batch's lines (newline-terminated, possibly none).

    ``factory`` builds the evaluator (it is sent to workers, so it must be picklable — a
    ``functools.partial`` of a loader works).
    """
    totals = totals if totals is not None else Totals()
    evaluator = factory()
    run = evaluator.run(now)
    seen = DealIds()
    ruleset = evaluator.compiled.id
    pending: deque[tuple[Batch, Future[Outcome]]] = deque()

    def settle(batch: Batch, outcome: Outcome) -> bytes:
        # A batch at a time, not a record at a time: a million records would otherwise pay
        # for a million generator steps, writes and counter updates.
        parts: list[bytes] = []
        codes: list[str] = []
        for index, deal in enumerate(outcome.deals):
            if deal is not None and not seen.first(ruleset, deal):
                origin = _origin(batch, index, outcome.offsets[index])
                finding = evaluator.duplicate(run, Record(origin), deal)
                codes.append(finding.code)
                parts.append(serialise(finding) + b"\n")
                continue
            chunk = outcome.chunks[index]
            if chunk:
                codes.extend(outcome.codes[index])
                parts.append(chunk)
        totals.records += len(outcome.deals)
        totals.codes.update(codes)
        if progress is not None:
            progress(totals.records)
        return b"".join(parts)

    if jobs <= 1:
        for batch in batches:
            yield settle(batch, evaluate_batch(evaluator, run, batch))
        return
    with ProcessPoolExecutor(max_workers=jobs, initializer=_start_worker,
                             initargs=(factory, now)) as pool:
        for batch in batches:
            pending.append((batch, pool.submit(_work, batch)))
            while len(pending) >= 4 * jobs:
                done_batch, future = pending.popleft()
                yield settle(done_batch, future.result())
        while pending:
            done_batch, future = pending.popleft()
            yield settle(done_batch, future.result())


__all__ = ["BATCH", "Batch", "Item", "Outcome", "Totals", "batched", "evaluate_batch",
           "run_records", "serialise"]
