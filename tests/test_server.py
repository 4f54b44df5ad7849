"""The HTTP service (`pipeline-rules serve`) as a CRM meets it: a real server process on a
loopback port, called over HTTP.

Choices pinned here: `/healthz`, `/metrics` and `/openapi.json` answer without the token (a
probe or a scraper carries no secret, and none of them tells anything about deals); every
`/v1` path needs it, even one that does not exist.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import ROOT
from prometheus_client.parser import text_string_to_metric_families

from pipeline_rules import i18n
from pipeline_rules.server.auth import authorized
from pipeline_rules.server.models import (
    CheckResponse,
    EvaluateResponse,
    Lang,
    LintResponse,
    RulesetsResponse,
)
from pipeline_rules.server.registry import Registry
from pipeline_rules.server.settings import SettingsError, parse_size, read_token

B2B = ROOT / "rulesets" / "b2b_sales.yaml"
RETAIL = ROOT / "rulesets" / "retail.yaml"
SAMPLE = ROOT / "examples" / "deals.jsonl"
NOW = "2026-11-20T09:05:00+03:00"
TOKEN = "test-token-5f0c1d"
LIMIT = 10 * 1024 * 1024  # the default --max-body
DEALS = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
A100 = next(d for d in DEALS if d["id"] == "A-100")
BROKEN_YAML = "version: 1\nid: broken\ntitle: Broken\nstages:\n  - id: new\n    title: [\n"


# -- a real server process --------------------------------------------------------------------

@dataclass
class Server:
    """A running `pipeline-rules serve` process and what the tests need to reach it."""

    url: str
    directory: Path
    log: Path
    process: subprocess.Popen[bytes]

    def client(self, token: str | None = TOKEN) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text("utf-8").splitlines() if line]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_server(base: Path, *extra: str) -> Server:
    directory = base / "rulesets"
    directory.mkdir()
    shutil.copy(B2B, directory / "b2b_sales.yaml")
    shutil.copy(RETAIL, directory / "retail.yaml")
    token_file = base / "token"
    token_file.write_text(TOKEN + "\n", encoding="utf-8")
    log = base / "server.log"
    port = free_port()
    with open(log, "wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "pipeline_rules", "serve", str(directory), "--port", str(port),
             "--token-file", str(token_file), *extra],
            stdout=subprocess.DEVNULL, stderr=stderr, cwd=base)
    server = Server(f"http://127.0.0.1:{port}", directory, log, process)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    pytest.fail(f"the server did not answer /healthz within 30 s:\n{log.read_text()}")


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover - only if shutdown hangs
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("serve"))
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def api(server: Server) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


def eventually(probe: Callable[[], Any], timeout: float = 10.0) -> Any:
    """The first truthy value of ``probe()``, polled until ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def raw_exchange(server: Server, head: bytes, chunks: list[bytes]) -> bytes:
    """Send a request byte for byte and read the whole answer (the server may answer and close
    before the body is sent, so send errors are expected)."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(head)
        try:
            for chunk in chunks:
                conn.sendall(chunk)
        except OSError:
            pass
        received = b""
        try:
            while data := conn.recv(65536):
                received += data
        except (TimeoutError, ConnectionResetError):
            pass
    return received


# -- settings and pieces, in process ----------------------------------------------------------

def test_sizes_read_like_nginx() -> None:
    assert parse_size("10MB") == 10 * 1024 * 1024
    assert parse_size("512k") == 512 * 1024
    assert parse_size("1048576") == 1048576
    for bad in ("ten", "10 parsecs", "0", ""):
        with pytest.raises(SettingsError):
            parse_size(bad)


def test_token_file_is_one_line_of_printable_text(tmp_path: Path) -> None:
    good, empty, spaced = tmp_path / "good", tmp_path / "empty", tmp_path / "spaced"
    good.write_text("abc123\n")
    empty.write_text("\n")
    spaced.write_text("abc 123\n")
    assert read_token(str(good)) == "abc123"
    for bad in (empty, spaced, tmp_path / "missing"):
        with pytest.raises(SettingsError):
            read_token(str(bad))


def test_bearer_comparison() -> None:
    assert authorized(b"Bearer abc", b"abc")
    assert authorized(b"bearer  abc ", b"abc")
    assert not authorized(None, b"abc")
    assert not authorized(b"Bearer abd", b"abc")
    assert not authorized(b"Basic abc", b"abc")
    assert not authorized(b"Bearer", b"abc")


def test_lang_literal_lists_the_catalog_languages() -> None:
    assert set(Lang.__args__) == set(i18n.LANGUAGES)


def test_registry_duplicates_removals_and_first_load_errors(tmp_path: Path) -> None:
    shutil.copy(B2B, tmp_path / "a.yaml")
    shutil.copy(B2B, tmp_path / "b.yaml")  # the same id: a.yaml wins, b.yaml is an error
    (tmp_path / "c.yaml").write_text(BROKEN_YAML, encoding="utf-8")
    (tmp_path / ".hidden.yaml").write_text(BROKEN_YAML, encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a ruleset", encoding="utf-8")
    registry = Registry(tmp_path)
    events = registry.refresh()
    assert [e["event"] for e in events] == ["ruleset-loaded", "ruleset-loaded", "ruleset-error",
                                            "ruleset-duplicate"]
    listing = {entry["file"]: entry for entry in registry.listing()}
    assert sorted(listing) == ["a.yaml", "b.yaml", "c.yaml"]
    assert listing["a.yaml"]["status"] == "ok" and listing["a.yaml"]["serving"]
    assert listing["b.yaml"]["status"] == "error" and not listing["b.yaml"]["serving"]
    assert listing["b.yaml"]["diagnostics"][0]["rule"] == "duplicate-id"
    assert listing["c.yaml"]["id"] is None and listing["c.yaml"]["diagnostics"]
    served = registry.get("b2b-sales")
    assert served is not None and served.file == "a.yaml"
    assert registry.refresh() == []  # nothing changed: nothing reloaded
    (tmp_path / "a.yaml").unlink()
    events = registry.refresh()
    assert [e["event"] for e in events] == ["ruleset-removed"]
    served = registry.get("b2b-sales")
    assert served is not None and served.file == "b.yaml"


def test_serve_refuses_bad_options_before_listening(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from pipeline_rules.cli import main

    runner = CliRunner()
    result = runner.invoke(main, ["serve", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "not a directory" in result.stderr
    result = runner.invoke(main, ["serve", str(tmp_path), "--max-body", "lots"])
    assert result.exit_code == 2 and "is not a size" in result.stderr
    (tmp_path / "token").write_text("")
    result = runner.invoke(main, ["serve", str(tmp_path), "--token-file", str(tmp_path / "token")])
    assert result.exit_code == 2 and "empty" in result.stderr


# -- authentication ---------------------------------------------------------------------------

def test_health_metrics_and_openapi_need_no_token(server: Server) -> None:
    with server.client(token=None) as anonymous:
        health = anonymous.get("/healthz")
        assert health.status_code == 200
        assert health.json() == {"status": "ok", "version": health.json()["version"],
                                 "rulesets": 2}
        assert anonymous.get("/metrics").status_code == 200
        assert anonymous.get("/openapi.json").status_code == 200


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/v1/rulesets"), ("POST", "/v1/evaluate"), ("POST", "/v1/check-transition"),
    ("POST", "/v1/lint"), ("GET", "/v1/no-such-endpoint")])
def test_every_v1_call_needs_the_token(server: Server, method: str, path: str) -> None:
    for token, error in ((None, None), ("wrong-token", '"invalid_token"')):
        with server.client(token=token) as client:
            response = client.request(method, path, json={})
        assert response.status_code == 401
        assert response.json()["error"] == "unauthorized"
        challenge = response.headers["WWW-Authenticate"]
        assert challenge.startswith('Bearer realm="pipeline-rules"')
        assert (error in challenge) if error else "error=" not in challenge
    with server.client(token=None) as client:
        basic = client.request(method, path, json={}, headers={"Authorization": f"Basic {TOKEN}"})
    assert basic.status_code == 401


def test_the_right_token_is_let_in(api: httpx.Client) -> None:
    assert api.get("/v1/rulesets").status_code == 200


# -- limits and bad input ---------------------------------------------------------------------

def test_declared_body_over_the_limit_is_refused_unread(server: Server) -> None:
    head = (f"POST /v1/evaluate HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {LIMIT + 1}\r\n\r\n").encode()
    answer = raw_exchange(server, head, [])  # nothing of the body is sent
    assert answer.startswith(b"HTTP/1.1 413 ")
    body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert body["error"] == "body-too-large" and body["limit"] == LIMIT


def test_chunked_body_over_the_limit_is_cut_off(server: Server) -> None:
    head = (f"POST /v1/evaluate HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {TOKEN}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    piece = b" " * 65536
    chunks = [b"%x\r\n%s\r\n" % (len(piece), piece)] * (LIMIT // len(piece) + 2) + [b"0\r\n\r\n"]
    answer = raw_exchange(server, head, chunks)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"] == "body-too-large"


def test_a_body_at_the_limit_is_read(api: httpx.Client) -> None:
    body = json.dumps({"ruleset": "b2b-sales", "now": NOW, "deals": DEALS}).encode()
    padded = body + b" " * (LIMIT - len(body))
    response = api.post("/v1/evaluate", content=padded)
    assert response.status_code == 200


def test_malformed_json_is_400_with_line_and_column(api: httpx.Client) -> None:
    response = api.post("/v1/evaluate", content=b'{"ruleset": "b2b-sales",\n  "deal": {,}}')
    assert response.status_code == 400
    body = response.json()
    assert (body["error"], body["line"], body["column"]) == ("malformed-json", 2, 12)
    assert "line 2, column 12" in body["message"]
    empty = api.post("/v1/check-transition", content=b"")
    assert (empty.status_code, empty.json()["line"], empty.json()["column"]) == (400, 1, 1)


def test_unknown_ruleset_is_404(api: httpx.Client) -> None:
    for path, body in (("/v1/evaluate", {"ruleset": "b2c", "deal": A100}),
                       ("/v1/check-transition", {"ruleset": "b2c", "deal": A100, "to": "paid"})):
        response = api.post(path, json=body)
        assert response.status_code == 404
        assert response.json()["error"] == "unknown-ruleset"
        assert "b2b-sales" in response.json()["message"]


def test_wrong_shapes_are_422_with_pointers(api: httpx.Client) -> None:
    both = api.post("/v1/evaluate", json={"ruleset": "b2b-sales", "deal": A100, "deals": []})
    assert both.status_code == 422 and both.json()["error"] == "invalid-request"
    typo = api.post("/v1/evaluate", json={"ruleset": "b2b-sales", "deal": A100, "nwo": NOW})
    assert typo.status_code == 422 and typo.json()["path"] == "/nwo"
    when = api.post("/v1/evaluate", json={"ruleset": "b2b-sales", "deal": A100, "now": "soon"})
    assert when.status_code == 422 and when.json()["path"] == "/now"
    to = api.post("/v1/check-transition", json={"ruleset": "b2b-sales", "deal": A100, "to": 7})
    assert to.status_code == 422 and to.json()["path"] == "/to"


def test_bad_deal_is_422_for_a_check_and_a_finding_for_evaluate(api: httpx.Client) -> None:
    deal = {**A100, "history": [{"stage": "find_dm", "at": "last tuesday"}]}
    check = api.post("/v1/check-transition",
                     json={"ruleset": "b2b-sales", "deal": deal, "to": "proposal"})
    assert check.status_code == 422
    assert check.json()["error"] == "bad-deal"
    assert check.json()["path"] == "/deal/history/0/at"
    evaluated = api.post("/v1/evaluate", json={"ruleset": "b2b-sales", "now": NOW,
                                               "deals": [deal, 42, A100]})
    assert evaluated.status_code == 200
    findings = evaluated.json()["findings"]
    bad = [f for f in findings if f["code"] == "bad-record"]
    assert [f["details"]["record"] for f in bad] == ["/deals/0", "/deals/1"]
    assert bad[0]["details"]["path"] == "/history/0/at"
    assert any(f["deal"] == "A-100" and f["code"] == "sla-breach" for f in findings)


def test_dates_at_the_ends_of_the_calendar_are_bad_input(api: httpx.Client) -> None:
    far = {"id": "F-1", "stage": "meeting",
           "history": [{"stage": "meeting", "at": "0001-01-01T00:00:00+05:00"}]}
    evaluated = api.post("/v1/evaluate", json={"ruleset": "b2b-sales", "now": NOW, "deal": far})
    assert evaluated.status_code == 200
    assert [f["code"] for f in evaluated.json()["findings"]] == ["bad-record"]
    # Without an offset the time is read in the ruleset's zone, which overflows year 1.
    local = {**far, "history": [{"stage": "meeting", "at": "0001-01-01T00:00:00"}]}
    check = api.post("/v1/check-transition", json={"ruleset": "b2b-sales", "deal": local,
                                                   "to": "proposal"})
    assert check.status_code == 422 and check.json()["error"] == "bad-deal"
    late = api.post("/v1/evaluate", json={"ruleset": "b2b-sales", "deal": far,
                                          "now": "9999-12-31T23:59:59-05:00"})
    assert late.status_code == 422 and late.json()["path"] == "/now"


# -- the answers ------------------------------------------------------------------------------

def cli_findings() -> list[dict[str, Any]]:
    result = subprocess.run(
        [sys.executable, "-m", "pipeline_rules", "evaluate", str(B2B), str(SAMPLE), "--now", NOW,
         "--format", "jsonl", "--lang", "en"],
        capture_output=True, check=True, cwd=ROOT)
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_evaluate_gives_exactly_the_command_lines_findings(api: httpx.Client) -> None:
    expected = cli_findings()
    assert len(expected) == 10
    batch = api.post("/v1/evaluate", json={"ruleset": "b2b-sales", "now": NOW, "deals": DEALS})
    assert batch.status_code == 200
    body = EvaluateResponse.model_validate(batch.json())
    assert body.findings == expected
    assert body.summary == dict(Counter(f["code"] for f in expected))
    one_by_one = []
    for deal in DEALS:
        single = api.post("/v1/evaluate", json={"ruleset": "b2b-sales", "now": NOW, "deal": deal})
        assert single.status_code == 200
        one_by_one.extend(single.json()["findings"])
    assert one_by_one == expected


def test_evaluate_speaks_russian(api: httpx.Client) -> None:
    response = api.post("/v1/evaluate",
                        json={"ruleset": "b2b-sales", "now": NOW, "deal": A100, "lang": "ru"})
    english = api.post("/v1/evaluate", json={"ruleset": "b2b-sales", "now": NOW, "deal": A100})
    assert response.status_code == 200
    russian, plain = response.json()["findings"], english.json()["findings"]
    assert [f["code"] for f in russian] == [f["code"] for f in plain]
    assert all(r["message"] != p["message"] for r, p in zip(russian, plain, strict=True))


def test_check_transition_a100_to_invoice_is_rejected(api: httpx.Client) -> None:
    response = api.post("/v1/check-transition",
                        json={"ruleset": "b2b-sales", "deal": A100, "to": "invoice"})
    assert response.status_code == 200
    decision = CheckResponse.model_validate(response.json())
    assert (decision.deal, decision.from_, decision.to) == ("A-100", "meeting", "invoice")
    assert not decision.allowed
    assert [r.code for r in decision.reasons] == ["not-declared", "skips-stages"]
    assert decision.reasons[1].stages == ["proposal"]
    allowed = api.post("/v1/check-transition",
                       json={"ruleset": "b2b-sales", "deal": A100, "to": "proposal"})
    assert allowed.json()["allowed"] is True and allowed.json()["reasons"] == []


def test_lint_reports_positions_in_a_broken_ruleset(api: httpx.Client) -> None:
    for media_type in ("application/yaml", "text/yaml"):
        raw = api.post("/v1/lint", content=BROKEN_YAML.encode(),
                       headers={"Content-Type": media_type})
        assert raw.status_code == 200
        body = LintResponse.model_validate(raw.json())
        assert body.summary.error >= 1
        first = body.diagnostics[0]
        assert (first.rule, first.file, first.line, first.column) == \
            ("yaml-syntax", "<request>", 7, 1)
    wrapped = api.post("/v1/lint", json={"yaml": BROKEN_YAML})
    assert wrapped.json() == raw.json()
    clean = api.post("/v1/lint", content=B2B.read_bytes(),
                     headers={"Content-Type": "application/yaml"})
    assert clean.status_code == 200 and clean.json()["summary"]["error"] == 0
    form = api.post("/v1/lint", content=b"id: x", headers={"Content-Type": "text/plain"})
    assert form.status_code == 415


def test_rulesets_lists_each_file(api: httpx.Client) -> None:
    response = api.get("/v1/rulesets")
    listing = RulesetsResponse.model_validate(response.json()).rulesets
    assert [(r.id, r.file, r.status, r.serving) for r in listing] == [
        ("b2b-sales", "b2b_sales.yaml", "ok", True),
        ("retail-orders", "retail.yaml", "ok", True)]
    assert listing[0].title == "B2B sales cycle" and listing[0].loaded_at


def test_unknown_paths_and_methods_answer_json(api: httpx.Client) -> None:
    missing = api.get("/nowhere")
    assert missing.status_code == 404 and missing.json()["error"] == "not-found"
    wrong = api.get("/v1/evaluate")
    assert wrong.status_code == 405 and wrong.json()["error"] == "method-not-allowed"


# -- observability ----------------------------------------------------------------------------

def metric(client: httpx.Client, name: str, **labels: str) -> float:
    """The value of one sample in /metrics (0 when it has not been counted yet)."""
    text = client.get("/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def test_metrics_count_requests_latency_and_findings(api: httpx.Client) -> None:
    requests = {"endpoint": "/v1/check-transition", "method": "POST", "status": "200"}
    before = metric(api, "pipeline_rules_http_requests_total", **requests)
    latency = metric(api, "pipeline_rules_http_request_duration_seconds_count", **requests)
    breaches = metric(api, "pipeline_rules_findings_total", ruleset="b2b-sales",
                      code="sla-breach")
    for _ in range(3):
        api.post("/v1/check-transition", json={"ruleset": "b2b-sales", "deal": A100, "to": "lost"})
    api.post("/v1/evaluate", json={"ruleset": "b2b-sales", "now": NOW, "deals": DEALS})
    assert eventually(lambda: metric(api, "pipeline_rules_http_requests_total", **requests)
                      == before + 3)
    assert metric(api, "pipeline_rules_http_request_duration_seconds_count", **requests) \
        == latency + 3
    assert metric(api, "pipeline_rules_findings_total", ruleset="b2b-sales",
                  code="sla-breach") == breaches + 2
    assert metric(api, "pipeline_rules_transition_checks_total", ruleset="b2b-sales",
                  allowed="false") >= 3
    # Paths nobody routes are one series, not one per URL a scanner tries.
    api.get("/random/path/1")
    api.get("/random/path/2")
    text = api.get("/metrics").text
    assert "/random/path" not in text and 'endpoint="other"' in text


def test_one_json_log_line_per_request_and_no_deal_contents(server: Server,
                                                            api: httpx.Client) -> None:
    secret = {"id": "SECRET-DEAL-7731", "stage": "meeting", "source": "cold",
              "owner": "secret-owner-name", "fields": {"amount": 918273, "note": "secret-note"},
              "history": [{"stage": "find_dm", "at": "2026-11-02T11:00:00+03:00"},
                          {"stage": "meeting", "at": "2026-11-10T12:00:00+03:00"}]}
    calls = [
        ("log-1", "/v1/evaluate", {"ruleset": "b2b-sales", "now": NOW, "deal": secret}, TOKEN),
        ("log-2", "/v1/check-transition", {"ruleset": "b2b-sales", "deal": secret,
                                           "to": "invoice"}, TOKEN),
        ("log-3", "/v1/check-transition", {"ruleset": "b2b-sales", "deal": secret,
                                           "to": "invoice"}, "wrong"),
        ("log-4", "/v1/evaluate", {"ruleset": "nope", "deal": secret}, TOKEN),
    ]
    for ident, path, body, token in calls:
        with server.client(token=token) as client:
            client.post(path, json=body, headers={"X-Request-Id": ident})

    def lines_for(ident: str) -> list[dict[str, Any]]:
        return [line for line in server.log_lines() if line.get("request_id") == ident]

    assert eventually(lambda: all(lines_for(ident) for ident, *_ in calls))
    by_id = {ident: lines_for(ident) for ident, *_ in calls}
    assert all(len(lines) == 1 for lines in by_id.values()), by_id
    evaluated = by_id["log-1"][0]
    assert evaluated["event"] == "request" and evaluated["method"] == "POST"
    assert evaluated["path"] == "/v1/evaluate" and evaluated["status"] == 200
    assert evaluated["ruleset"] == "b2b-sales" and evaluated["deals"] == 1
    assert evaluated["findings"] >= 1 and evaluated["duration_ms"] > 0
    assert by_id["log-2"][0]["allowed"] is False
    assert by_id["log-3"][0]["status"] == 401
    assert by_id["log-4"][0]["status"] == 404 and by_id["log-4"][0]["error"] == "unknown-ruleset"
    text = server.log.read_text("utf-8")
    for value in ("SECRET-DEAL-7731", "secret-owner-name", "918273", "secret-note"):
        assert value not in text
    assert TOKEN not in text


# -- OpenAPI ----------------------------------------------------------------------------------

def test_openapi_describes_every_request_and_response(api: httpx.Client) -> None:
    doc = api.get("/openapi.json").json()
    paths = doc["paths"]
    assert set(paths) == {"/v1/evaluate", "/v1/check-transition", "/v1/lint", "/v1/rulesets",
                          "/v1/rebase", "/healthz", "/metrics"}
    schemas = doc["components"]["schemas"]
    for name in ("EvaluateRequest", "CheckRequest", "LintRequest", "EvaluateResponse",
                 "CheckResponse", "LintResponse", "RulesetsResponse", "ErrorBody", "Deal",
                 "Finding", "RebaseRequest", "RebaseResponse"):
        assert name in schemas, name
    for path in ("/v1/evaluate", "/v1/check-transition", "/v1/lint", "/v1/rebase"):
        operation = paths[path]["post"]
        assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert {"200", "400", "401", "413", "422"} <= set(operation["responses"])
        assert operation["security"] == [{"bearer": []}]
    assert "application/yaml" in paths["/v1/lint"]["post"]["requestBody"]["content"]
    assert schemas["EvaluateRequest"]["examples"][0]["deal"]["id"] == "A-100"
    assert schemas["CheckResponse"]["examples"]
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert "security" not in paths["/healthz"]["get"]


def test_schemathesis_finds_no_server_errors(server: Server, tmp_path: Path) -> None:
    """Property-based requests from the live OpenAPI document: no 5xx, responses as
    documented. Bounded (a fixed seed and example count) to stay well under a minute."""
    executable = Path(sys.executable).parent / "schemathesis"
    command = [str(executable), "run", f"{server.url}/openapi.json",
               "--header", f"Authorization: Bearer {TOKEN}",
               "--checks", "not_a_server_error,status_code_conformance,"
                           "content_type_conformance,response_schema_conformance",
               "--max-examples", "40", "--seed", "20261120", "--request-timeout", "20",
               "--phases", "examples,coverage,fuzzing"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=240,
                            env={**os.environ, "NO_COLOR": "1"}, check=False)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "No issues found" in result.stdout
    statuses = [line["status"] for line in server.log_lines() if line.get("event") == "request"]
    assert statuses and max(statuses) < 500
    assert not [line for line in server.log_lines() if line.get("event") == "unhandled-error"]


# -- reload under load ------------------------------------------------------------------------

def write_atomically(path: Path, text: str) -> None:
    """Replace a file in one step, as docs/integrations.md tells people to."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def test_reload_under_concurrent_requests(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    try:
        run_reload_scenario(server)
    finally:
        stop_server(server)


Answer = tuple[str, tuple[str, ...]]


class Hammer:
    """Threads posting one check-transition request after another until stopped, recording
    each answer and anything wrong with one: a failure, a mixed state, a step back."""

    def __init__(self, server: Server, body: dict[str, Any], old: Answer, new: Answer,
                 threads: int = 4) -> None:
        self.server, self.body, self.old, self.new = server, body, old, new
        self.stop = threading.Event()
        self.problems: list[str] = []
        self.answers: list[list[Answer]] = [[] for _ in range(threads)]
        self.threads = [threading.Thread(target=self.run, args=(a,)) for a in self.answers]

    def __enter__(self) -> Hammer:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def run(self, answers: list[Answer]) -> None:
        with self.server.client() as client:
            while not self.stop.is_set():
                try:
                    response = client.post("/v1/check-transition", json=self.body)
                except httpx.HTTPError as err:
                    self.problems.append(f"request failed: {err!r}")
                    continue
                if response.status_code != 200:
                    self.problems.append(f"{response.status_code}: {response.text}")
                    continue
                data = response.json()
                answer = (str(data["allowed"]).lower(), tuple(r["code"] for r in data["reasons"]))
                if answer not in (self.old, self.new):
                    self.problems.append(f"mixed state: {data}")
                if answers and answers[-1] == self.new and answer == self.old:
                    self.problems.append("went back to the old version after the new one")
                answers.append(answer)

    def all_see(self, answer: Answer) -> bool:
        return all(a and a[-1] == answer for a in self.answers)


def b2b_entry(server: Server) -> dict[str, Any]:
    with server.client() as client:
        rulesets = client.get("/v1/rulesets").json()["rulesets"]
    entry: dict[str, Any] = next(r for r in rulesets if r["file"] == "b2b_sales.yaml")
    return entry


def run_reload_scenario(server: Server) -> None:
    original = B2B.read_text(encoding="utf-8")
    changed = original.replace(
        "  - {from: meeting, to: proposal}\n",
        "  - {from: meeting, to: proposal}\n  - {from: meeting, to: invoice, require: [amount]}\n"
    ).replace('title: "B2B sales cycle"', 'title: "B2B sales cycle, v2"')
    assert changed.count("v2") == 1 and "{from: meeting, to: invoice" in changed
    broken = changed + "  - {from: meeting, to: [\n"
    old: Answer = ("false", ("not-declared", "skips-stages"))
    new: Answer = ("true", ())
    body = {"ruleset": "b2b-sales", "deal": A100, "to": "invoice"}
    file = server.directory / "b2b_sales.yaml"
    with Hammer(server, body, old, new) as hammer:
        assert eventually(lambda: hammer.all_see(old))
        first_load = b2b_entry(server)["loaded_at"]
        # A valid edit takes effect for every client, and nobody sees the old one again.
        write_atomically(file, changed)
        entry = eventually(lambda: (e := b2b_entry(server))["title"].endswith("v2") and e)
        assert entry, "the valid edit never took effect"
        assert entry["status"] == "ok" and entry["loaded_at"] > first_load
        assert eventually(lambda: hammer.all_see(new)), "a client still gets the old decision"
        time.sleep(0.5)
        # A broken edit is reported while the last good version goes on serving.
        write_atomically(file, broken)
        entry = eventually(lambda: (e := b2b_entry(server))["status"] == "error" and e)
        assert entry, "the broken edit was never reported"
        assert entry["serving"] and entry["title"].endswith("v2")
        assert entry["loaded_at"] > first_load and entry["failed_at"]
        first = entry["diagnostics"][0]
        assert (first["rule"], first["file"]) == ("yaml-syntax", "b2b_sales.yaml")
        assert first["line"] > 50 and first["column"] >= 1
        time.sleep(1.5)  # two more reload ticks under load
    assert not hammer.problems, hammer.problems[:5]
    answers = [a for per_thread in hammer.answers for a in per_thread]
    assert len(answers) > 100 and answers.count(old) > 0
    assert hammer.all_see(new)
    with server.client() as client:
        assert client.get("/healthz").json()["rulesets"] == 2
    events = [line["event"] for line in server.log_lines() if "ruleset" in line.get("event", "")]
    assert events[-2:] == ["ruleset-reloaded", "ruleset-error"]


def test_an_unreadable_directory_keeps_serving_and_is_logged_once(tmp_path: Path) -> None:
    folder = tmp_path / "rulesets"
    folder.mkdir()
    shutil.copy(B2B, folder / "b2b_sales.yaml")
    registry = Registry(folder)
    registry.refresh()
    folder.rename(tmp_path / "elsewhere")
    assert [e["event"] for e in registry.refresh()] == ["reload-failed"]
    assert registry.refresh() == []
    assert registry.get("b2b-sales") is not None


def test_a_deal_the_evaluation_fails_on_is_a_bad_record_and_logged(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """The command line's rule, in process: one failing deal is its own bad record."""
    from datetime import datetime

    from test_cli_evaluate import failing_check

    from pipeline_rules.server.registry import Version, build_version
    from pipeline_rules.server.service import evaluate

    version = build_version("b2b_sales.yaml", B2B.read_bytes(), datetime.now())
    assert isinstance(version, Version)
    now = datetime.fromisoformat(NOW)
    expected = evaluate(version, [(f"/deals/{i}", d) for i, d in enumerate(DEALS)], now, "en")
    failing_check(monkeypatch, "A-100")
    with caplog.at_level("ERROR"):
        result = evaluate(version, [(f"/deals/{i}", d) for i, d in enumerate(DEALS)], now, "en")
    bad = [f for f in result.findings if f["code"] == "bad-record"]
    assert [(f["deal"], f["details"]) for f in bad] == [("A-100", {"record": "/deals/0"})]
    assert bad[0]["message"] == "/deals/0: cannot be evaluated (boom)"
    assert [f for f in result.findings if f["deal"] != "A-100"] == \
        [f for f in expected.findings if f["deal"] != "A-100"]
    logged = [r for r in caplog.records if "deal-not-evaluated" in r.getMessage()]
    assert len(logged) == 1 and "boom" not in logged[0].getMessage()
