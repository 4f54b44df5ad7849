"""The runtime's routes (``serve --store``) bounded like the rest of the server, against a real
process: deals per request and history per deal (413, or the one line rejected), pages with
cursors, query parameters checked (400 naming the parameter), and the work on the compute pool
(503 when it is full, 504 past the time budget, the server answering on)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from test_server import Server, eventually, start_server, stop_server
from test_server_hardening import connect, heavy_deal, request_head
from test_server_live import invoice_deal


def line(deal: dict[str, Any]) -> bytes:
    return orjson.dumps({"ruleset": "b2b-sales", **deal})


def invoice(ident: str) -> dict[str, Any]:
    return {**invoice_deal(), "id": ident}


@pytest.fixture(scope="module")
def tight(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A live server with small limits on deals and history."""
    base = tmp_path_factory.mktemp("live-tight")
    running = start_server(base, "--store", str(base / "s.db"), "--max-deals", "3",
                           "--max-history", "50", "--max-tasks", "2", "--tick", "0.2")
    yield running
    stop_server(running)


def test_more_lines_than_the_deal_limit_is_413_and_stores_nothing(tight: Server) -> None:
    body = b"\n".join(line(invoice(f"M-{i}")) for i in range(4))
    with tight.client() as client:
        answer = client.post("/v1/deals", content=body)
        assert answer.status_code == 413
        assert (answer.json()["error"], answer.json()["limit"], answer.json()["line"]) == (
            "too-many-deals", 3, 4)
        assert client.get("/v1/deals/b2b-sales/M-0").status_code == 404
        # Blank lines are not deals: three deals among them are within the limit.
        within = client.post("/v1/deals", content=b"\n\n".join(
            line(invoice(f"M-{i}")) for i in range(3)))
        assert within.status_code == 200 and within.json()["stored"] == 3


def test_a_line_over_the_history_limit_is_rejected_and_the_others_stored(
        tight: Server) -> None:
    body = b"\n".join([b"\xef\xbb\xbf" + line(invoice("L-1")),
                       line(heavy_deal("L-2", 51)),
                       b"{not json"])
    with tight.client() as client:
        answer = client.post("/v1/deals", content=body)
        assert answer.status_code == 200, answer.text
        result = answer.json()
        assert (result["stored"], result["rejected"]) == (1, 2)
        first, second = result["rejections"]
        assert (first["record"], first["deal"], first["path"], first["error"],
                first["limit"]) == ("line 2", "L-2", "/history", "history-too-long", 50)
        assert "51" in first["message"]
        assert second["record"] == "line 3" and "malformed JSON" in second["message"]
        assert client.get("/v1/deals/b2b-sales/L-1").status_code == 200  # after the BOM
        assert client.get("/v1/deals/b2b-sales/L-2").status_code == 404
        put = client.put("/v1/deals/b2b-sales/L-3", json={**heavy_deal("L-3", 51)})
        assert put.status_code == 413
        assert (put.json()["error"], put.json()["path"]) == ("history-too-long", "/history")
        within = client.put("/v1/deals/b2b-sales/L-4", json=heavy_deal("L-4", 50))
        assert within.status_code == 200, within.text


def test_every_list_limit_applies_to_the_runtime_routes(tight: Server) -> None:
    task = {"id": "t", "due": "2026-11-23T12:00:00+03:00", "done": False}
    busy = {**invoice("K-1"), "tasks": [task, {**task, "id": "u"}, {**task, "id": "v"}]}
    with tight.client() as client:
        posted = client.post("/v1/deals", content=line(busy) + b"\n" + line(invoice("K-2")))
        assert posted.status_code == 200, posted.text
        assert (posted.json()["stored"], posted.json()["rejected"]) == (1, 1)
        (rejection,) = posted.json()["rejections"]
        assert (rejection["record"], rejection["error"], rejection["path"],
                rejection["limit"]) == ("line 1", "too-many-tasks", "/tasks", 2)
        put = client.put("/v1/deals/b2b-sales/K-1", json=busy)
        assert put.status_code == 413
        assert (put.json()["error"], put.json()["path"]) == ("too-many-tasks", "/tasks")
        assert client.get("/v1/deals/b2b-sales/K-1").status_code == 404


def test_query_parameters_are_checked_and_named(tight: Server) -> None:
    cases = [("/v1/alerts", {"limit": "0"}, "limit"),
             ("/v1/alerts", {"limit": "1001"}, "limit"),
             ("/v1/alerts", {"limit": "ten"}, "limit"),
             ("/v1/alerts", {"limit": "9" * 5000}, "limit"),
             ("/v1/alerts", {"status": "sent"}, "status"),
             ("/v1/alerts", {"after": "k" * 513}, "after"),
             ("/v1/alerts", {"stauts": "dead"}, "stauts"),
             ("/v1/alerts", [("limit", "1"), ("limit", "2")], "limit"),
             ("/v1/deals/b2b-sales/M-0", {"after": "-1"}, "after"),
             ("/v1/deals/b2b-sales/M-0", {"limit": "1.5"}, "limit"),
             ("/v1/deals/b2b-sales/M-0", {"page": "2"}, "page")]
    with tight.client() as client:
        for path, params, name in cases:
            answer = client.get(path, params=params)
            assert answer.status_code == 400, (path, params, answer.text)
            assert answer.json()["error"] == "invalid-parameter"
            assert answer.json()["parameter"] == name, (path, params)
            assert answer.json()["message"].startswith(f"{name}: ")
        posted = client.post("/v1/deals", params={"dry": "1"}, content=line(invoice("Q-1")))
        assert posted.status_code == 400 and posted.json()["parameter"] == "dry"
        assert client.get("/v1/deals/b2b-sales/Q-1").status_code == 404


def test_alerts_and_a_timeline_come_a_page_at_a_time(tight: Server) -> None:
    with tight.client() as client:
        # Breached long before today's clock: each deal has its breach and its escalation.
        body = b"\n".join(line(invoice(f"P-{i}")) for i in range(3))
        assert client.post("/v1/deals", content=body).json()["stored"] == 3
        everything = client.get("/v1/alerts", params={"limit": "1000"}).json()
        assert everything["next"] is None
        keys = [a["key"] for a in everything["alerts"]]
        assert len(keys) >= 6
        paged: list[str] = []
        cursor: str | None = ""
        pages = 0
        while cursor is not None:
            page = client.get("/v1/alerts", params={"limit": "2", "after": cursor}).json()
            assert len(page["alerts"]) <= 2
            paged += [a["key"] for a in page["alerts"]]
            cursor = page["next"]
            pages += 1
        assert paged == keys and pages == (len(keys) + 1) // 2

        whole = client.get("/v1/deals/b2b-sales/P-0").json()
        assert whole["next"] is None
        stages = [e for e in whole["timeline"] if e["event"] == "stage"]
        moves = [e for e in whole["timeline"] if e["event"] != "stage"]
        assert len(stages) == 5 and len(moves) >= 2
        first = client.get("/v1/deals/b2b-sales/P-0", params={"limit": "1"}).json()
        assert first["timeline"][:5] == stages and first["timeline"][5:] == moves[:1]
        assert first["next"] == moves[0]["seq"]
        rest = client.get("/v1/deals/b2b-sales/P-0",
                          params={"after": str(first["next"]), "limit": "1000"}).json()
        assert rest["timeline"] == moves[1:] and rest["next"] is None
        assert rest["findings"] == whole["findings"]


def heavy_lines(deals: int, entries: int) -> bytes:
    return b"\n".join(orjson.dumps({"ruleset": "b2b-sales", **heavy_deal(f"H-{i}", entries)})
                      for i in range(deals))


def test_an_ingest_over_the_time_budget_is_504_and_the_server_goes_on(tmp_path: Path) -> None:
    # Work for several times the budget (400 deals of 1,000 moves: about 3 s of judging here),
    # so that it is certainly still going at a check between two batches after the budget
    # ran out (with 100 such deals it could end before any check came too late).
    server = start_server(tmp_path, "--store", str(tmp_path / "s.db"), "--time-budget", "1",
                          "--tick", "0.2", "--max-body", "40MB", "--max-deals", "1000")
    try:
        body = heavy_lines(400, 1000)
        assert len(body) < 40 * 1024 * 1024
        with server.client() as client:
            client.timeout = httpx.Timeout(120)
            # A first judgement loads what the rulesets need (calendars): not in the budget.
            warm = client.put("/v1/deals/b2b-sales/W-1", json=invoice_deal())
            assert warm.status_code == 200, warm.text
            slow = client.post("/v1/deals", content=body)
            assert slow.status_code == 504, slow.text
            assert slow.json()["error"] == "over-time-budget" and slow.json()["limit"] == 1
            assert eventually(lambda: any(entry.get("event") == "work-stopped"
                                          for entry in server.log_lines()), timeout=60)
            assert client.get("/healthz").status_code == 200
            quick = client.put("/v1/deals/b2b-sales/Q-1", json=invoice_deal())
            assert quick.status_code == 200, quick.text
    finally:
        stop_server(server)


def test_a_full_pool_answers_503_to_the_runtime_routes(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--store", str(tmp_path / "s.db"), "--compute-threads",
                          "1", "--compute-queue", "1", "--tick", "0.2")
    try:
        body = heavy_lines(100, 1000)
        finished = threading.Event()
        outcome: list[httpx.Response] = []

        def heavy() -> None:
            with server.client() as client:
                client.timeout = httpx.Timeout(120)
                outcome.append(client.post("/v1/deals", content=body))
            finished.set()

        thread = threading.Thread(target=heavy)
        thread.start()
        # Asked until the heavy request holds the only place (before it, they are answered).
        refused: dict[str, httpx.Response] = {}
        with server.client() as client:
            while not finished.is_set() and len(refused) < 2:
                for path in ("/v1/alerts", "/v1/deals/b2b-sales/X"):
                    answer = client.get(path)
                    if answer.status_code == 503:
                        refused[path] = answer
                health = client.get("/healthz")
                assert health.status_code == 200
        thread.join(timeout=120)
        assert refused, "no request was refused while the only place was taken"
        for answer in refused.values():
            assert answer.json()["error"] == "busy" and answer.json()["limit"] == 1
        assert outcome and outcome[0].status_code == 200, outcome
        assert outcome[0].json()["stored"] == 100
    finally:
        stop_server(server)


def test_an_ingest_is_dropped_between_batches_when_the_client_leaves(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--store", str(tmp_path / "s.db"), "--tick", "60")
    try:
        body = heavy_lines(150, 1000)
        with connect(server) as conn:
            conn.sendall(request_head("POST", "/v1/deals", length=len(body)) + body)
            # Not asked through /metrics, which waits for the batch being written.
            time.sleep(1)
        # Closed mid-ingest: it stops between two batches of 50; those stored stay stored.
        stopped = eventually(lambda: [entry for entry in server.log_lines()
                                      if entry.get("event") == "work-stopped"], timeout=60)
        assert stopped and stopped[0]["steps_done"] < 3
        request = eventually(lambda: [entry for entry in server.log_lines()
                                      if entry.get("path") == "/v1/deals"])
        assert request and request[0]["status"] == 499
        with server.client() as client:
            stored = sum(client.get(f"/v1/deals/b2b-sales/H-{i}").status_code == 200
                         for i in range(150))
        assert stored == 50 * stopped[0]["steps_done"] and stored < 150
    finally:
        stop_server(server)
