"""A Parquet dataset evaluated on a real Dask cluster of worker processes: the same findings as
one process, record for record, even when a worker is killed mid-run."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import distributed  # the dask extra; the dev extra installs it
import orjson
import pytest
from click.testing import CliRunner
from helpers import ROOT

from pipeline_rules.cli import main
from pipeline_rules.deals.readers import parquet as columnar
from pipeline_rules.evaluate.dask import evaluate_file, run_partitions
from pipeline_rules.evaluate.judge import Judge
from pipeline_rules.outputs import parquet as findings_file

sys.path.insert(0, str(ROOT / "benchmarks"))
from generate_parquet import write_dataset
from test_tenants import load_directory, make_ruleset_dir, run_tenants

NOW_TEXT = "2026-11-20T09:05:00+03:00"
NOW = datetime.fromisoformat(NOW_TEXT)
RULESETS = ("b2b-sales", "acme", "broken-co", "nope")
SINK = findings_file.FindingsFiles()

Row = tuple[int, int | None, str]


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """A local cluster of two single-threaded worker processes (restarted by their nannies
    when killed)."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0", silence_logs=logging.CRITICAL) \
            as cluster, distributed.Client(cluster) as connected:
        yield connected


@pytest.fixture(scope="module")
def tenants(tmp_path_factory: pytest.TempPathFactory) -> Judge:
    return load_directory(make_ruleset_dir(tmp_path_factory.mktemp("tenants")))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six partitions of deals spread over good, broken and unknown rulesets, and a seventh
    where deal 9 comes twice under acme and once under b2b-sales."""
    root = tmp_path_factory.mktemp("dataset") / "deals"
    write_dataset(2400, str(root), partitions=6, seed=5, now=NOW, rulesets=RULESETS)
    one = columnar.read_parquet(str(root / "part-00000.parquet"))
    deal = next(one).data
    assert isinstance(deal, dict)
    rows = [{**deal, "id": "9", "ruleset": r} for r in ("acme", "b2b-sales", "acme")]
    findings_file.write_deals(rows, str(root / "part-00006.parquet"), "ruleset")
    return root


def single_process(dataset: Path, tenants: Judge) -> list[Row]:
    """The reference: one process over the whole dataset, as (partition, row, finding)."""
    files = columnar.dataset_files(str(dataset))
    rows = []
    for origin, line in run_tenants(tenants, columnar.read_parquet(str(dataset)), NOW):
        source, row = findings_file.split_origin(origin)
        rows.append((files.index(source), row, orjson.loads(line)))
    return in_input_order(rows)


def from_outputs(dataset: Path, output: Path) -> list[Row]:
    """What the partition files under ``output`` hold, as (partition, row, finding)."""
    files = columnar.dataset_files(str(dataset))
    stored = findings_file.concat_findings(sorted(str(p) for p in output.rglob("*.parquet")))
    return in_input_order([(files.index(s.input), s.row, s.finding) for s in stored])


def in_input_order(rows: list[Any]) -> list[Row]:
    """Sorted by (partition, row); a record's own findings keep their order (stable sort)."""
    ordered = sorted(rows, key=lambda r: (r[0], r[1]))
    return [(p, r, orjson.dumps(f).decode()) for p, r, f in ordered]


def assert_no_duplicates(rows: list[Row]) -> None:
    assert len(set(rows)) == len(rows)


def test_cluster_findings_equal_the_single_process_run(client: Any, dataset: Path,
                                                       tenants: Judge,
                                                       tmp_path: Path) -> None:
    result = run_partitions(client, str(dataset), str(tmp_path / "out"), tenants, NOW, SINK)
    assert not result.failures
    assert [Path(r.source).name for r in result.reports] == [
        f"part-{i:05d}.parquet" for i in range(7)]
    cluster_rows = from_outputs(dataset, tmp_path / "out")
    expected = single_process(dataset, tenants)
    assert cluster_rows == expected
    assert_no_duplicates(cluster_rows)
    assert sum(r.records for r in result.reports) == 2403
    assert sum(r.findings for r in result.reports) == len(expected)
    codes = [orjson.loads(f)["code"] for p, _, f in expected if p == 6]
    assert codes.count("bad-record") == 1  # deal 9 repeated under acme only
    # Both sides ran the rulesets the workers compiled from shipped texts, bad ones included.
    assert {orjson.loads(f)["ruleset"] for _, _, f in expected} == {
        "b2b-sales", "acme", "broken-co", "nope"}


def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(client: Any, tenants: Judge,
                                                              tmp_path: Path) -> None:
    dataset = tmp_path / "big"
    write_dataset(32000, str(dataset), partitions=4, seed=9, now=NOW,
                  rulesets=("b2b-sales", "acme"))
    output = tmp_path / "out"
    outcome: dict[str, Any] = {}
    runner = threading.Thread(target=lambda: outcome.update(
        result=run_partitions(client, str(dataset), str(output), tenants, NOW, SINK)))
    runner.start()
    victim, partition = None, None
    deadline = time.monotonic() + 30
    while victim is None and time.monotonic() < deadline:
        for worker, keys in client.processing().items():
            running = [str(k) for k in keys if str(k).startswith("partition-")]
            if running:
                victim, partition = worker, int(running[0].rsplit("-", 1)[1])
                break
        time.sleep(0.01)
    assert victim is not None, "no partition task started"
    time.sleep(0.3)  # well into reading and evaluating its partition
    target = output / f"part-{partition:05d}.parquet"
    pids = client.run(os.getpid)
    assert not target.exists(), "the partition finished before the kill; make it bigger"
    os.kill(pids[victim], signal.SIGKILL)
    runner.join(120)
    assert not runner.is_alive()
    result = outcome["result"]
    assert not result.failures
    assert pids[victim] not in client.run(os.getpid).values()  # it did die
    rows = from_outputs(dataset, output)
    assert rows == single_process(dataset, tenants)
    assert_no_duplicates(rows)
    assert sorted(p.name for p in output.iterdir()) == [f"part-{i:05d}.parquet"
                                                       for i in range(4)]  # no temporaries


def test_resume_skips_completed_partitions(client: Any, dataset: Path, tenants: Judge,
                                           tmp_path: Path) -> None:
    output = tmp_path / "out"
    first = run_partitions(client, str(dataset), str(output), tenants, NOW, SINK)
    files = sorted(output.glob("*.parquet"))
    files[2].unlink()  # as if the run had died before this partition was written
    stamps = {p.name: p.stat().st_mtime_ns for p in files if p.exists()}
    (output / ".part-00001.parquet.0123abcd.tmp").write_bytes(b"left by a killed attempt")
    again = run_partitions(client, str(dataset), str(output), tenants, NOW, SINK, resume=True)
    assert [r.skipped for r in again.reports] == [i != 2 for i in range(7)]
    assert {p.name: p.stat().st_mtime_ns for p in files if p.name in stamps} == stamps
    assert files[2].exists()
    assert [(r.records, r.codes) for r in again.reports] == [
        (r.records, r.codes) for r in first.reports]
    assert not list(output.glob(".*"))  # temporaries removed at the end
    assert from_outputs(dataset, output) == single_process(dataset, tenants)
    # Outputs of another evaluation time are not taken for done.
    later = run_partitions(client, str(dataset), str(output), tenants,
                           NOW + timedelta(hours=1), SINK, resume=True)
    assert not any(r.skipped for r in later.reports)


def test_a_partition_file_is_the_same_bytes_every_time(dataset: Path, tenants: Judge,
                                                       tmp_path: Path) -> None:
    source = str(dataset / "part-00001.parquet")
    one = evaluate_file(source, str(tmp_path / "one.parquet"), tenants, NOW, SINK)
    two = evaluate_file(source, str(tmp_path / "two.parquet"), tenants, NOW, SINK)
    assert one.records == two.records == 400
    assert (tmp_path / "one.parquet").read_bytes() == (tmp_path / "two.parquet").read_bytes()


def test_a_partition_file_is_stamped_as_it_always_was(dataset: Path, tenants: Judge,
                                                      tmp_path: Path) -> None:
    source = str(dataset / "part-00001.parquet")
    evaluate_file(source, str(tmp_path / "one.parquet"), tenants, NOW, SINK)
    stamp = findings_file.findings_metadata(str(tmp_path / "one.parquet"))
    assert {k: v for k, v in stamp.items() if k.startswith("pipeline_rules.")} == {
        "pipeline_rules.source": source, "pipeline_rules.now": NOW.isoformat(),
        "pipeline_rules.rulesets": tenants.fingerprint(), "pipeline_rules.records": "400"}


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout, result.stderr


def test_cli_on_a_scheduler_and_on_a_local_cluster(client: Any, dataset: Path, tenants: Judge,
                                                   tmp_path: Path) -> None:
    directory = tenants.catalog.path
    _, _, local = run("evaluate", directory, str(dataset), "--now", NOW_TEXT, "--output",
                      str(tmp_path / "single.parquet"))
    code, out, err = run("evaluate", directory, str(dataset), "--now", NOW_TEXT, "--engine",
                         "dask", "--scheduler", client.scheduler.address, "--output",
                         str(tmp_path / "remote"))
    assert code == 0 and out == ""
    assert err.splitlines()[-1] == local.splitlines()[-1]  # the same summary
    code, _, err = run("evaluate", directory, str(dataset), "--now", NOW_TEXT, "--engine",
                       "dask", "--jobs", "2", "--output", str(tmp_path / "local"), "--strict")
    assert code == 1 and err.splitlines()[-1] == local.splitlines()[-1]
    assert from_outputs(dataset, tmp_path / "local") == from_outputs(dataset, tmp_path / "remote")
    code, _, err = run("evaluate", directory, str(dataset), "--now", NOW_TEXT, "--engine",
                       "dask", "--scheduler", client.scheduler.address, "--output",
                       str(tmp_path / "local"), "--resume")
    assert code == 0 and "7 partitions already done (--resume)" in err
    assert err.splitlines()[-1] == local.splitlines()[-1]


@pytest.mark.parametrize(("args", "message"), [
    (["--output", "out.parquet"], "give --output DIRECTORY"),
    ([], "give --output DIRECTORY"),
])
def test_cli_dask_usage_errors(dataset: Path, tenants: Judge, args: list[str],
                               message: str) -> None:
    code, _, err = run("evaluate", tenants.catalog.path, str(dataset), "--engine", "dask", *args)
    assert code == 2 and message in err


def test_cli_dask_needs_parquet(tenants: Judge, tmp_path: Path) -> None:
    deals = tmp_path / "deals.jsonl"
    deals.write_text("{}\n", encoding="utf-8")
    code, _, err = run("evaluate", tenants.catalog.path, str(deals), "--engine", "dask",
                       "--output", str(tmp_path / "out"))
    assert code == 2 and "reads a Parquet dataset" in err
