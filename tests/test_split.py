"""analyze --split DATE: before vs after a regulation change with seeded bootstrap intervals and
a plain verdict, the same in text, JSON and HTML."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from statistics import median
from zoneinfo import ZoneInfo

from click.testing import CliRunner
from helpers import ROOT

from pipeline_rules.analytics import analyze
from pipeline_rules.analytics.split import Interval, verdict
from pipeline_rules.cli import main
from pipeline_rules.ruleset.catalog import load_ruleset

BERLIN = ZoneInfo("Europe/Berlin")
RULESET = ROOT / "examples" / "wide_export" / "ruleset.yaml"


def deal(number: int, start: datetime, days: int, won: bool) -> dict[str, object]:
    end = start + timedelta(days=days)
    return {"id": f"D{number}", "history": [
        {"stage": "prospecting", "at": start.isoformat()},
        {"stage": "engaging", "at": (start + timedelta(days=1)).isoformat()},
        {"stage": "won" if won else "lost", "at": end.isoformat()}]}


def deals() -> list[dict[str, object]]:
    """40 deals before 1 June with 40-50 day cycles, 40 after with 20-30 day ones."""
    found = []
    for i in range(40):
        before = datetime(2025, 1, 6, tzinfo=BERLIN) + timedelta(days=2 * i)
        after = datetime(2025, 6, 2, tzinfo=BERLIN) + timedelta(days=2 * i)
        found.append(deal(i, before, 40 + i % 11, i % 3 != 0))
        found.append(deal(100 + i, after, 20 + i % 11, i % 3 != 0))
    return found


def test_a_shorter_cycle_after_the_change_is_said_plainly() -> None:
    report = analyze(load_ruleset(RULESET), deals(), datetime(2026, 1, 1, tzinfo=BERLIN),
                     split=datetime(2025, 6, 1, tzinfo=BERLIN))
    split = report.split
    assert split is not None
    assert (split.before.deals, split.after.deals) == (40, 40)
    def cycles(side: int) -> list[float]:
        chosen = deals()[side::2]
        return [(datetime.fromisoformat(str(d["history"][-1]["at"]))  # type: ignore[index]
                 - datetime.fromisoformat(str(d["history"][0]["at"]))  # type: ignore[index]
                 ).total_seconds() for d in chosen]

    assert split.cycle is not None
    assert split.cycle.estimate == median(cycles(1)) - median(cycles(0))
    assert -25 * 86400 < split.cycle.low < split.cycle.estimate < split.cycle.high < -15 * 86400
    assert split.verdict[0].startswith("cycle shorter by ") and split.verdict[0].endswith(
        " days, 95 %")
    assert split.verdict[1].startswith("win rate: no clear change")
    engaging = next(s for s in split.stages if s.stage == "engaging")
    assert engaging.dwell_before is not None and engaging.dwell_after is not None
    assert round((engaging.dwell_before - engaging.dwell_after) / 86400) == 20
    # Seeded: the same intervals every run.
    again = analyze(load_ruleset(RULESET), deals(), datetime(2026, 1, 1, tzinfo=BERLIN),
                    split=datetime(2025, 6, 1, tzinfo=BERLIN)).split
    assert again == split


def test_verdict_words() -> None:
    day = 86400.0
    assert verdict(Interval(-6 * day, -9 * day, -4 * day), Interval(0.07, 0.03, 0.11)) == (
        "cycle shorter by 4–9 days, 95 %", "win rate up by 3–11 points, 95 %")
    assert verdict(Interval(2 * day, 0.5 * day, 3 * day), Interval(-0.1, -0.2, -0.05)) == (
        "cycle longer by 0.5–3 days, 95 %", "win rate down by 5–20 points, 95 %")
    assert verdict(None, Interval(0, -0.04, 0.05)) == (
        "cycle length: too few closed deals on a side to tell",
        "win rate: no clear change (−4 to +5 points, 95 %)")


def test_split_in_text_json_and_html(tmp_path: Path) -> None:
    data = tmp_path / "deals.jsonl"
    data.write_text("".join(json.dumps(d) + "\n" for d in deals()))
    args = ["analyze", str(RULESET), str(data), "--now", "2026-01-01", "--split", "2025-06-01"]
    page = tmp_path / "r.html"
    text = CliRunner().invoke(main, [*args, "--html", str(page)]).stdout
    report = json.loads(CliRunner().invoke(main, [*args, "--format", "json"]).stdout)
    split = report["split"]
    assert split["at"] == "2025-06-01T00:00+02:00"
    html = page.read_text(encoding="utf-8")
    for line in split["verdict"]:
        assert f"  {line}" in text.splitlines()
        assert f"<li>{line}</li>" in html
    assert "before     40      40   26       65%        44d12h" in text.splitlines()
