"""A UTF-8 byte-order mark at the start of an input is skipped: the first deal of a JSON Lines
file (on every route: one process or a pool, a file or stdin), a JSON file, a CSV file and an
HTTP body is read as if the mark were not there. And a key given twice keeps its last value,
as documented (docs/input.md says why it is not refused)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from helpers import ROOT

from pipeline_rules.deals.readers.jsonl import BOM, read_json, read_jsonl
from pipeline_rules.server.app import create_app
from pipeline_rules.server.settings import Settings

B2B = ROOT / "rulesets" / "b2b_sales.yaml"
DEALS = ROOT / "examples" / "deals.jsonl"
NOW = ("--now", "2026-11-20T09:05:00+03:00")


def _evaluate(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "pipeline_rules", "evaluate", str(B2B), *args,
                           *NOW, "--format", "jsonl"], check=False, input=stdin,
                          capture_output=True, timeout=120)


def test_the_library_readers_skip_the_mark(tmp_path: Path) -> None:
    plain = DEALS.read_bytes()
    marked = tmp_path / "deals.jsonl"
    marked.write_bytes(BOM + plain)
    assert [r.data for r in read_jsonl(str(marked))] == [r.data for r in read_jsonl(str(DEALS))]
    assert all(r.error is None for r in read_jsonl(str(marked)))
    array = tmp_path / "deals.json"
    array.write_bytes(BOM + json.dumps([json.loads(line) for line in plain.splitlines()])
                      .encode())
    assert len([r for r in read_json(str(array)) if r.error is None]) == 6


@pytest.mark.parametrize("route", [("--jobs", "1"), ("--jobs", "2"), ("-",)])
def test_the_first_deal_of_a_marked_file_is_judged(tmp_path: Path, route: tuple[str, ...]) -> None:
    expected = _evaluate(str(DEALS))
    marked = tmp_path / "deals.jsonl"
    marked.write_bytes(BOM + DEALS.read_bytes())
    if route == ("-",):
        run = _evaluate("-", stdin=marked.read_bytes())
    else:
        run = _evaluate(str(marked), *route)
    assert run.returncode == 0, run.stderr
    assert b"bad-record" not in run.stdout
    assert run.stdout == expected.stdout.replace(str(DEALS).encode(), str(marked).encode())


@pytest.mark.parametrize("name", ["changelog", "wide"])
def test_a_csv_with_a_mark_reads_its_header(tmp_path: Path, name: str) -> None:
    csv = ROOT / "tests" / "fixtures" / "csv" / f"{name}.csv"
    mapping = csv.with_suffix(".yaml")
    plain = _evaluate(str(csv), "--mapping", str(mapping))
    marked = tmp_path / csv.name
    marked.write_bytes(BOM + csv.read_bytes().removeprefix(BOM))
    run = _evaluate(str(marked), "--mapping", str(mapping))
    assert plain.stdout and run.returncode == plain.returncode
    assert run.stdout == plain.stdout.replace(str(csv).encode(), str(marked).encode())


def test_an_http_body_with_a_mark_is_read(tmp_path: Path) -> None:
    directory = tmp_path / "rulesets"
    directory.mkdir()
    (directory / "b2b.yaml").write_bytes(B2B.read_bytes())
    deal = json.loads(DEALS.read_text(encoding="utf-8").splitlines()[0])
    body = json.dumps({"ruleset": "b2b-sales", "deal": deal, "now": NOW[1]}).encode()
    with TestClient(create_app(Settings(str(directory)))) as client:
        plain = client.post("/v1/evaluate", content=body,
                            headers={"content-type": "application/json"})
        marked = client.post("/v1/evaluate", content=BOM + body,
                             headers={"content-type": "application/json"})
    assert plain.status_code == marked.status_code == 200
    assert marked.json() == plain.json()


def test_a_repeated_key_keeps_its_last_value(tmp_path: Path) -> None:
    line = DEALS.read_text(encoding="utf-8").splitlines()[0]
    deal = json.loads(line)
    assert deal["stage"] == "meeting"
    repeated = line.replace('"stage": "meeting"', '"stage": "find_dm", "stage": "meeting"', 1)
    assert repeated != line
    path = tmp_path / "deals.jsonl"
    path.write_text(repeated + "\n", encoding="utf-8")
    single = tmp_path / "one.jsonl"
    single.write_text(line + "\n", encoding="utf-8")
    assert _evaluate(str(path)).stdout == _evaluate(str(single)).stdout
