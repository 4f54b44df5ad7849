"""Evaluating a partition of deals against many rulesets: the unit of work any engine runs.

:func:`evaluate_partition` takes a batch of deal records (an Arrow record batch or table, or a
list of JSON-shaped dicts), the :class:`~pipeline_rules.evaluate.tenants.Tenants` and the evaluation
time,
and returns the findings of every record in input order. It is a pure function of its arguments,
which all pickle (the tenants as the texts of their rulesets), so Dask, Spark, Ray or a process
pool can call it anywhere and get the same bytes.

A batch is judged in two steps so that a stream of batches can share one check for duplicate
deal ids: :func:`judge` evaluates each record on its own (in a worker), and
:class:`Duplicates` (in whoever sees the whole stream) turns a record whose (ruleset, deal id) was
seen before into a ``bad-record``. Two tenants may both have deal 17. :func:`run_tenants` is the
single-machine loop over both, with ``--jobs`` worker processes, in the manner of
:mod:`pipeline_rules.evaluate.batch`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any

import orjson

from pipeline_rules.deals.model import Record
from pipeline_rules.evaluate import Evaluator
from pipeline_rules.evaluate.batch import BATCH, Item, Totals, serialise
from pipeline_rules.evaluate.context import Run
from pipeline_rules.evaluate.findings import Finding
from pipeline_rules.evaluate.idset import DealIds
from pipeline_rules.evaluate.intake import as_record
from pipeline_rules.evaluate.tenants import Tenants


@dataclass(frozen=True)
class Judged:
    """One record's result: where it came from, the ruleset and deal id it was evaluated
    under (both None for a record that could not be), and its findings as JSON lines."""

    origin: str
    ruleset: str | None
    deal: str | None
    lines: tuple[bytes, ...]
    codes: tuple[str, ...]


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


class Runs:
    """Per-run context of each ruleset at one ``now``, made when a ruleset is first needed
    (a run looks up the next scheduled evaluation: too dear to repeat per deal)."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self._runs: dict[str, Run] = {}

    def of(self, evaluator: Evaluator) -> Run:
        """The run context of ``evaluator`` at ``now``."""
        found = self._runs.get(evaluator.compiled.id)
        if found is None:
            found = self._runs[evaluator.compiled.id] = evaluator.run(self.now)
        return found


def _judged(origin: str, ruleset: str | None, deal: str | None,
            found: Iterable[Finding]) -> Judged:
    findings = list(found)
    return Judged(origin, ruleset, deal, tuple(serialise(f) for f in findings),
                  tuple(f.code for f in findings))


def judge_record(record: Record, tenants: Tenants, runs: Runs) -> Judged:
    """One record evaluated against the ruleset it names (no duplicate check)."""
    if record.error is not None and not tenants.single:
        # Unreadable: nothing names a ruleset, so no ruleset's evaluator can speak for it.
        finding = tenants.bad_record(runs.now, record.origin, record.deal, None, record.error)
        return _judged(record.origin, None, None, [finding])
    evaluator = tenants.evaluator_for(record.data)
    if isinstance(evaluator, str):
        finding = tenants.bad_record(runs.now, record.origin, record.deal,
                                     tenants.name_of(record.data), evaluator,
                                     tenants.pointer(record.data))
        return _judged(record.origin, None, None, [finding])
    deal, found = evaluator.outcome(record, runs.of(evaluator))
    ruleset = evaluator.compiled.id
    return _judged(record.origin, ruleset if deal is not None else None, deal, found)


def judge(items: Iterable[Item], tenants: Tenants, runs: Runs) -> list[Judged]:
    """Every record of a batch evaluated on its own, in order."""
    return [judge_record(as_record(item), tenants, runs) for item in items]


class Duplicates:
    """The (ruleset, deal id) pairs seen so far in a stream of judged records (see
    :class:`~pipeline_rules.evaluate.idset.DealIds`)."""

    def __init__(self, tenants: Tenants, runs: Runs) -> None:
        self._tenants = tenants
        self._runs = runs
        self._seen = DealIds()

    def settle(self, judged: Judged) -> Judged:
        """The record as judged, or a ``bad-record`` when its deal was seen before."""
        if judged.deal is None or judged.ruleset is None:
            return judged
        if self._seen.first(judged.ruleset, judged.deal):
            return judged
        evaluator = self._tenants.evaluators[judged.ruleset]
        finding = evaluator.duplicate(self._runs.of(evaluator), Record(judged.origin),
                                      judged.deal)
        return _judged(judged.origin, None, None, [finding])


def _deal_id(item: object) -> str | None:
    ident = item.get("id") if isinstance(item, Mapping) else None
    return str(ident) if isinstance(ident, str | int) and not isinstance(ident, bool) else None


def partition_records(batch: Any, source: str = "", first_row: int = 1) -> list[Record]:
    """A batch as reader records: an Arrow record batch or table (via
    :mod:`pipeline_rules.deals.readers.parquet`), or a sequence of JSON-shaped dicts or records."""
    if isinstance(batch, Sequence):
        return [item if isinstance(item, Record)
                else Record(f"{source}:{first_row + i}", item, deal=_deal_id(item))
                for i, item in enumerate(batch)]
    from pipeline_rules.deals.readers.parquet import (
        batch_records,  # pyarrow only when the batch is Arrow's
    )

    return batch_records(batch, source, first_row)


def evaluate_partition(batch: Any, tenants: Tenants, now: datetime, source: str = "",
                       first_row: int = 1) -> PartitionFindings:
    """The findings of a batch of deals (an Arrow record batch or table, or a list of dicts),
    each judged by the ruleset it names, in input order; a (ruleset, deal id) repeated within
    the batch is a ``bad-record``. Records are named ``source:row``, rows from ``first_row``."""
    records = partition_records(batch, source, first_row)
    runs = Runs(now)
    duplicates = Duplicates(tenants, runs)
    settled = [duplicates.settle(j) for j in judge(records, tenants, runs)]
    return PartitionFindings(
        len(records),
        tuple(j.origin for j in settled for _ in j.lines),
        tuple(line for j in settled for line in j.lines),
        tuple(code for j in settled for code in j.codes))


# -- one machine, many processes ---------------------------------------------------------------

_WORKER: dict[str, tuple[Tenants, Runs]] = {}


def _start_worker(tenants: Tenants, now: datetime) -> None:
    # The tenants arrive as texts and compile here, once per worker process.
    _WORKER["state"] = (tenants, Runs(now))


def _work(items: list[Item]) -> list[Judged]:
    tenants, runs = _WORKER["state"]
    return judge(items, tenants, runs)


def _batches(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def run_tenants(tenants: Tenants, items: Iterable[Item], now: datetime, jobs: int = 1,
                totals: Totals | None = None,
                progress: Callable[[int], None] | None = None) -> Iterator[tuple[str, bytes]]:
    """Every finding as (record origin, JSON line), in input order, with ``jobs`` processes;
    duplicates are judged here, over the whole stream."""
    totals = totals if totals is not None else Totals()
    runs = Runs(now)
    duplicates = Duplicates(tenants, runs)

    def settle(judged: list[Judged]) -> Iterator[tuple[str, bytes]]:
        for one in judged:
            totals.records += 1
            settled = duplicates.settle(one)
            totals.codes.update(settled.codes)
            for line in settled.lines:
                yield settled.origin, line
        if progress is not None:
            progress(totals.records)

    if jobs <= 1:
        for batch in _batches(items, BATCH):
            yield from settle(judge(batch, tenants, runs))
        return
    pending: deque[Future[list[Judged]]] = deque()
    with ProcessPoolExecutor(max_workers=jobs, initializer=_start_worker,
                             initargs=(tenants, now)) as pool:
        for batch in _batches(items, BATCH):
            pending.append(pool.submit(_work, batch))
            while len(pending) >= 4 * jobs:
                yield from settle(pending.popleft().result())
        while pending:
            yield from settle(pending.popleft().result())


__all__ = ["Duplicates", "Judged", "PartitionFindings", "Runs", "evaluate_partition", "judge",
           "judge_record", "partition_records", "run_tenants"]
