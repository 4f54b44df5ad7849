"""The example plugin on its own: each entry point does what its README says."""

from __future__ import annotations

import json
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from pipeline_rules_example_plugin import divisible_by

from pipeline_rules.evaluate import Evaluator
from pipeline_rules.ruleset.catalog import load_ruleset_source
from pipeline_rules.ruleset.source import Source

ROOT = Path(__file__).resolve().parents[3]

RULES = """
version: 1
id: plugin-demo
plugins: [big-deals, divisible_by, slack]
stages:
  - {id: proposal}
  - {id: invoice}
  - {id: paid, terminal: won}
  - {id: lost, terminal: lost}
start: [{stage: proposal}]
transitions:
  - {from: proposal, to: invoice, when: {amount: {divisible_by: 1000}}}
  - {from: invoice, to: paid}
  - {from: "*", to: lost}
sla:
  - {id: invoice-stall, stage: invoice, limit: 1d, on_breach: [escalate]}
actions:
  escalate: {notify: owner, channel: slack}
"""
NOW = datetime.fromisoformat("2026-11-20T12:00:00+00:00")


def test_entry_points_are_registered() -> None:
    names = {ep.name for group in ("pipeline_rules.checks", "pipeline_rules.conditions",
                                   "pipeline_rules.actions")
             for ep in entry_points(group=group)}
    assert {"big-deals", "strict-amounts", "divisible_by", "slack"} <= names


def test_divisible_by() -> None:
    assert divisible_by(5000, 1000)
    assert not divisible_by(5500, 1000)
    assert not divisible_by("5000", 1000)
    assert not divisible_by(5000, 0)


def test_the_three_plugins_in_an_evaluation() -> None:
    evaluator = Evaluator(load_ruleset_source(Source("demo.yaml", RULES)))
    deal = {"id": "D", "stage": "invoice", "owner": "ann", "fields": {"amount": 2_000_000},
            "history": [{"stage": "proposal", "at": "2026-11-17T10:00:00+00:00"},
                        {"stage": "invoice", "at": "2026-11-18T10:00:00+00:00"}]}
    found = {f.code: f for f in evaluator.evaluate_one(deal, NOW)}
    assert found["big-deal-unassigned"].rule == "big-deals"
    assert found["big-deal-unassigned"].severity == "error"
    escalate = found["escalate"]
    assert escalate.details["slack"]["text"].startswith("<@ann> SLA 'invoice-stall' breached")
    odd = {**deal, "fields": {"amount": 2_000_500}}
    assert [f.code for f in evaluator.evaluate_one(odd, NOW)].count("illegal-transition") == 1


def test_the_slack_sink_delivers_a_live_store_s_alerts(tmp_path: Path) -> None:
    """`tick --sink plugin:slack:URL` hands each delivery to the plugin's sink, which posts a
    Slack message to the URL (a loopback receiver here) with the alert's key as the
    idempotency key; the counts say what was delivered."""
    from click.testing import CliRunner

    from pipeline_rules.cli import main

    got: list[tuple[str, dict[str, Any]]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append((self.headers["Idempotency-Key"], json.loads(body)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    store = str(tmp_path / "live.db")
    try:
        ingest = CliRunner().invoke(main, [
            "ingest", str(ROOT / "rulesets" / "b2b_sales.yaml"),
            str(ROOT / "examples" / "deals.jsonl"), "--store", store,
            "--now", "2026-11-20T09:05:00+03:00"])
        assert ingest.exit_code == 0, ingest.output
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        tick = CliRunner().invoke(main, ["tick", "--store", store, "--now",
                                         "2026-11-21T09:05:00+03:00", "--sink",
                                         f"plugin:slack:{url}"])
    finally:
        server.shutdown()
        server.server_close()
    assert tick.exit_code == 0, tick.output
    counts = json.loads(tick.stderr.strip().splitlines()[-1])
    assert counts["delivered"] == len(got) == 3 and counts["failed"] == 0
    assert all(key.endswith(":delivered") for key, _ in got)
    assert len({key for key, _ in got}) == 3
    assert {text["text"] for _, text in got} >= {
        "*escalate* on deal `A-100`: SLA 'meeting-stall' breached at 2026-11-17 12:00: "
        "'escalate' to the manager"}


def test_a_sink_plugin_that_is_missing_or_refuses_its_argument_is_one_line(
        tmp_path: Path) -> None:
    from click.testing import CliRunner

    from pipeline_rules.cli import main

    store = str(tmp_path / "live.db")
    base = ["tick", "--store", store, "--now", "2026-11-21T09:05:00+03:00", "--sink"]
    CliRunner().invoke(main, ["ingest", str(ROOT / "rulesets" / "b2b_sales.yaml"),
                              str(ROOT / "examples" / "deals.jsonl"), "--store", store])
    missing = CliRunner().invoke(main, [*base, "plugin:nope"])
    assert missing.exit_code == 2 and "Traceback" not in missing.output
    assert "sink plugin 'nope' is not installed (installed: slack)" in missing.stderr
    unnamed = CliRunner().invoke(main, [*base, "plugin:"])
    assert unnamed.exit_code == 2 and "--sink plugin: needs the plugin's name, as in " \
        "plugin:NAME (installed: slack)" in unnamed.stderr
    refused = CliRunner().invoke(main, [*base, "plugin:slack:ftp://example.org"])
    assert refused.exit_code == 2 and "Traceback" not in refused.output
    assert "sink plugin 'slack' refused its argument: ValueError: give the incoming " \
        "webhook's URL" in refused.stderr
