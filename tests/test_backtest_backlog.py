"""backtest: the alerts already open at --from are shown apart from the period's (not in its
first week), long runs report progress, and a comparison states its net change."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from click.testing import CliRunner
from helpers import ROOT

from pipeline_rules.analytics.backtest import backtest
from pipeline_rules.cli import main
from pipeline_rules.deals.readers import read_jsonl
from pipeline_rules.ruleset.catalog import load_file

B2B = str(ROOT / "rulesets" / "b2b_sales.yaml")
COLD = str(ROOT / "rulesets" / "cold_only.yaml")
SAMPLE = str(ROOT / "examples" / "deals.jsonl")
ARGS = ["backtest", B2B, SAMPLE, "--from", "2026-11-01", "--to", "2026-11-20"]


def test_the_backlog_at_from_is_apart_from_the_period() -> None:
    report = json.loads(CliRunner().invoke(main, [*ARGS, "--format", "json"]).stdout)
    # A-101's invoice SLA ran out on 7 October and its whole cycle on 29 October (examples/
    # EXPECTED.md): two breaches and their two escalations were due before 1 November.
    assert report["backlog"] == {"cycle-breach": 1, "escalate": 2, "sla-breach": 1}
    weeks = report["tally"]["by_week"]
    assert min(weeks) >= "2026-10-26"  # the week of --from, not a bar for older alerts
    assert "cycle-breach" not in report["tally"]["by_code"]
    text = CliRunner().invoke(main, ARGS).stdout
    assert ("b2b-sales: 4 alerts already open at the start (due before --from; not in the "
            "weeks above): cycle-breach 1, escalate 2, sla-breach 1") in text.splitlines()


def test_a_comparison_states_its_net_change() -> None:
    result = CliRunner().invoke(main, [*ARGS, "--compare", COLD, "--format", "json"])
    report = json.loads(result.stdout)
    added = sum(c["added"] for c in report["changes"])
    removed = sum(c["removed"] for c in report["changes"])
    text = CliRunner().invoke(main, [*ARGS, "--compare", COLD]).stdout
    assert (f"net change: {added - removed:+,} alerts ({added:,} added, "
            f"{removed:,} removed)") in text.splitlines()
    # Examples come from the period first: one from the backlog only follows the period's.
    for change in report["changes"]:
        for examples in (change["examples_added"], change["examples_removed"]):
            dates = [example.rsplit(" at ", 1)[1] for example in examples]
            in_period = [d >= "2026-11-01" for d in dates]
            assert in_period == sorted(in_period, reverse=True)


def test_progress_counts_every_evaluation_point() -> None:
    calls: list[tuple[int, int]] = []
    compiled = load_file(B2B).only()
    other = load_file(COLD).only()
    start = datetime.fromisoformat("2026-11-01T00:00:00+03:00")
    backtest(compiled, read_jsonl(SAMPLE), start, start + timedelta(days=4), timedelta(days=1),
             other, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(n, 10) for n in range(1, 11)]
