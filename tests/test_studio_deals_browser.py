"""The deals part of the studio page (web/src/deals.js, as bundled) in headless Chromium, the
studio served by a real uvicorn on loopback: load examples/deals, move `now`, open a deal's
timeline, tighten an SLA in the editor and see the added alerts; no console errors, no request
leaves the server."""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from pipeline_rules.studio.app import create_studio
from pipeline_rules.studio.context import StudioContext, Workspace
from tests.helpers import ROOT

RULESET = ROOT / "rulesets" / "b2b_sales.yaml"
DEALS = ROOT / "examples" / "deals.jsonl"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

#: Replace the first ``old`` of the editor's text with ``new`` (a person typing it).
EDIT = """([old, replacement]) => {
  const view = window.studio.view;
  const at = view.state.doc.toString().indexOf(old);
  if (at < 0) throw new Error(`no '${old}' in the editor`);
  view.dispatch({ changes: { from: at, to: at + old.length, insert: replacement } });
}"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import uvicorn

    folder = tmp_path_factory.mktemp("rulesets")
    shutil.copy(RULESET, folder / RULESET.name)
    ctx = StudioContext(folder, Workspace(folder), deals=DEALS)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_studio(ctx), host="127.0.0.1", port=port,
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
        page.wait_for_selector("#editor .cm-content")
        load = page.locator("#deals-load")
        load.wait_for(state="visible")
        assert "deals.jsonl" in load.inner_text()
        load.focus()
        page.keyboard.press("Enter")  # the main controls work from the keyboard
        expect(page.locator("#deals-status")).to_contain_text("6 deals loaded")
        expect(page.locator("#deals-table tbody tr")).to_have_count(6)
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
        page.evaluate(EDIT, ["limit: 7d", "limit: 2d"])
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
        page.evaluate(EDIT, ["stage: meeting\n", "stage: meting\n"])
        page.click("#whatif-run")
        page.wait_for_selector("#whatif-result .deals-problems")
        assert "meting" in page.locator("#whatif-result").inner_text()
