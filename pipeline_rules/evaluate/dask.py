"""Evaluating a Parquet dataset on a Dask cluster: one task per partition (file), each writing
the findings of its partition to its own file.

The driver sends only names: the dataset's files are listed by a task on a worker, and each
partition task reads its file, evaluates it with the one stream driver (:mod:`.engine`) and
writes its findings itself, through the sink the caller gives (the format is the caller's
business: the command line passes Parquet findings files), so deals never pass through the
driver (it needs neither the data nor the bandwidth). The rulesets travel as their texts inside
one task whose result every partition task depends on; a worker compiles them once, and if the
worker holding them dies the scheduler simply recomputes that task.

Failure handling rests on three facts:

* a partition task is deterministic: the same file, rulesets and ``now`` give the same bytes;
* it writes to a temporary name next to its output and renames it when complete, so an output
  file is either whole or absent — never half-written, whatever kills the worker;
* the scheduler re-runs the tasks of a dead worker elsewhere (``distributed.scheduler.
  allowed-failures`` times), and an ordinary exception is retried ``RETRIES`` times.

So a partition's findings land exactly once: a task that died wrote nothing visible, and a
zombie attempt that finishes late renames identical bytes over identical bytes. ``resume`` skips
partitions whose output exists and was written for the same input file, ``now`` and rulesets
(the footer says so), which makes a re-run after a failed run cheap. Temporaries
left by killed attempts are removed when the run ends.

Duplicate deal ids are found within a partition: a deal whose id repeats across partitions is
evaluated in each (partition datasets by tenant or by deal to rule that out; docs/scale.md).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from pipeline_rules import i18n
from pipeline_rules.deals.readers import parquet as columnar
from pipeline_rules.evaluate.engine import Totals, evaluate_stream
from pipeline_rules.evaluate.judge import Judge

#: Retries of a partition task that raised (a worker that died is the scheduler's business).
RETRIES = 2


class FindingsFile(Protocol):
    """A partition's findings being written."""

    #: Deal records evaluated (set when the partition is done).
    records: int

    def write(self, origin: str, line: bytes) -> None:
        """Add one finding (its record's origin and its JSON line)."""


class PartitionSink(Protocol):
    """Where each partition's findings go: a file per partition, complete or absent. The caller
    chooses the format (the command line gives
    :class:`pipeline_rules.outputs.parquet.FindingsFiles`); it travels to every partition task,
    so it must pickle."""

    def written(self, target: str,
                stamp: Mapping[str, str]) -> tuple[int, Mapping[str, int]] | None:
        """The records and findings per code of ``target`` if it exists and was written by the
        run ``stamp`` describes (``resume`` keeps it), else None."""

    def write(self, target: str,
              stamp: Mapping[str, str]) -> AbstractContextManager[FindingsFile]:
        """A findings file that appears at ``target``, stamped, only when the block ends
        without an error."""

    def clean(self, output: str) -> int:
        """Remove what attempts killed mid-write left under ``output``; how many files."""


@dataclass(frozen=True)
class PartitionReport:
    """What a partition task did: its input and output, the records it evaluated and the
    findings per code; ``skipped`` when its output already existed (``resume``)."""

    source: str
    target: str
    records: int
    codes: tuple[tuple[str, int], ...]
    skipped: bool = False

    @property
    def findings(self) -> int:
        """How many findings the partition gave."""
        return sum(count for _, count in self.codes)


@dataclass(frozen=True)
class PartitionFailure:
    """A partition whose task failed every attempt, and the last error."""

    source: str
    error: str


@dataclass(frozen=True)
class DaskResult:
    """Every partition's report (in partition order) and the partitions that failed."""

    reports: tuple[PartitionReport, ...]
    failures: tuple[PartitionFailure, ...]


def output_path(source: str, dataset: str, output: str) -> str:
    """Where a partition's findings go: its path inside the dataset, under ``output``."""
    # Names only: the driver may not see the dataset's file system at all.
    relative = Path(source).name if Path(source) == Path(dataset) \
        else Path(source).relative_to(dataset)
    return str(Path(output) / relative)


def evaluate_file(source: str, target: str, judge: Judge, now: datetime, sink: PartitionSink,
                  lang: str = i18n.DEFAULT, resume: bool = False) -> PartitionReport:
    """Evaluate one Parquet partition and write its findings to ``target`` through ``sink``;
    with ``resume``, keep an existing ``target`` written by the same run."""
    stamp = run_stamp(source, judge, now, lang)
    if resume:
        done = sink.written(target, stamp)
        if done is not None:
            records, codes = done
            return PartitionReport(source, target, records, tuple(sorted(codes.items())), True)
    totals = Totals()
    batches = (columnar.batch_records(batch, source, first)
               for first, batch in columnar.file_batches(source, judge.key))
    with sink.write(target, stamp) as out:
        for settled in evaluate_stream(judge, batches, now, lang, totals=totals):
            for origin, line in settled.origins():
                out.write(origin, line)
        out.records = totals.records
    return PartitionReport(source, target, totals.records, tuple(sorted(totals.codes.items())))


def run_stamp(source: str, judge: Judge, now: datetime, lang: str) -> dict[str, str]:
    """What a findings file records of the run that wrote it, so ``resume`` never keeps the
    findings of another input, another time or other rulesets."""
    # The keys are what findings files have always carried (older outputs stay resumable).
    return {"pipeline_rules.source": source, "pipeline_rules.now": now.isoformat(),
            "pipeline_rules.rulesets": judge.fingerprint(lang)}


def _arrive(judge: Judge) -> Judge:
    """The judge, as a task result: rebuilt on the worker that runs it (see
    :meth:`Judge.__reduce__`)."""
    return judge


@contextmanager
def connect(scheduler: str | None, workers: int = 2) -> Iterator[Any]:
    """A client of the scheduler at ``scheduler``, or of a local cluster of ``workers``
    single-threaded processes (closed at the end)."""
    from dask.distributed import Client, LocalCluster

    if scheduler is not None:
        with Client(scheduler) as client:
            yield client
        return
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=":0", silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as client:
        yield client


def run_partitions(client: Any, dataset: str, output: str, judge: Judge, now: datetime,
                   sink: PartitionSink, lang: str = i18n.DEFAULT, resume: bool = False,
                   on_report: Callable[[PartitionReport], None] | None = None) -> DaskResult:
    """Evaluate every partition of ``dataset`` on the cluster behind ``client``, findings to
    one file per partition under ``output``."""
    from dask.distributed import as_completed

    run = uuid.uuid4().hex[:12]  # task keys unique to this run on a long-lived cluster
    files: list[str] = client.submit(columnar.dataset_files, dataset, key=f"list-{run}",
                                     pure=False).result()
    shipped = client.submit(_arrive, judge, key=f"judge-{run}", pure=False)
    futures = {client.submit(evaluate_file, source, output_path(source, dataset, output),
                             shipped, now, sink, lang, resume, key=f"partition-{run}-{index}",
                             retries=RETRIES, pure=False): source
               for index, source in enumerate(files)}
    reports: dict[str, PartitionReport] = {}
    failures: list[PartitionFailure] = []
    for future in as_completed(futures, raise_errors=False):
        if future.status == "finished":
            report: PartitionReport = future.result()
            reports[report.source] = report
            if on_report is not None:
                on_report(report)
        else:
            failures.append(PartitionFailure(futures[future], repr(future.exception())))
        future.release()
    shipped.release()
    client.submit(sink.clean, output, key=f"clean-{run}", pure=False).result()
    return DaskResult(tuple(reports[f] for f in files if f in reports),
                      tuple(sorted(failures, key=lambda f: files.index(f.source))))


def run_dask(dataset: str, output: str, judge: Judge, now: datetime, sink: PartitionSink,
             lang: str = i18n.DEFAULT, scheduler: str | None = None, workers: int = 2,
             resume: bool = False,
             on_report: Callable[[PartitionReport], None] | None = None) -> DaskResult:
    """:func:`run_partitions` on the scheduler at ``scheduler``, or on a local cluster."""
    with connect(scheduler, workers) as client:
        return run_partitions(client, dataset, output, judge, now, sink, lang, resume,
                              on_report)


__all__ = ["RETRIES", "DaskResult", "FindingsFile", "PartitionFailure", "PartitionReport",
           "PartitionSink", "connect", "evaluate_file", "output_path", "run_dask",
           "run_partitions", "run_stamp"]
