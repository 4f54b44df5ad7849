"""Parquet deals in, Parquet or JSONL findings out: the same findings as JSON Lines give."""

from __future__ import annotations

import json
import pickle
import sys
from datetime import datetime
from pathlib import Path

import orjson
import pyarrow as pa  # the parquet extra; the dev extra installs it
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from helpers import ROOT

from pipeline_rules.cli import main
from pipeline_rules.deals.readers import parquet as columnar
from pipeline_rules.evaluate.engine import evaluate_partition
from pipeline_rules.outputs import parquet as findings_file

sys.path.insert(0, str(ROOT / "benchmarks"))
from generate_parquet import write_dataset
from test_tenants import load_file

B2B = str(ROOT / "rulesets" / "b2b_sales.yaml")
NOW_TEXT = "2026-11-20T09:05:00+03:00"
NOW = datetime.fromisoformat(NOW_TEXT)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """1,500 generated deals as a 3-file Parquet dataset and as JSON Lines."""
    root = tmp_path_factory.mktemp("columnar")
    write_dataset(1500, str(root / "deals"), partitions=3, seed=11, now=NOW,
                  jsonl=str(root / "deals.jsonl"))
    return root / "deals", root / "deals.jsonl"


def test_a_dataset_gives_the_bytes_its_json_lines_give(dataset: tuple[Path, Path]) -> None:
    parquet, jsonl = dataset
    code, from_parquet, summary = run("evaluate", B2B, str(parquet), "--now", NOW_TEXT)
    assert code == 0
    _, from_jsonl, summary_jsonl = run("evaluate", B2B, str(jsonl), "--now", NOW_TEXT)
    assert from_parquet == from_jsonl and from_parquet.count("\n") > 500
    assert summary == summary_jsonl
    # One file of the dataset, named explicitly, is a dataset of one partition.
    first = sorted(parquet.glob("*.parquet"))[0]
    code, out, _ = run("evaluate", B2B, str(first), "--now", NOW_TEXT, "--input-format",
                       "parquet")
    assert code == 0 and out and from_parquet.startswith(out)


def test_partitions_are_read_in_path_order_with_row_origins(
        dataset: tuple[Path, Path]) -> None:
    parquet, _ = dataset
    records = list(columnar.read_parquet(str(parquet)))
    assert len(records) == 1500
    assert records[0].origin == f"{parquet / 'part-00000.parquet'}:1"
    assert records[500].origin == f"{parquet / 'part-00001.parquet'}:1"
    assert [r.deal for r in records[:2]] == ["D-0000000", "D-0000001"]


def test_the_layout_and_the_edge_cases_of_values(tmp_path: Path) -> None:
    """Times as naive timestamps (the ruleset's zone), as text, as dates; fields as JSON text
    or a map; nulls; and rows that are bad records."""
    history = pa.list_(pa.struct([("stage", pa.string()), ("at", pa.timestamp("s"))]))
    tasks = pa.list_(pa.struct([("id", pa.string()), ("due", pa.string()),
                                ("done", pa.bool_())]))
    events = pa.list_(pa.struct([("type", pa.string()), ("at", pa.date32())]))
    table = pa.table({
        "id": pa.array(["A", None, "C", "D"]),
        "stage": pa.array(["qualification", "meeting", "nowhere", "qualification"]),
        "source": pa.array(["cold", None, None, "cold"]),
        "fields": pa.array(['{"amount": 5}', None, "{broken", None]),
        "history": pa.array([[{"stage": "find_dm", "at": datetime(2026, 11, 16, 10)},
                              {"stage": "qualification", "at": datetime(2026, 11, 18, 10)}],
                             None, None,
                             [{"stage": "qualification", "at": datetime(2026, 11, 18, 10)}]],
                            type=history),
        "tasks": pa.array([[{"id": "T", "due": "2026-11-18T17:00:00+03:00", "done": False}],
                           None, None, None], type=tasks),
        "events": pa.array([[{"type": "call", "at": datetime(2026, 11, 25).date()}], None,
                            None, None], type=events),
        "extra": pa.array([1, 2, 3, 4]),
    })
    path = tmp_path / "edge.parquet"
    pq.write_table(table, path)
    records = list(columnar.read_parquet(str(path)))
    at = records[0].data["history"][0]["at"]  # type: ignore[index]
    assert datetime.fromisoformat(at) == datetime(2026, 11, 16, 10)  # no offset: the zone's
    assert records[0].data["fields"] == {"amount": 5}  # type: ignore[index]
    assert records[0].data["events"][0]["at"] == "2026-11-25"  # type: ignore[index]
    assert "extra" not in records[0].data  # type: ignore[operator]
    assert records[2].error is not None and "column 'fields'" in records[2].error
    found = evaluate_partition(table, load_file(B2B), NOW, str(path)).dicts()
    by_deal: dict[object, list[str]] = {}
    for finding in found:
        by_deal.setdefault(finding["deal"], []).append(finding["code"])
    assert by_deal["A"] == ["task-overdue"]  # the same deal as docs/evaluate.md's example
    assert by_deal[None] == ["bad-record"]
    assert by_deal["C"] == ["bad-record"]
    assert "D" in by_deal
    map_fields = pa.table({"id": ["M"], "stage": ["lost"],
                           "fields": pa.array([[("loss_reason", "price")]],
                                              type=pa.map_(pa.string(), pa.string()))})
    assert columnar.batch_records(map_fields, "m")[0].data["fields"] == {  # type: ignore[index]
        "loss_reason": "price"}


def test_unreadable_parquet_stops_the_run(tmp_path: Path) -> None:
    pq.write_table(pa.table({"name": ["x"]}), tmp_path / "noid.parquet")
    code, _, err = run("evaluate", B2B, str(tmp_path / "noid.parquet"), "--now", NOW_TEXT)
    assert code == 2 and "no 'id' column; columns: name" in err
    (tmp_path / "junk.parquet").write_bytes(b"not parquet at all")
    code, _, err = run("evaluate", B2B, str(tmp_path / "junk.parquet"), "--now", NOW_TEXT)
    assert code == 2 and "not a readable Parquet file" in err
    (tmp_path / "empty").mkdir()
    code, _, err = run("evaluate", B2B, str(tmp_path / "empty"), "--now", NOW_TEXT)
    assert code == 2 and "holds no .parquet file" in err


def test_findings_as_parquet_hold_what_json_lines_hold(dataset: tuple[Path, Path],
                                                       tmp_path: Path) -> None:
    parquet, jsonl = dataset
    _, stdout, _ = run("evaluate", B2B, str(parquet), "--now", NOW_TEXT)
    written = tmp_path / "findings.parquet"
    code, out, _ = run("evaluate", B2B, str(parquet), "--now", NOW_TEXT, "--output",
                       str(written))
    assert code == 0 and out == ""
    stored = findings_file.read_findings(str(written))
    assert [s.finding for s in stored] == [json.loads(line) for line in stdout.splitlines()]
    assert pq.read_schema(written).names == list(findings_file.FINDINGS_SCHEMA.names)
    records, codes = findings_file.findings_summary(str(written))
    assert records == 1500 and sum(codes.values()) == len(stored)
    # Each finding names its record: the partition file and the row in it.
    first = stored[0]
    assert first.input == str(parquet / "part-00000.parquet")
    deal_rows = {f"D-{n:07d}": n + 1 for n in range(500)}
    assert all(s.row == deal_rows[s.finding["deal"]] for s in stored[:50])
    assert not list(tmp_path.glob(".*.tmp"))  # written under a temporary name, renamed
    jsonl_out = tmp_path / "findings.jsonl"
    code, _, _ = run("evaluate", B2B, str(jsonl), "--now", NOW_TEXT, "--output", str(jsonl_out))
    assert code == 0 and jsonl_out.read_text(encoding="utf-8") == stdout


def test_output_and_format_options(dataset: tuple[Path, Path], tmp_path: Path) -> None:
    parquet, _ = dataset
    code, _, err = run("evaluate", B2B, str(parquet), "--output", str(tmp_path / "x.csv"))
    assert code == 2 and "name a .parquet or .jsonl file" in err
    code, _, err = run("evaluate", B2B, str(parquet), "--output", str(tmp_path / "x.jsonl"),
                       "--format", "table")
    assert code == 2 and "--format is for stdout" in err
    code, _, err = run("evaluate", B2B, str(parquet), "--resume")
    assert code == 2 and "--engine dask" in err


def test_the_partition_function_is_pure_and_takes_arrow_or_dicts(
        dataset: tuple[Path, Path]) -> None:
    parquet, _ = dataset
    file = str(parquet / "part-00001.parquet")
    table = pq.read_table(file)
    tenants = load_file(B2B)
    arguments = pickle.loads(pickle.dumps((table, tenants, NOW)))  # every argument pickles
    from_arrow = evaluate_partition(*arguments, source=file)
    assert from_arrow == evaluate_partition(table, tenants, NOW, source=file)  # deterministic
    dicts = [record.data for record in columnar.batch_records(table, file)]
    assert evaluate_partition(dicts, tenants, NOW, source=file) == from_arrow
    batches = table.to_batches(max_chunksize=200)
    pieces = [evaluate_partition(b, tenants, NOW, file, 1 + 200 * i)
              for i, b in enumerate(batches)]
    assert tuple(line for p in pieces for line in p.lines) == from_arrow.lines
    assert from_arrow.records == 500
    assert all(o.startswith(f"{file}:") for o in from_arrow.origins)
    assert orjson.loads(from_arrow.lines[0])["ruleset"] == "b2b-sales"


def test_split_origin() -> None:
    assert findings_file.split_origin("a/b.parquet:12") == ("a/b.parquet", 12)
    assert findings_file.split_origin("x.json[3]") == ("x.json", 4)
    assert findings_file.split_origin("<stdin>:2") == ("<stdin>", 2)
    assert findings_file.split_origin("record 1") == ("record 1", None)


def test_the_python_example_in_docs_scale_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    monkeypatch.chdir(ROOT)
    text = (ROOT / "docs" / "scale.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert blocks
    for block in blocks:
        exec(compile(block, "docs/scale.md", "exec"), {})
