"""The runtime over HTTP (``serve --store``): deals put and posted, read back with their
alerts and timeline, alerts listed by status, and the scheduler delivering what falls due."""

from __future__ import annotations

import shutil
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from helpers import ROOT
from test_server import start_server, stop_server

from pipeline_rules.evaluate.judge import Judge
from pipeline_rules.ruleset.catalog import load_catalog
from pipeline_rules.runtime.service import Runtime
from pipeline_rules.runtime.sinks import JsonlSink
from pipeline_rules.runtime.sqlite import SqliteStore
from pipeline_rules.runtime.store import to_us
from pipeline_rules.server.app import create_app
from pipeline_rules.server.live import Live
from pipeline_rules.server.settings import Settings

B2B = ROOT / "rulesets" / "b2b_sales.yaml"


class Clock:
    def __init__(self, moment: str) -> None:
        self.now = datetime.fromisoformat(moment)

    def __call__(self) -> datetime:
        return self.now


def invoice_deal(**extra: Any) -> dict[str, Any]:
    """In the invoice stage since Monday 9 Nov 10:00: 10 business days end on 23 Nov 10:00
    (Moscow); an open task keeps the task checks quiet until then."""
    return {"stage": "invoice", "source": "web_form", "owner": "olga", "manager": "anna",
            "fields": {"amount": 5},
            "history": [{"stage": "request", "at": "2026-11-02T10:00:00+03:00"},
                        {"stage": "qualification", "at": "2026-11-03T10:00:00+03:00"},
                        {"stage": "meeting", "at": "2026-11-04T10:00:00+03:00"},
                        {"stage": "proposal", "at": "2026-11-05T10:00:00+03:00"},
                        {"stage": "invoice", "at": "2026-11-09T10:00:00+03:00"}],
            "tasks": [{"id": "t", "due": "2026-11-23T12:00:00+03:00", "done": False}],
            **extra}


@pytest.fixture
def live(tmp_path: Path) -> tuple[TestClient, Live, Clock, Path]:
    directory = tmp_path / "rulesets"
    directory.mkdir()
    shutil.copy(B2B, directory / "b2b_sales.yaml")
    clock = Clock("2026-11-20T12:00:00+03:00")
    runtime = Runtime(Judge.of(load_catalog(directory)), SqliteStore(str(tmp_path / "s.db")))
    sink = tmp_path / "out.jsonl"
    app_live = Live(runtime, JsonlSink(str(sink)), clock=clock)
    app = create_app(Settings(str(directory)), live=app_live)
    return TestClient(app), app_live, clock, sink


def test_put_get_and_the_scheduler_delivering_at_the_breach(
        live: tuple[TestClient, Live, Clock, Path]) -> None:
    client, app_live, clock, sink = live
    put = client.put("/v1/deals/b2b-sales/D-1", json=invoice_deal())
    assert put.status_code == 200, put.text
    body = put.json()
    assert body["wake"] == "2026-11-23T07:00:00+00:00"  # the breach, 10:00 Moscow
    assert body["alerts"] == []
    clock.now = datetime.fromisoformat("2026-11-23T10:00:00+03:00")
    app_live.step()
    sent = [orjson.loads(line) for line in sink.read_text().splitlines()]
    assert [(s["event"], s["alert"]["code"], s["deal"]) for s in sent] == [
        ("delivered", "escalate", "D-1")]
    got = client.get("/v1/deals/b2b-sales/D-1").json()
    assert {(a["code"], a["status"]) for a in got["alerts"]} == {
        ("sla-breach", "open"), ("escalate", "delivered")}
    events = [(e["event"], e.get("stage")) for e in got["timeline"]]
    assert events[:5] == [("stage", "request"), ("stage", "qualification"),
                          ("stage", "meeting"), ("stage", "proposal"), ("stage", "invoice")]
    assert {"open", "due", "delivered"} <= {e for e, _ in events[5:]}
    listed = client.get("/v1/alerts", params={"status": "delivered"}).json()["alerts"]
    assert [a["code"] for a in listed] == ["escalate"]
    scraped = client.get("/metrics").text
    assert "pipeline_rules_runtime_deals 1.0" in scraped
    assert 'pipeline_rules_runtime_alerts{status="delivered"} 1.0' in scraped
    assert 'pipeline_rules_runtime_deliveries{status="done"} 1.0' in scraped
    # Paid: the breach and its escalation are gone; the delivered escalation is retracted.
    paid = invoice_deal(stage="paid", fields={"amount": 5, "payment_date": "2026-11-23"})
    paid["history"].append({"stage": "paid", "at": "2026-11-23T11:00:00+03:00"})
    clock.now += timedelta(hours=1)
    assert client.put("/v1/deals/b2b-sales/D-1", json=paid).status_code == 200
    app_live.step()
    sent = [orjson.loads(line) for line in sink.read_text().splitlines()]
    assert [s["event"] for s in sent] == ["delivered", "retracted"]
    assert sent[0]["key"] == sent[1]["key"]
    assert client.get("/v1/alerts", params={"status": "retracted"}).json()["alerts"][0][
        "key"] == sent[0]["key"]


def test_metrics_tell_how_long_deliveries_waited_after_falling_due(
        live: tuple[TestClient, Live, Clock, Path]) -> None:
    client, app_live, clock, sink = live
    assert client.put("/v1/deals/b2b-sales/D-1", json=invoice_deal()).status_code == 200
    # The breach falls due at 10:00; the store is ticked then, and the sink gets the
    # escalation 40 seconds later, on the scheduler's clock.
    app_live.runtime.tick(datetime.fromisoformat("2026-11-23T10:00:00+03:00"))
    clock.now = datetime.fromisoformat("2026-11-23T10:00:40+03:00")
    app_live.step()
    assert len(sink.read_text().splitlines()) == 1
    scraped = client.get("/metrics").text
    name = "pipeline_rules_runtime_delivery_delay_seconds"
    assert f'{name}_count{{event="delivered"}} 1.0' in scraped
    assert f'{name}_sum{{event="delivered"}} 40.0' in scraped
    assert f'{name}_bucket{{event="delivered",le="30.0"}} 0.0' in scraped
    assert f'{name}_bucket{{event="delivered",le="60.0"}} 1.0' in scraped


def test_a_round_catching_up_delivers_as_it_goes(
        live: tuple[TestClient, Live, Clock, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    client, app_live, clock, _ = live
    import pipeline_rules.server.live as live_module

    monkeypatch.setattr(live_module, "TICK_BATCH", 5)
    monkeypatch.setattr(live_module, "ROUND_BATCHES", 2)
    body = b"\n".join(orjson.dumps({**invoice_deal(), "id": f"C-{n}", "ruleset": "b2b-sales"})
                      for n in range(23))
    assert client.post("/v1/deals", content=body).json()["stored"] == 23
    store = app_live.runtime.store
    waiting: list[int] = []

    class Counting:
        """A sink that notes how many deals still wait to be judged at each delivery."""

        def send(self, payload: str) -> None:
            waiting.append(len(store.waking(to_us(clock.now), 1000)))

    app_live.sink = Counting()
    clock.now = datetime.fromisoformat("2026-11-23T10:00:00+03:00")  # every breach has come
    app_live.step()
    # 23 escalations, delivered after each 10 deals judged: 13 deals were still waiting for the
    # first 10, 3 for the next 10, none for the last 3.
    assert waiting == [13] * 10 + [3] * 10 + [0] * 3
    assert store.waking(to_us(clock.now), 1000) == []


def test_deals_posted_again_unchanged_are_counted_and_left_as_they_are(
        live: tuple[TestClient, Live, Clock, Path]) -> None:
    client, _, clock, _ = live
    body = b"\n".join(orjson.dumps({**invoice_deal(), "id": f"U-{n}", "ruleset": "b2b-sales"})
                      for n in range(3))
    assert client.post("/v1/deals", content=body).json()["stored"] == 3
    before = client.get("/v1/deals/b2b-sales/U-1").json()
    clock.now += timedelta(minutes=10)  # before the breach that wakes them
    again = client.post("/v1/deals", content=body).json()
    assert (again["stored"], again["unchanged"], again["rejected"]) == (0, 3, 0)
    assert client.get("/v1/deals/b2b-sales/U-1").json()["evaluated"] == before["evaluated"]


def test_bad_deals_are_refused_with_a_pointer_and_kept_as_rejected(
        live: tuple[TestClient, Live, Clock, Path]) -> None:
    client, app_live, _, _ = live
    bad = client.put("/v1/deals/b2b-sales/D-2", json={**invoice_deal(), "stage": "limbo"})
    assert bad.status_code == 422
    assert bad.json()["path"] == "/stage" and "limbo" in bad.json()["message"]
    other = client.put("/v1/deals/b2b-sales/D-2", json={**invoice_deal(), "id": "D-3"})
    assert other.status_code == 422 and other.json()["path"] == "/id"
    elsewhere = client.put("/v1/deals/b2b-sales/D-2", json={**invoice_deal(), "ruleset": "x"})
    assert elsewhere.status_code == 422 and elsewhere.json()["path"] == "/ruleset"
    assert client.put("/v1/deals/b2b-sales/D-2", content=b"{nope").status_code == 400
    assert client.get("/v1/deals/b2b-sales/D-2").status_code == 404
    lines = b"\n".join([orjson.dumps({**invoice_deal(), "id": "P-1", "ruleset": "b2b-sales"}),
                        b"{broken",
                        orjson.dumps({**invoice_deal(), "id": "P-2", "ruleset": "nope"})])
    posted = client.post("/v1/deals", content=lines)
    assert posted.status_code == 200
    body = posted.json()
    assert (body["stored"], body["rejected"]) == (1, 2)
    assert [r["record"] for r in body["rejections"]] == ["line 2", "line 3"]
    assert client.get("/v1/deals/b2b-sales/P-1").status_code == 200
    assert [r.origin for r in app_live.runtime.store.rejected()] == [
        "PUT /v1/deals/b2b-sales/D-2", "line 2", "line 3"]
    nonsense = client.get("/v1/alerts", params={"status": "nonsense"})
    assert nonsense.status_code == 400 and nonsense.json()["parameter"] == "status"
    # The refused records are visible in the API too, with their reason, a page at a time.
    first = client.get("/v1/rejected", params={"limit": 2}).json()
    assert [r["origin"] for r in first["rejected"]] == ["PUT /v1/deals/b2b-sales/D-2",
                                                          "line 2"]
    assert first["rejected"][0]["path"] == "/stage" and "limbo" in first["rejected"][0][
        "reason"]
    rest = client.get("/v1/rejected", params={"after": first["next"]}).json()
    assert [r["origin"] for r in rest["rejected"]] == ["line 3"] and rest["next"] is None
    assert orjson.loads(rest["rejected"][0]["record"])["id"] == "P-2"
    assert client.get("/v1/rejected", params={"after": "x"}).json()["parameter"] == "after"


def test_serve_with_a_store_delivers_to_its_sink(tmp_path: Path) -> None:
    """The real command: one process serves the API, ticks the store and delivers."""
    store, sink = tmp_path / "s.db", tmp_path / "out.jsonl"
    server = start_server(tmp_path, "--store", str(store), "--sink", str(sink),
                          "--tick", "0.2")
    try:
        with server.client() as api:
            # Breached long ago: its escalation is due at once and goes out on the next round.
            response = api.put("/v1/deals/b2b-sales/S-1", json=invoice_deal())
            assert response.status_code == 200, response.text
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not (sink.exists() and sink.read_text()):
                time.sleep(0.05)
            sent = [orjson.loads(line) for line in sink.read_text().splitlines()]
            assert [(s["event"], s["alert"]["code"]) for s in sent] == [
                ("delivered", "escalate")]
            # Marked delivered once the sink has it: just after the line is written.
            while time.monotonic() < deadline:
                listed = api.get("/v1/alerts", params={"status": "delivered"}).json()["alerts"]
                if listed:
                    break
                time.sleep(0.05)
            assert [a["deal"] for a in listed] == ["S-1"]
    finally:
        stop_server(server)


def test_the_readme_one_command_serves_the_example_and_delivers_an_alert(
        tmp_path: Path) -> None:
    """The command 'Run it live' in the README starts with, run as written (a free port added):
    the example deals stored, served, and an escalation delivered to the JSON Lines sink."""
    import os
    import signal
    import socket
    import subprocess
    import sys

    from helpers import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Run it live"):]
    command = next(line for line in section.splitlines()
                   if line.startswith("pipeline-rules ingest") and "serve" in line)
    for name in ("rulesets", "examples"):
        (tmp_path / name).symlink_to(ROOT / name)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    process = subprocess.Popen(["sh", "-c", f"{command} --port {port}"], cwd=tmp_path,
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               start_new_session=True)
    sink = tmp_path / "alerts.jsonl"
    try:
        deadline = time.monotonic() + 60
        while not (sink.exists() and sink.read_bytes().endswith(b"\n")):
            assert process.poll() is None, process.stderr.read() if process.stderr else b""
            assert time.monotonic() < deadline, "nothing delivered within a minute"
            time.sleep(0.1)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # the shell and the server it started
        process.wait(timeout=30)
    first = orjson.loads(sink.read_bytes().splitlines()[0])
    assert (first["event"], first["ruleset"], first["alert"]["code"]) == (
        "delivered", "b2b-sales", "escalate")
