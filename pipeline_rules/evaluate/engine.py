"""Evaluating a stream of records: batches judged by an executor, settled in input order.

Every way of evaluating goes through here: one ruleset or a directory of them, JSON Lines, JSON,
CSV or Parquet, to stdout or to a file, in this process or a pool of processes (and, partition
by partition, on Dask: :mod:`.dask`). A batch is judged where the executor runs it
(:func:`judge_batch`: each record on its own, its findings serialised to JSON lines there, so
only bytes cross process boundaries); the driver (:func:`evaluate_stream`) then settles the
batches in input order with the run's one set of deal ids seen, so a later record with a
(ruleset, deal id) already seen becomes a ``bad-record`` whatever executor judged it. Output
with ``jobs=N`` is byte for byte the output with ``jobs=1``.

At most ``4 × jobs`` batches are in flight, so memory stays flat on any input size.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any, NamedTuple, Protocol

import orjson

from pipeline_rules import i18n
from pipeline_rules.deals import as_record
from pipeline_rules.deals.model import Record
from pipeline_rules.deals.readers.jsonl import Block, jsonl_record
from pipeline_rules.evaluate.context import Run
from pipeline_rules.evaluate.findings import Finding
from pipeline_rules.evaluate.idset import DealIds
from pipeline_rules.evaluate.judge import Judge, Judged, Runs

BATCH = 1000

#: One input item: a record, or a raw JSON line with its origin.
Item = Record | tuple[str, bytes]

#: What a batch is: raw JSON lines read in one go (parsed where they are judged, so with
#: ``jobs > 1`` the parent only moves bytes), or a list of records or (origin, line) pairs.
Batch = Block | Sequence[Item]


def serialise(finding: Finding, run: Run | None = None) -> bytes:
    """One finding as a JSON line (no newline); ``run`` lends its time formatter."""
    return orjson.dumps(finding.to_dict(run.isoformat) if run is not None
                        else finding.to_dict())


class Outcome(NamedTuple):
    """A batch judged: per record, the ruleset and deal id it was judged under (the deal id
    None for a bad record), its findings as JSON lines (one bytes object ending in a newline,
    or empty) and their codes, and its line's offset in a raw block. Plain lists of strings and
    bytes: this is what crosses process boundaries, thousands of records a second."""

    rulesets: list[str | None]
    deals: list[str | None]
    chunks: list[bytes]
    codes: list[tuple[str, ...]]
    offsets: list[int]

    def add(self, ruleset: str | None, deal: str | None, found: list[Finding], run: Run | None,
            offset: int = 0) -> None:
        """Add one record's result."""
        self.rulesets.append(ruleset)
        self.deals.append(deal)
        self.chunks.append(b"".join([serialise(f, run) + b"\n" for f in found])
                           if found else b"")
        self.codes.append(tuple([f.code for f in found]))
        self.offsets.append(offset)


def judge_batch(judge: Judge, runs: Runs, batch: Batch) -> Outcome:
    """Every record of a batch judged on its own, in order (duplicates are settled later)."""
    outcome = Outcome([], [], [], [], [])
    if isinstance(batch, Block):
        _judge_block(judge, runs, batch, outcome)
        return outcome
    for item in batch:
        judged = judge.judge(as_record(item), runs)
        _add(judge, runs, outcome, judged, 0)
    return outcome


def _judge_block(judge: Judge, runs: Runs, block: Block, outcome: Outcome) -> None:
    name, first = block.name, block.first
    sole = judge.sole
    if sole is None:  # records name their rulesets: read each line in full first
        for offset, line in enumerate(block.lines):
            if line.isspace() or not line:
                continue
            judged = judge.judge(jsonl_record(f"{name}:{first + offset}", line), runs)
            _add(judge, runs, outcome, judged, offset)
        return
    # One ruleset judges every line: well-formed lines decode straight to its deals.
    run = runs.of(sole)
    ruleset = sole.compiled.id
    for offset, line in enumerate(block.lines):
        if line.isspace() or not line:
            continue
        try:
            deal, found = sole.line_outcome(line, run, name, first + offset)
        except Exception:  # judged again the general way, which says what went wrong
            judged = judge.judge(jsonl_record(f"{name}:{first + offset}", line), runs)
            _add(judge, runs, outcome, judged, offset)
            continue
        outcome.add(ruleset, deal, found, run, offset)


def _add(judge: Judge, runs: Runs, outcome: Outcome, judged: Judged, offset: int) -> None:
    evaluator = judge.evaluators.get(judged.ruleset) if judged.ruleset is not None else None
    outcome.add(judged.ruleset, judged.deal, judged.findings,
                runs.of(evaluator) if evaluator is not None else None, offset)


def origin(batch: Batch, index: int, offset: int) -> str:
    """Where record ``index`` of a batch (at line ``offset`` of a raw block) came from."""
    if isinstance(batch, Block):
        return f"{batch.name}:{batch.first + offset}"
    return as_record(batch[index]).origin


class Settled(NamedTuple):
    """A batch's findings after the duplicate check, in input order: the JSON lines of each
    record that has any (a bytes object of newline-terminated lines), their codes, and the
    record's place in the batch (its index and its line's offset in a raw block)."""

    batch: Batch
    chunks: list[bytes]
    codes: list[tuple[str, ...]]
    places: list[tuple[int, int]]

    def lines(self) -> bytes:
        """Every finding of the batch, as newline-terminated JSON lines."""
        return b"".join(self.chunks)

    def origins(self) -> Iterator[tuple[str, bytes]]:
        """Every finding of the batch as (its record's origin, its JSON line)."""
        for chunk, (index, offset) in zip(self.chunks, self.places, strict=True):
            where = origin(self.batch, index, offset)
            for line in chunk.splitlines():
                yield where, line


@dataclass
class Totals:
    """What a run produced: records read, findings per code."""

    records: int = 0
    codes: Counter[str] = field(default_factory=Counter)


def settle(judge: Judge, runs: Runs, seen: DealIds, batch: Batch, outcome: Outcome,
           totals: Totals) -> Settled:
    """A judged batch with each record whose (ruleset, deal id) was seen before turned into a
    ``bad-record``; the totals counted."""
    # A batch at a time, not a record at a time: a million records would otherwise pay for a
    # million generator steps and counter updates.
    chunks: list[bytes] = []
    places: list[tuple[int, int]] = []
    kinds: list[tuple[str, ...]] = []
    rulesets = outcome.rulesets
    for index, deal in enumerate(outcome.deals):
        ruleset = rulesets[index]
        if deal is not None and ruleset is not None and not seen.first(ruleset, deal):
            offset = outcome.offsets[index]
            finding = judge.duplicate(runs, ruleset, origin(batch, index, offset), deal)
            chunks.append(serialise(finding) + b"\n")
            kinds.append((finding.code,))
            places.append((index, offset))
            continue
        chunk = outcome.chunks[index]
        if chunk:
            chunks.append(chunk)
            kinds.append(outcome.codes[index])
            places.append((index, outcome.offsets[index]))
    totals.records += len(outcome.deals)
    totals.codes.update([code for found in kinds for code in found])
    return Settled(batch, chunks, kinds, places)


# -- executors ---------------------------------------------------------------------------------

class Executor(Protocol):
    """Where batches are judged: each batch with its outcome, in input order."""

    def judged(self, judge: Judge, runs: Runs,
               batches: Iterable[Batch]) -> Iterator[tuple[Batch, Outcome]]:
        """Judge ``batches`` with ``judge`` at the time and in the language of ``runs``."""
        ...


class Inline:
    """Batches judged in this process, one after another."""

    def judged(self, judge: Judge, runs: Runs,
               batches: Iterable[Batch]) -> Iterator[tuple[Batch, Outcome]]:
        """Judge each batch here."""
        for batch in batches:
            yield batch, judge_batch(judge, runs, batch)


_WORKER: dict[str, tuple[Judge, Runs]] = {}


def _start_worker(judge: Judge, now: datetime, lang: str) -> None:
    # The judge arrives as its rulesets' texts and compiles here, once per worker process.
    _WORKER["state"] = (judge, Runs(now, lang))


def _work(batch: Batch) -> Outcome:
    judge, runs = _WORKER["state"]
    return judge_batch(judge, runs, batch)


@dataclass(frozen=True)
class Pool:
    """Batches judged by ``jobs`` worker processes, at most ``4 × jobs`` in flight."""

    jobs: int

    def judged(self, judge: Judge, runs: Runs,
               batches: Iterable[Batch]) -> Iterator[tuple[Batch, Outcome]]:
        """Judge the batches in the pool; results come back in input order."""
        pending: deque[tuple[Batch, Future[Outcome]]] = deque()
        with ProcessPoolExecutor(max_workers=self.jobs, initializer=_start_worker,
                                 initargs=(judge, runs.now, runs.lang)) as pool:
            for batch in batches:
                pending.append((batch, pool.submit(_work, batch)))
                while len(pending) >= 4 * self.jobs:
                    done, future = pending.popleft()
                    yield done, future.result()
            while pending:
                done, future = pending.popleft()
                yield done, future.result()


def executor(jobs: int) -> Executor:
    """This process for one job, a pool of processes for more."""
    return Inline() if jobs <= 1 else Pool(jobs)


# -- the driver --------------------------------------------------------------------------------

def batched(items: Iterable[Item], size: int = BATCH) -> Iterator[list[Item]]:
    """Records (or raw lines) in batches of ``size``."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def evaluate_stream(judge: Judge, batches: Iterable[Batch], now: datetime,
                    lang: str = i18n.DEFAULT, jobs: int = 1, totals: Totals | None = None,
                    progress: Callable[[int], None] | None = None) -> Iterator[Settled]:
    """Every batch's findings, in input order, judged with ``jobs`` processes at ``now``, the
    messages in ``lang``; ``totals`` counts records and findings as they go."""
    totals = totals if totals is not None else Totals()
    runs = Runs(now, lang)
    seen = DealIds()
    for batch, outcome in executor(jobs).judged(judge, runs, batches):
        yield settle(judge, runs, seen, batch, outcome, totals)
        if progress is not None:
            progress(totals.records)


# -- one partition, as a pure function ---------------------------------------------------------

@dataclass(frozen=True)
class PartitionFindings:
    """What a partition gave: how many records, and each finding as a JSON line with the
    origin of its record, in input order."""

    records: int
    origins: tuple[str, ...]
    lines: tuple[bytes, ...]
    codes: tuple[str, ...]

    def dicts(self) -> list[dict[str, Any]]:
        """The findings as JSON-shaped dicts (``Finding.to_dict`` form)."""
        return [orjson.loads(line) for line in self.lines]


def partition_records(batch: Any, source: str = "", first_row: int = 1) -> list[Record]:
    """A batch as reader records: an Arrow record batch or table (via
    :mod:`pipeline_rules.deals.readers.parquet`), or a sequence of JSON-shaped dicts or
    records."""
    if isinstance(batch, Sequence):
        return [as_record(item, f"{source}:{first_row + i}") for i, item in enumerate(batch)]
    from pipeline_rules.deals.readers.parquet import (
        batch_records,  # pyarrow only when the batch is Arrow's
    )

    return batch_records(batch, source, first_row)


def evaluate_partition(batch: Any, judge: Judge, now: datetime, source: str = "",
                       first_row: int = 1, lang: str | None = None) -> PartitionFindings:
    """The findings of a batch of deals (an Arrow record batch or table, or a list of dicts),
    each judged by the ruleset it names, in input order; a (ruleset, deal id) repeated within
    the batch is a ``bad-record``. Records are named ``source:row``, rows from ``first_row``;
    messages are in ``lang`` (by default the language the rulesets were loaded in). A pure
    function of arguments that all pickle, so any engine can call it anywhere."""
    records = partition_records(batch, source, first_row)
    totals = Totals()
    settled = list(evaluate_stream(judge, [records], now, lang or judge.catalog.lang,
                                   totals=totals))
    found = [pair for one in settled for pair in one.origins()]
    return PartitionFindings(totals.records, tuple(o for o, _ in found),
                             tuple(line for _, line in found),
                             tuple(code for one in settled for codes in one.codes
                                   for code in codes))


__all__ = ["BATCH", "Batch", "Executor", "Inline", "Item", "Outcome", "PartitionFindings",
           "Pool", "Settled", "Totals", "batched", "evaluate_partition", "evaluate_stream",
           "executor", "judge_batch", "origin", "partition_records",
           "serialise", "settle"]
