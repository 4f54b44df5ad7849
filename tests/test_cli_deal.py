"""pipeline-rules deal: one deal as parsed (times in the ruleset's zone), its timeline and its
findings; evaluate --format csv: one row a finding, stable columns."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from click.testing import CliRunner
from helpers import ROOT

from pipeline_rules.cli import main
from pipeline_rules.outputs.findings import CSV_COLUMNS

EXAMPLE = ROOT / "examples" / "wide_export"
WIDE = [str(EXAMPLE / "ruleset.yaml"), str(EXAMPLE / "deals.csv")]
MAPPING = ["--mapping", str(EXAMPLE / "mapping.yaml"), "--now", "2025-12-19T18:00"]
B2B = [str(ROOT / "rulesets" / "b2b_sales.yaml"), str(ROOT / "examples" / "deals.jsonl")]


def test_one_deal_of_a_csv_export_as_parsed() -> None:
    result = CliRunner().invoke(main, ["deal", *WIDE, "OPP-0001", *MAPPING, "--lang", "en"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"{EXAMPLE / 'deals.csv'}:2: ruleset wide-export, times in Europe/Berlin"
    assert "  manager  Dustin Brinkmann" in lines
    assert "  (no date)         prospecting  (undated start)" in lines
    assert "  2025-05-12 00:00  engaging     221 days 18 h so far" in lines
    assert "findings at 2025-12-19 18:00 (2)" in lines
    assert any("escalate  engagement -> Dustin Brinkmann" in line for line in lines)


def test_json_times_are_in_the_rulesets_zone() -> None:
    result = CliRunner().invoke(main, ["deal", *B2B, "A-100", "--now",
                                       "2026-11-20T06:05:00Z", "--format", "json"])
    data = json.loads(result.stdout)
    assert data["origin"].endswith("deals.jsonl:1")
    assert data["now"] == "2026-11-20T09:05:00+03:00"
    assert all(h["at"].endswith("+03:00") for h in data["deal"]["history"])
    assert {f["code"] for f in data["findings"]} == {"sla-breach", "escalate", "remind"}


def test_a_missing_deal_and_a_bad_record(tmp_path: Path) -> None:
    missing = CliRunner().invoke(main, ["deal", *B2B, "NOPE"])
    assert missing.exit_code == 2 and "no deal 'NOPE'" in missing.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "X", "stage": "nowhere"}\n')
    result = CliRunner().invoke(main, ["deal", B2B[0], str(bad), "X", "--lang", "en"])
    assert result.exit_code == 1
    assert "bad-record" in result.stdout and "nowhere" in result.stdout


def test_evaluate_writes_findings_as_csv() -> None:
    as_csv = CliRunner().invoke(main, ["evaluate", *WIDE, *MAPPING, "--format", "csv"])
    as_jsonl = CliRunner().invoke(main, ["evaluate", *WIDE, *MAPPING, "--format", "jsonl"])
    rows = list(csv.reader(io.StringIO(as_csv.stdout)))
    findings = [json.loads(line) for line in as_jsonl.stdout.splitlines()]
    assert rows[0] == list(CSV_COLUMNS) == [
        "ruleset", "deal", "kind", "code", "severity", "rule", "stage", "at", "due", "action",
        "notify", "channel", "recipient", "key", "message"]
    assert len(rows) - 1 == len(findings)
    for row, finding in zip(rows[1:], findings, strict=True):
        cells = dict(zip(CSV_COLUMNS, row, strict=True))
        assert (cells["deal"], cells["code"], cells["at"], cells["message"]) == (
            finding["deal"], finding["code"], finding["at"], finding["message"])
        assert cells["recipient"] == (finding.get("details", {}).get("recipient") or "")


def test_one_deals_findings_as_csv() -> None:
    result = CliRunner().invoke(main, ["deal", *WIDE, "OPP-0001", *MAPPING, "--format", "csv"])
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == list(CSV_COLUMNS)
    assert [(r[1], r[3], r[12]) for r in rows[1:]] == [
        ("OPP-0001", "escalate", "Dustin Brinkmann"), ("OPP-0001", "sla-breach", "")]
