"""The questions ops people ask of their history: analyze --by FIELD, cycle length and win rate
by month of start, a suggested whole-cycle limit; the numbers agree in text, JSON and HTML."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

from click.testing import CliRunner
from helpers import ROOT

from pipeline_rules.cli import main
from pipeline_rules.outputs.text import duration

EXAMPLE = ROOT / "examples" / "wide_export"
ARGS = ["analyze", str(EXAMPLE / "ruleset.yaml"), str(EXAMPLE / "deals.csv"), "--mapping",
        str(EXAMPLE / "mapping.yaml"), "--now", "2025-12-19T18:00", "--by", "product"]


def rows() -> list[dict[str, str]]:
    with open(EXAMPLE / "deals.csv", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def run(*extra: str) -> str:
    result = CliRunner().invoke(main, [*ARGS, *extra])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_by_field_and_by_month_count_what_the_export_holds() -> None:
    report = json.loads(run("--format", "json"))
    by_product = {g["key"]: g for g in report["by_field"]}
    assert report["by"] == "product"
    expected = Counter(r["product"] for r in rows())
    assert {k: g["deals"] for k, g in by_product.items()} == expected
    won = Counter(r["product"] for r in rows() if r["deal_stage"] == "Won")
    assert {k: g["won"] for k, g in by_product.items()} == won
    # The trend: deals by the month their first dated stage (engage_date) falls in.
    months = Counter(r["engage_date"][:7] for r in rows() if r["engage_date"])
    assert {g["key"]: g["deals"] for g in report["by_month"]} == months
    undated = sum(not r["engage_date"] for r in rows())
    assert f"by month of start: {undated} deals with no dated stage are in no month" \
        in report["notes"]
    assert report["cycle_limit"] is not None and report["cycle_limit_seconds"] > 0


def test_text_json_and_html_agree(tmp_path: Path) -> None:
    page_file = tmp_path / "report.html"
    text = run("--html", str(page_file))
    report = json.loads(run("--format", "json"))
    page = page_file.read_text(encoding="utf-8")
    assert f"whole cycle: suggested limit {report['cycle_limit']}" in text
    assert f"suggested limit {report['cycle_limit']}" in page
    for group in (*report["by_month"], *report["by_field"], *report["by_owner"]):
        rate = "—" if group["win_rate"] is None else f"{group['win_rate']:.0%}"
        median = group["cycle_won"]["median"]
        cells = [group["key"], f"{group['deals']:,}", f"{group['won']:,}", f"{group['lost']:,}",
                 f"{group['open']:,}", rate]
        line = next(line for line in text.splitlines() if line.startswith(group["key"] + " "))
        assert all(cell in line for cell in cells)
        if median is not None:
            assert duration(median) in line
            assert duration(median) in page
        assert f">{group['key']}<" in page
    for stage in report["stages"]:
        line = next(line for line in text.splitlines() if line.startswith(stage["stage"] + " "))
        assert f" {stage['entered']:,} " in line and f" {stage['still_there']:,} " in line


def test_a_by_field_no_deal_has_is_refused_with_the_fields_there_are() -> None:
    result = CliRunner().invoke(main, [*ARGS[:-1], "colour"])
    assert result.exit_code == 2
    assert "--by colour: no deal has a field 'colour'; fields the deals have: account, " \
        in result.stderr
    assert "product" in result.stderr
