"""The HTTP service attacked as a hostile client would: every attack against a real
`pipeline-rules serve` process on a loopback port, each bounded in time and connections.

What is pinned: a head too big, with too many fields or too slow is answered 431/408 and the
connection closed; a connection that sends nothing is closed; a connection past the cap is
answered 503; limits on deals and history are 413s naming what is over; the work runs off the
event loop (health checks and stage checks answer while the heaviest evaluate allowed runs),
within a time budget (504) and a bounded queue (503), and is dropped when the client leaves;
links out of the ruleset directory are refused unread; a non-loopback address needs a token;
SIGTERM drains and stops within its bound.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from helpers import ROOT
from test_server import (
    A100,
    B2B,
    NOW,
    TOKEN,
    Server,
    eventually,
    free_port,
    start_server,
    stop_server,
)

from pipeline_rules.cli import main
from pipeline_rules.ruleset.catalog import load_directory
from pipeline_rules.server.runner import EXIT_CUT_SHORT, EXIT_NOT_STARTED
from pipeline_rules.server.settings import SettingsError, check_bind, is_loopback

SECRET = "hunter2-not-a-ruleset"
OUTSIDE = "s3cr3t-outside-the-directory"


# -- helpers ------------------------------------------------------------------------------------

def heavy_deal(ident: str, entries: int) -> dict[str, Any]:
    """A deal of the b2b ruleset with ``entries`` history entries going round its stages."""
    start = datetime(2020, 1, 1, 6, tzinfo=UTC)
    cycle = ["find_dm", "qualification", "meeting", "proposal", "qualification", "meeting"]
    history = [{"stage": cycle[i % len(cycle)],
                "at": (start + timedelta(minutes=37 * i)).isoformat()} for i in range(entries)]
    return {"id": ident, "stage": history[-1]["stage"], "source": "cold", "owner": "o",
            "manager": "m", "fields": {"amount": 1}, "history": history}


def heavy_body(deals: int, entries: int) -> bytes:
    return json.dumps({"ruleset": "b2b-sales", "now": NOW,
                       "deals": [heavy_deal(f"H-{i}", entries) for i in range(deals)]}).encode()


def connect(server: Server, timeout: float = 10) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=timeout)


def read_all(conn: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or the socket times out)."""
    received = b""
    try:
        while data := conn.recv(65536):
            received += data
    except (TimeoutError, ConnectionResetError):
        pass
    return received


def status_and_body(answer: bytes) -> tuple[int, dict[str, Any]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(body)


def request_head(method: str, path: str, length: int | None = None) -> bytes:
    extra = f"Content-Type: application/json\r\nContent-Length: {length}\r\n" if length else ""
    return (f"{method} {path} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"{extra}\r\n").encode()


def computing(server: Server) -> None:
    """Wait until a request is computing on a thread (its body read, its work started)."""
    def running() -> bool:
        text = httpx.get(f"{server.url}/metrics", timeout=10).text
        line = next(x for x in text.splitlines()
                    if x.startswith("pipeline_rules_compute_running "))
        return float(line.split()[1]) >= 1

    assert eventually(running, timeout=60), "the work never started"


@pytest.fixture(scope="module")
def tight(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with small limits, so each attack trips one quickly."""
    running = start_server(
        tmp_path_factory.mktemp("tight"), "--idle-timeout", "0.5", "--header-timeout", "1",
        "--body-timeout", "1", "--max-headers", "20", "--max-header-size", "4KB",
        "--max-deals", "3", "--max-history", "50", "--max-connections", "8",
        "--max-tasks", "4", "--max-events", "4", "--max-pauses", "2")
    yield running
    stop_server(running)


# -- serve refuses a public address without a token ---------------------------------------------

def test_loopback_addresses() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.3.2.1", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "192.0.2.7", "example.com", ""))


def test_a_public_address_needs_a_token_or_an_authenticating_proxy() -> None:
    with pytest.raises(SettingsError, match=r"--token-file.*--behind-auth-proxy"):
        check_bind("0.0.0.0", None, False)
    check_bind("0.0.0.0", "token.txt", False)
    check_bind("0.0.0.0", None, True)
    check_bind("127.0.0.1", None, False)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.7"])
def test_serve_on_a_public_address_without_token_exits_before_listening(
        tmp_path: Path, host: str) -> None:
    port = free_port()
    done = subprocess.run(
        [sys.executable, "-m", "pipeline_rules", "serve", str(tmp_path), "--host", host,
         "--port", str(port)], check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "without a token" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # nothing listens


def test_the_proxy_flag_lets_serve_past_the_check(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[Any] = []
    monkeypatch.setattr("pipeline_rules.server.serve", started.append)
    result = CliRunner().invoke(main, ["serve", str(tmp_path), "--host", "0.0.0.0",
                                       "--behind-auth-proxy"])
    assert result.exit_code == 0, result.output
    assert started[0].host == "0.0.0.0" and started[0].behind_auth_proxy
    assert started[0].token_file is None


# -- the ruleset directory is a boundary ----------------------------------------------------------

def links_out(base: Path, directory: Path) -> None:
    """A secret outside the directory, linked in as a file and through a linked folder, a link
    to a system file, a non-ruleset file inside, and a link that stays inside."""
    outside = base / "outside"
    outside.mkdir()
    (outside / "secret.yaml").write_text(
        f"version: 1\nid: leak\nDB_PASSWORD: {OUTSIDE}\ntimezone: {OUTSIDE}\n",
        encoding="utf-8")
    (directory / "leak.yaml").symlink_to(outside / "secret.yaml")
    (directory / "passwd.yaml").symlink_to("/etc/passwd")
    (directory / "sub").symlink_to(outside)
    (directory / "config.yaml").write_text(f"DB_PASSWORD: {SECRET}\n", encoding="utf-8")
    (directory / "same.yml").symlink_to("retail.yaml")


def test_links_out_of_the_directory_are_refused_by_the_catalog(tmp_path: Path) -> None:
    directory = tmp_path / "rulesets"
    directory.mkdir()
    for name in ("b2b_sales.yaml", "retail.yaml"):
        (directory / name).write_bytes((Path(__file__).parents[1] / "rulesets" / name)
                                       .read_bytes())
    links_out(tmp_path, directory)
    catalog = load_directory(directory)
    refused = {Path(p.file).name: p.reason for p in catalog.problems
               if "outside the ruleset directory" in p.reason}
    assert set(refused) == {"leak.yaml", "passwd.yaml", "sub"}
    assert all("[document-limit]" in reason for reason in refused.values())
    assert not any(OUTSIDE in t.data.decode() for t in catalog.texts)
    assert {Path(t.name).name for t in catalog.texts} == {
        "b2b_sales.yaml", "config.yaml", "retail.yaml", "same.yml"}


def test_evaluate_on_a_directory_names_a_link_out_and_judges_the_rest(tmp_path: Path) -> None:
    directory = tmp_path / "rulesets"
    directory.mkdir()
    (directory / "b2b_sales.yaml").write_bytes(
        (Path(__file__).parents[1] / "rulesets" / "b2b_sales.yaml").read_bytes())
    links_out(tmp_path, directory)
    deals = tmp_path / "deals.jsonl"
    deals.write_text(json.dumps({"id": "X-1", "ruleset": "leak", "stage": "meeting"}) + "\n"
                     + json.dumps({**A100, "ruleset": "b2b-sales"}) + "\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["evaluate", str(directory), str(deals), "--now", NOW,
                                       "--format", "jsonl"])
    findings = [json.loads(line) for line in result.stdout.splitlines()]
    refused = [f for f in findings if f["deal"] == "X-1"]
    assert [f["code"] for f in refused] == ["bad-record"]
    assert "outside the ruleset directory" in refused[0]["message"]
    assert any(f["deal"] == "A-100" and f["code"] == "sla-breach" for f in findings)
    assert "leak.yaml is not used" in result.stderr and OUTSIDE not in result.output


def test_links_out_are_refused_by_the_server_and_nothing_of_them_is_shown(
        tmp_path: Path) -> None:
    base = tmp_path / "base"
    base.mkdir()
    server = start_server(base)
    try:
        links_out(base, server.directory)
        with server.client() as client:
            listing = eventually(lambda: (r := client.get("/v1/rulesets").json()["rulesets"])
                                 and len(r) == 7 and r)
            text = client.get("/v1/rulesets").text
        by_file = {entry["file"]: entry for entry in listing}
        for name in ("leak.yaml", "passwd.yaml", "sub"):
            assert by_file[name]["status"] == "refused" and not by_file[name]["serving"]
            assert "outside the ruleset directory" in by_file[name]["diagnostics"][0]["message"]
        assert by_file["same.yml"]["status"] == "error"  # the same id as retail.yaml: shadowed
        config = by_file["config.yaml"]
        assert config["status"] == "error" and config["diagnostics"]
        assert all("not shown remotely" in d["message"] and d["path"] == ""
                   for d in config["diagnostics"])
        for secret in (SECRET, OUTSIDE, "DB_PASSWORD", "root:x:0"):
            assert secret not in text
        refusals = [line for line in server.log_lines() if line.get("event") == "ruleset-refused"]
        assert {line["file"] for line in refusals} == {"leak.yaml", "passwd.yaml", "sub"}
        assert OUTSIDE not in server.log.read_text("utf-8")
    finally:
        stop_server(server)


def test_a_served_file_swapped_for_a_link_out_stops_serving(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    try:
        outside = tmp_path / "elsewhere.yaml"
        outside.write_bytes((server.directory / "retail.yaml").read_bytes())
        swap = server.directory / ".swap"
        swap.symlink_to(outside)
        swap.replace(server.directory / "retail.yaml")
        with server.client() as client:
            entry = eventually(lambda: next(
                (e for e in client.get("/v1/rulesets").json()["rulesets"]
                 if e["file"] == "retail.yaml" and e["status"] == "refused"), None))
            assert entry is not None and entry["id"] is None
            answer = client.post("/v1/check-transition", json={
                "ruleset": "retail-orders", "deal": A100, "to": "invoice"})
        assert answer.status_code == 404
    finally:
        stop_server(server)


# -- request heads: size, count, time; idle and surplus connections -------------------------------

def test_a_huge_header_is_refused_before_it_is_all_read(tight: Server) -> None:
    with connect(tight) as conn:
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Flood: ")
        sent = 0
        try:
            for _ in range(256):  # up to 16 MB, in 64 KB pieces: stopped long before that
                conn.sendall(b"a" * 65536)
                sent += 65536
        except OSError:
            pass
        answer = read_all(conn)
    status, body = status_and_body(answer)
    assert (status, body["error"], body["limit"]) == (431, "headers-too-large", 4096)
    assert sent < 16 * 1024 * 1024
    assert httpx.get(f"{tight.url}/healthz", timeout=10).status_code == 200


def test_a_head_that_arrives_whole_but_too_big_is_431(tight: Server) -> None:
    response = httpx.get(f"{tight.url}/healthz", headers={"X-Big": "b" * 6000}, timeout=10)
    assert response.status_code == 431 and response.json()["error"] == "headers-too-large"


def test_too_many_header_fields_is_431(tight: Server) -> None:
    headers = {f"X-Field-{i}": "1" for i in range(30)}
    response = httpx.get(f"{tight.url}/healthz", headers=headers, timeout=10)
    assert response.status_code == 431
    assert response.json()["error"] == "too-many-headers" and response.json()["limit"] == 20


def test_a_connection_that_sends_nothing_is_closed(tight: Server) -> None:
    with connect(tight, timeout=30) as conn:
        assert read_all(conn) == b""  # closed by the server, not by the 30 s socket timeout


def test_a_head_sent_slowly_is_408(tight: Server) -> None:
    with connect(tight, timeout=30) as conn:
        conn.sendall(b"GET /healthz HTTP/1.1\r\n")
        try:
            for _ in range(60):  # a byte every 0.2 s: each is in time for the idle timeout
                time.sleep(0.2)
                conn.sendall(b"X")
        except OSError:
            pass
        answer = read_all(conn)
    status, body = status_and_body(answer)
    assert (status, body["error"]) == (408, "request-timeout")


def test_a_body_sent_slowly_is_408(tight: Server) -> None:
    with connect(tight, timeout=30) as conn:
        conn.sendall(request_head("POST", "/v1/evaluate", length=1000) + b'{"ruleset": ')
        answer = read_all(conn)
    status, body = status_and_body(answer)
    assert (status, body["error"]) == (408, "request-timeout")
    assert "body" in body["message"]


def test_connections_past_the_cap_get_503_and_others_keep_working(tight: Server) -> None:
    idle = [connect(tight) for _ in range(8)]
    try:
        for conn in idle:
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")  # a head, never finished
        response = httpx.get(f"{tight.url}/healthz", timeout=10)
        assert response.status_code == 503
        assert response.json()["error"] == "too-many-connections"
        assert response.headers["Retry-After"] == "1"
    finally:
        for conn in idle:
            conn.close()
    assert eventually(lambda: httpx.get(f"{tight.url}/healthz", timeout=10).status_code == 200)
    assert any(line.get("event") == "connection-refused" and line["status"] == 503
               for line in tight.log_lines())


# -- limits on the work --------------------------------------------------------------------------

def test_too_many_deals_is_413(tight: Server) -> None:
    with tight.client() as client:
        response = client.post("/v1/evaluate", json={
            "ruleset": "b2b-sales", "now": NOW, "deals": [A100] * 4})
    assert response.status_code == 413
    assert (response.json()["error"], response.json()["limit"]) == ("too-many-deals", 3)


def test_a_deal_with_too_much_history_is_413_naming_it(tight: Server) -> None:
    with tight.client() as client:
        batch = client.post("/v1/evaluate", json={
            "ruleset": "b2b-sales", "now": NOW, "deals": [A100, heavy_deal("H", 51)]})
        check = client.post("/v1/check-transition", json={
            "ruleset": "b2b-sales", "deal": heavy_deal("H", 51), "to": "invoice"})
        within = client.post("/v1/evaluate", json={
            "ruleset": "b2b-sales", "now": NOW, "deal": heavy_deal("H", 50)})
    assert batch.status_code == 413
    assert (batch.json()["error"], batch.json()["path"]) == ("history-too-long",
                                                              "/deals/1/history")
    assert check.status_code == 413 and check.json()["path"] == "/deal/history"
    assert within.status_code == 200


def listed(count: int, name: str) -> list[dict[str, Any]]:
    """``count`` well-formed entries of a deal's list ``name`` (tasks, events or pauses)."""
    at = [f"2026-11-{day:02d}T10:00:00+03:00" for day in range(1, count + 1)]
    if name == "tasks":
        return [{"id": f"t{i}", "due": when, "done": True} for i, when in enumerate(at)]
    if name == "events":
        return [{"type": "meeting", "at": when} for when in at]
    return [{"from": when, "to": when.replace("T10", "T11"), "reason": "wait"} for when in at]


@pytest.mark.parametrize(("name", "limit", "code"), [
    ("tasks", 4, "too-many-tasks"), ("events", 4, "too-many-events"),
    ("pauses", 2, "too-many-pauses")])
def test_a_deal_with_too_many_tasks_events_or_pauses_is_413_naming_it(
        tight: Server, name: str, limit: int, code: str) -> None:
    over = {**heavy_deal("L", 5), name: listed(limit + 1, name)}
    at_limit = {**heavy_deal("L", 5), name: listed(limit, name)}
    with tight.client() as client:
        batch = client.post("/v1/evaluate", json={
            "ruleset": "b2b-sales", "now": NOW, "deals": [A100, over]})
        check = client.post("/v1/check-transition", json={
            "ruleset": "b2b-sales", "deal": over, "to": "invoice"})
        within = client.post("/v1/evaluate", json={
            "ruleset": "b2b-sales", "now": NOW, "deal": at_limit})
    assert batch.status_code == 413
    assert (batch.json()["error"], batch.json()["path"], batch.json()["limit"]) == (
        code, f"/deals/1/{name}", limit)
    assert check.status_code == 413 and check.json()["path"] == f"/deal/{name}"
    assert within.status_code == 200, within.text


# -- the work runs off the event loop ------------------------------------------------------------

@pytest.fixture(scope="module")
def roomy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with the default limits."""
    running = start_server(tmp_path_factory.mktemp("roomy"))
    yield running
    stop_server(running)


def test_health_and_stage_checks_answer_during_the_heaviest_evaluate(roomy: Server) -> None:
    # As much history as the default body limit holds, at the default 10,000 entries a deal.
    body = heavy_body(15, 10_000)
    assert len(body) < 10 * 1024 * 1024
    finished = threading.Event()
    outcome: list[httpx.Response] = []

    def heavy() -> None:
        with roomy.client() as client:
            client.timeout = httpx.Timeout(120)
            outcome.append(client.post("/v1/evaluate", content=body))
        finished.set()

    thread = threading.Thread(target=heavy)
    thread.start()
    answered_during: list[str] = []
    with roomy.client() as client:
        computing(roomy)  # the evaluation is under way; now ask the quick things
        while not finished.is_set() and len(answered_during) < 6:
            health = client.get("/healthz")
            check = client.post("/v1/check-transition", json={
                "ruleset": "b2b-sales", "deal": A100, "to": "invoice"})
            if not finished.is_set():
                assert health.status_code == 200 and check.status_code == 200
                answered_during += ["healthz", "check"]
    thread.join(timeout=120)
    assert outcome and outcome[0].status_code == 200, outcome[0].text if outcome else None
    assert len(answered_during) >= 2, "nothing answered while the evaluation ran"


def children(pid: int) -> set[int]:
    """The child processes of ``pid`` (forked by any of its threads)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            found.update(int(x) for x in (task / "children").read_text().split())
    return found


def test_work_over_the_time_budget_is_504_and_the_server_goes_on(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--time-budget", "0.2")
    try:
        with server.client() as client:
            slow = client.post("/v1/evaluate", content=heavy_body(10, 10_000))
            assert slow.status_code == 504
            assert slow.json()["error"] == "over-time-budget" and slow.json()["limit"] == 0.2
            quick = client.post("/v1/evaluate", json={"ruleset": "b2b-sales", "now": NOW,
                                                      "deal": A100})
            assert quick.status_code == 200
        assert eventually(lambda: any(line.get("event") == "work-stopped"
                                      for line in server.log_lines()))
        assert eventually(lambda: not children(server.process.pid))  # the child was killed
    finally:
        stop_server(server)


def test_a_lint_over_the_time_budget_is_504_and_its_process_is_killed(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--time-budget", "0.1")
    stages = "".join(f"  - id: s{i}\n" for i in range(20_000))
    ruleset = f"version: 1\nid: big\ntitle: Big\nstages:\n{stages}"
    try:
        with server.client() as client:
            answer = client.post("/v1/lint", content=ruleset.encode(),
                                 headers={"Content-Type": "application/yaml"})
            assert answer.status_code == 504 and answer.json()["error"] == "over-time-budget"
            assert eventually(lambda: not children(server.process.pid))
            assert client.get("/healthz").status_code == 200
    finally:
        stop_server(server)


def test_a_full_queue_answers_503(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--compute-threads", "1", "--compute-queue", "1")
    try:
        body = heavy_body(10, 10_000)
        finished = threading.Event()

        def heavy() -> None:
            with server.client() as client:
                client.timeout = httpx.Timeout(120)
                client.post("/v1/evaluate", content=body)
            finished.set()

        thread = threading.Thread(target=heavy)
        thread.start()
        computing(server)
        refused = None
        with server.client() as client:
            while not finished.is_set() and refused is None:
                answer = client.post("/v1/check-transition", json={
                    "ruleset": "b2b-sales", "deal": A100, "to": "invoice"})
                if answer.status_code == 503:
                    refused = answer
        thread.join(timeout=120)
        assert refused is not None, "no request was refused while the only place was taken"
        assert refused.json()["error"] == "busy" and refused.json()["limit"] == 1
    finally:
        stop_server(server)


def test_work_is_dropped_when_the_client_leaves(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--compute-threads", "1")
    try:
        body = heavy_body(10, 10_000)
        with connect(server) as conn:
            conn.sendall(request_head("POST", "/v1/evaluate", length=len(body)) + body)
            computing(server)
        # Closed mid-evaluation: the thread stops between deals, and the request is logged 499.
        lines = eventually(lambda: [line for line in server.log_lines()
                                    if line.get("event") == "work-stopped"], timeout=60)
        assert lines and lines[0]["steps_done"] < 10
        request = eventually(lambda: [line for line in server.log_lines()
                                      if line.get("path") == "/v1/evaluate"])
        assert request and request[0]["status"] == 499 and request[0]["error"] == "client-gone"
    finally:
        stop_server(server)


# -- SIGTERM ---------------------------------------------------------------------------------------

def test_sigterm_lets_a_request_in_flight_finish(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--shutdown-timeout", "30")
    body = heavy_body(3, 10_000)
    with connect(server, timeout=60) as conn:
        conn.sendall(request_head("POST", "/v1/evaluate", length=len(body)) + body)
        computing(server)
        server.process.send_signal(signal.SIGTERM)
        answer = read_all(conn)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert len(json.loads(answer.partition(b"\r\n\r\n")[2])["findings"]) > 0
    # Drained: the process ends with status 0 (uvicorn's own re-raised SIGTERM is taken).
    assert server.process.wait(timeout=30) == 0
    stopped = [line for line in server.log_lines() if line.get("event") == "stopped"]
    assert [line["drained"] for line in stopped] == [True]
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{server.url}/healthz", timeout=2)


def test_sigterm_stops_within_its_bound_when_work_runs_longer(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--shutdown-timeout", "1")
    body = heavy_body(15, 10_000)  # several seconds of work
    with connect(server, timeout=60) as conn:
        conn.sendall(request_head("POST", "/v1/evaluate", length=len(body)) + body)
        computing(server)
        server.process.send_signal(signal.SIGTERM)
        # The bound is the shutdown timeout plus the current deal; generous for a busy machine.
        # Work was cancelled: the status says so.
        assert server.process.wait(timeout=15) == EXIT_CUT_SHORT
    events = [line.get("message", "") for line in server.log_lines()]
    assert any("timeout graceful shutdown exceeded" in message for message in events)
    assert [line["drained"] for line in server.log_lines() if line.get("event") == "stopped"] \
        == [False]


def test_sigterm_on_an_idle_server_exits_0(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=15) == 0


def test_a_server_that_cannot_start_exits_3(tmp_path: Path) -> None:
    (tmp_path / "first").mkdir()
    running = start_server(tmp_path / "first")
    try:
        port = running.url.rsplit(":", 1)[1]
        second = tmp_path / "second"
        second.mkdir()
        (second / "b2b_sales.yaml").write_bytes(B2B.read_bytes())
        done = subprocess.run([sys.executable, "-m", "pipeline_rules", "serve", str(second),
                               "--port", port], capture_output=True, timeout=60, check=False)
        assert done.returncode == EXIT_NOT_STARTED, done.stderr[-2000:]
    finally:
        stop_server(running)


# -- the limits table ------------------------------------------------------------------------------

def test_every_limit_of_serve_is_tabled_with_its_default() -> None:
    """docs/integrations.md lists every limit `serve` takes, with the flag's real default."""
    from pipeline_rules.cli.serve import serve_command

    text = (ROOT / "docs" / "integrations.md").read_text("utf-8")
    section = text.split("\n## Limits\n", 1)[1].split("\n## ", 1)[0]
    table = section[section.index("| limit |"):].split("\n\n", 1)[0]
    rows = {}
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[2].strip("`")] = cells[1]
    limits = [p for p in serve_command.params if p.name is not None and (
        p.name.startswith(("max_", "compute_")) or p.name.endswith("_timeout")
        or p.name == "time_budget")]
    assert len(limits) >= 16
    for option in limits:
        flag = option.opts[0]
        assert flag in rows, f"{flag} is missing from the limits table"
        default = option.default
        written = rows[flag].replace(",", "").replace(" ", "").lower()
        if isinstance(default, float):
            assert written == f"{default:g}s", (flag, rows[flag])
        else:
            assert written == str(default).lower(), (flag, rows[flag])
