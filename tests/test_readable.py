"""Numbers a person reads right: working time in business days and hours, singulars, a warning
when --now is far after the data, the progress line cleared before a table, a unit hint for a
bare number where a duration goes, and a short "use instead" under every lint finding shown
with its source."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import ROOT

from pipeline_rules.cli import evaluate as evaluate_cli
from pipeline_rules.cli import main
from pipeline_rules.lint.rules import all_rules
from pipeline_rules.time.durations import format_working

B2B = [str(ROOT / "rulesets" / "b2b_sales.yaml"), str(ROOT / "examples" / "deals.jsonl")]
NOW = "2026-11-20T09:05:00+03:00"
DAY = 8 * 3600.0  # a working day of the b2b 'workdays' calendar


@pytest.mark.parametrize(("seconds", "text"), [
    (31 * 8 * 3600 + 2 * 3600, "31 business days 2 h"),
    (8 * 3600, "1 business day"),
    (8 * 3600 - 60, "1 business day"),  # 7 h 59 min rounds up to the whole day
    (2 * 3600 + 20 * 60, "2 h"),
    (1800, "30 min"),
    (3599.9, "1 h"),
    (0, "0 h"),
])
def test_working_time_reads_as_business_days(seconds: float, text: str) -> None:
    assert format_working(seconds, 8 * 3600) == text


def test_analyze_shows_working_dwell_in_business_days_everywhere() -> None:
    args = ["analyze", *B2B, "--now", NOW]
    text = CliRunner().invoke(main, args).stdout
    data = json.loads(CliRunner().invoke(main, [*args, "--format", "json"]).stdout)
    find_dm = next(s for s in data["stages"] if s["stage"] == "find_dm")
    assert find_dm["working_day_seconds"] == DAY
    median = find_dm["dwell_working"]["median"]
    shown = format_working(median, DAY)
    assert "business day" in shown
    row = next(line for line in text.splitlines() if line.startswith("find_dm "))
    assert f"  {shown} / " in row
    page = Path(CliRunner().invoke(main, [*args, "--html", "/dev/stdout"]).stdout)
    assert shown in str(page)


def test_singulars() -> None:
    one = Path(ROOT / "examples" / "deals.jsonl").read_text().splitlines()[0]
    result = CliRunner().invoke(main, ["analyze", B2B[0], "-", "--input-format", "jsonl",
                                       "--now", NOW], input=one + "\n")
    assert result.stdout.startswith("Analysis of b2b-sales (B2B sales cycle): 1 deal, 0 bad "
                                    "records,")
    whole = CliRunner().invoke(main, ["analyze", *B2B, "--now", NOW]).stdout
    assert "; 1 deal still there, median age" in whole and "1 deals" not in whole
    evaluated = CliRunner().invoke(main, ["evaluate", B2B[0], "-", "--now", NOW],
                                   input=one + "\n")
    assert evaluated.stderr.startswith("1 record: ")


def test_a_now_far_after_the_data_is_warned_about() -> None:
    late = CliRunner().invoke(main, ["analyze", *B2B, "--now", "2030-11-20T09:00:00+03:00",
                                     "--format", "json"])
    assert "warning: now is 1,461 days after the latest time in the data (2026-11-19 15:00)" \
        in late.stderr
    assert any(n.startswith("now is 1,461 days") for n in json.loads(late.stdout)["notes"])
    near = CliRunner().invoke(main, ["analyze", *B2B, "--now", NOW])
    assert "warning" not in near.stderr and "now is" not in near.stdout


def test_the_progress_line_is_cleared_before_the_table(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import click.utils

    monkeypatch.setattr(click.utils, "should_strip_ansi", lambda *_: False)  # as on a terminal
    shown: list[int] = []
    batches = iter(["a", "b"])
    out = list(evaluate_cli._clearing(batches, shown.append))  # type: ignore[arg-type]
    assert out == ["a", "b"]
    assert capsys.readouterr().err == "\r\033[K"
    assert list(evaluate_cli._clearing(iter(["a"]), None)) == ["a"]  # type: ignore[arg-type]
    assert capsys.readouterr().err == ""


def test_a_bare_number_for_a_duration_gets_a_unit_hint(tmp_path: Path) -> None:
    text = (ROOT / "rulesets" / "b2b_sales.yaml").read_text().replace("limit: 7d", "limit: 7", 1)
    ruleset = tmp_path / "r.yaml"
    ruleset.write_text(text)
    result = CliRunner().invoke(main, ["lint", str(ruleset), "--no-source", "--lang", "en"])
    assert "expected text, found a whole number; write it with its unit, like '7d'" \
        in result.stdout


def test_every_rule_shown_with_its_source_says_how_to_fix(tmp_path: Path) -> None:
    ruleset = tmp_path / "r.yaml"
    ruleset.write_text("version: 1\nid: x\ntimezone: UTC\nstages:\n  - id: a\n  - id: b\n"
                       "  - id: won\n    terminal: won\n  - id: lost\n    terminal: lost\n"
                       "start: [{id: s, stage: a}]\nend: {won: won, lost: lost}\n"
                       "transitions:\n  - {from: a, to: won}\n  - {from: '*', to: lost}\n")
    result = CliRunner().invoke(main, ["lint", str(ruleset), "--color", "never", "--lang", "en"])
    lines = result.stdout.splitlines()
    at = lines.index("   = use instead (pipeline-rules rules unreachable-stage):")
    assert lines[at + 1] == "       transitions:"
    # The hint comes from each rule's documentation, so every advisory rule has one.
    for rule in all_rules().values():
        if rule.name != "schema":
            assert rule.use_instead(), rule.name
