"""The deals part of the studio page (web/src/deals.js) in headless Chromium, against the deals
router served by a real uvicorn on loopback: load examples/deals, move `now`, open a deal's
timeline, compare a tightened SLA; no console errors, no request leaves the server."""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Request
from starlette.responses import FileResponse, HTMLResponse, Response

from pipeline_rules.server.errors import ApiError, error_response
from pipeline_rules.studio.context import StudioContext, Workspace
from pipeline_rules.studio.deals_routes import deals_router
from tests.helpers import ROOT

RULESET = ROOT / "rulesets" / "b2b_sales.yaml"
DEALS = ROOT / "examples" / "deals.jsonl"
SOURCE = ROOT / "pipeline_rules" / "studio" / "web" / "src" / "deals.js"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<link rel="icon" href="data:,"><title>deals</title>
<script type="module" src="/t/boot.js"></script></head>
<body><section id="deals" aria-label="Deals"></section></body></html>"""

# The page's side of the contract: ``api`` as the studio's page hands it to mountDeals.
BOOT = """import { mountDeals } from "/t/deals.js";
async function call(method, path, body) {
  const r = await fetch(path, { method, headers: body === undefined ? {} :
    { "Content-Type": "application/json" }, body: body === undefined ? undefined :
    JSON.stringify(body) });
  const data = await r.json();
  if (!r.ok) { const e = new Error(data.message); e.status = r.status; e.body = data; throw e; }
  return data;
}
window.draft = null;
const api = { get: (p) => call("GET", p), post: (p, b) => call("POST", p, b),
  file: () => "b2b_sales.yaml", text: () => window.draft, onChange: () => {},
  say: () => {} };
mountDeals(document.getElementById("deals"), api);
"""


def page_app(ctx: StudioContext) -> FastAPI:
    app = FastAPI()
    app.include_router(deals_router(ctx))

    @app.get("/")
    async def page() -> Response:
        return HTMLResponse(PAGE, headers={"Content-Security-Policy": CSP})

    @app.get("/t/boot.js")
    async def boot() -> Response:
        return Response(BOOT, media_type="text/javascript")

    @app.get("/t/deals.js")
    async def deals_js() -> Response:
        return FileResponse(SOURCE, media_type="text/javascript")

    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_response(exc)

    app.add_exception_handler(ApiError, on_api_error)
    return app


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import uvicorn

    folder = tmp_path_factory.mktemp("rulesets")
    shutil.copy(RULESET, folder / RULESET.name)
    ctx = StudioContext(folder, Workspace(folder), deals=DEALS)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(page_app(ctx), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        ctx.compute.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("needs the chromium binary, a Debian package (not on PyPI) that .ci/run "
                    "installs with apt when the mirror is reachable")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@contextlib.contextmanager
def loaded_page(browser: Any, served: str) -> Iterator[Any]:
    """The page with examples/deals loaded by keyboard; on the way out, nothing was logged
    but the failed fetches of refused requests (the page explains those), nothing failed and
    no request left the server."""
    from playwright.sync_api import expect

    seen: dict[str, list[str]] = {"console": [], "errors": [], "requests": []}
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.on("request", lambda r: seen["requests"].append(r.url))
    page = context.new_page()
    page.on("console", lambda m: seen["console"].append(f"{m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    try:
        page.goto(served + "/", wait_until="load")
        load = page.locator("#deals-load")
        load.wait_for(state="visible")
        assert "deals.jsonl" in load.inner_text()
        load.focus()
        page.keyboard.press("Enter")  # the main controls work from the keyboard
        expect(page.locator("#deals-table tbody tr")).to_have_count(6)
        assert "6 deals loaded" in page.locator("#deals-status").inner_text()
        yield page
    finally:
        context.close()
    assert [c for c in seen["console"] if "422" not in c] == []
    assert seen["errors"] == []
    assert [u for u in seen["requests"] if not u.startswith(served + "/")
            and not u.startswith("data:")] == []


def set_now(page: Any, text: str, shown: str) -> None:
    """Type a ``now`` and wait for the table to be judged at it."""
    from playwright.sync_api import expect

    page.fill("#deals-now-text", text)
    page.dispatch_event("#deals-now-text", "change")
    expect(page.locator("#deals-table caption")).to_contain_text(shown)


def test_move_now_and_open_a_timeline_in_chromium(browser: Any, served: str) -> None:
    with loaded_page(browser, served) as page:
        # At the reference moment the table shows examples/EXPECTED.md's findings.
        set_now(page, "2026-11-20T09:05:00+03:00", "2026-11-20 09:05")
        row = page.locator("#deals-table tr[data-deal='A-100'] td.codes")
        assert row.inner_text() == "escalate, sla-breach, remind"
        # A week earlier A-100's meeting SLA has not yet breached.
        set_now(page, "2026-11-13T09:00:00+03:00", "2026-11-13 09:00")
        assert "sla-breach" not in row.inner_text()
        # A-100's timeline: three stage bars, the SLA's two warnings and deadline, and the
        # escalation planned for its deadline with its recipient.
        page.click("#deals-table button[data-deal='A-100']")
        page.wait_for_selector("#timeline-svg")
        assert page.locator("#timeline-svg rect.stage-bar").count() == 3
        assert page.locator("#timeline-svg line.sla-deadline").count() == 1
        assert page.locator("#timeline-svg line.sla-warning").count() == 2
        assert page.locator("#timeline-svg rect.task").count() == 1
        assert page.locator("#timeline-svg circle.event").count() == 1
        actions = page.locator("#timeline-actions").inner_text()
        assert "2026-11-17 12:00 escalate (meeting-stall) → anna by crm_task — planned" \
            in actions


def test_what_if_a_tightened_sla_in_chromium(browser: Any, served: str) -> None:
    with loaded_page(browser, served) as page:
        set_now(page, "2026-11-20T09:05:00+03:00", "2026-11-20 09:05")
        # What if the meeting SLA were 2 days: the backtest adds breaches.
        page.evaluate("t => { window.draft = t; }",
                      RULESET.read_text("utf-8").replace("limit: 7d", "limit: 2d", 1))
        page.fill("#whatif-from", "2026-09-21T09:05:00+03:00")
        page.fill("#whatif-to", "2026-11-20T09:05:00+03:00")
        page.click("#whatif-run")
        page.wait_for_selector("#whatif-backtest")
        breach = page.locator("#whatif-backtest tr", has_text="sla-breach")
        assert "meeting-stall" in breach.inner_text()
        added = breach.locator("td.added").inner_text()
        assert added.startswith("+") and int(added[1:]) > 0
        assert "2 move" in page.locator("#whatif-impact").inner_text()
        assert page.locator("#dwell-svg line.limit-draft").count() == 3
        # A draft with an error: a clear message naming it, not a blank page.
        page.evaluate("t => { window.draft = t; }",
                      RULESET.read_text("utf-8").replace("stage: meeting\n",
                                                         "stage: meting\n", 1))
        page.click("#whatif-run")
        page.wait_for_selector("#whatif-result .deals-problems")
        assert "meting" in page.locator("#whatif-result").inner_text()
