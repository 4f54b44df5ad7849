"""The deals part of the studio page (web/src/deals.js, as bundled) in real headless Chromium
against a real ``pipeline-rules studio --deals examples/deals.jsonl`` process: load the deals
from the keyboard, move `now`, open a deal's timeline, tighten an SLA in the editor and see the
alerts it adds; a draft with an error explained. No console errors, no request leaves the
studio."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.studio_browser import (
    REFUSED,
    ROOT,
    Seen,
    Studio,
    launched_chromium,
    open_studio,
    running_studio,
)

REFERENCE = ROOT / "rulesets" / "b2b_sales.yaml"
DEALS = ROOT / "examples" / "deals.jsonl"
#: How long to wait for an answer, in ms: the machine running the tests may be busy.
WAIT = 20_000

#: Replace the first ``old`` of the editor's text with ``new`` (a person typing it).
EDIT = """([old, replacement]) => {
  const view = window.studio.view;
  const at = view.state.doc.toString().indexOf(old);
  if (at < 0) throw new Error(`no '${old}' in the editor`);
  view.dispatch({ changes: { from: at, to: at + old.length, insert: replacement } });
}"""


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    yield from launched_chromium()


@pytest.fixture
def studio(tmp_path: Path) -> Iterator[Studio]:
    folder = tmp_path / "rulesets"
    folder.mkdir()
    shutil.copy(REFERENCE, folder / "b2b_sales.yaml")
    with running_studio(folder, "--deals", str(DEALS)) as found:
        yield found


@contextmanager
def loaded_page(chromium: Any, studio: Studio, refused: tuple[str, ...] = ()) -> Iterator[Any]:
    """The studio's page with examples/deals loaded from the keyboard; afterwards, nothing
    logged but the refusals the test provoked (``refused``: their statuses, each of which
    Chromium logs once), nothing failed and no request went anywhere but the studio."""
    from playwright.sync_api import expect

    page, seen = open_studio(chromium, studio)
    try:
        load = page.locator("#deals-load")
        expect(load).to_contain_text("deals.jsonl")
        load.focus()
        page.keyboard.press("Enter")  # the main controls work from the keyboard
        expect(page.locator("#deals-status")).to_contain_text("6 deals loaded", timeout=WAIT)
        expect(page.locator("#deals-table tbody tr")).to_have_count(6, timeout=WAIT)
        yield page
    finally:
        page.context.close()
    assert_quiet(seen, studio, refused)


def assert_quiet(seen: Seen, studio: Studio, refused: tuple[str, ...]) -> None:
    assert seen.console == [REFUSED.format(status) for status in refused]
    assert seen.errors == []
    assert seen.dialogs == []
    assert seen.outside(studio.url.split("#")[0]) == []


def set_now(page: Any, text: str, shown: str) -> None:
    """Type a ``now`` and wait for the table to be judged at it."""
    from playwright.sync_api import expect

    page.fill("#deals-now-text", text)
    page.dispatch_event("#deals-now-text", "change")
    expect(page.locator("#deals-table caption")).to_contain_text(shown, timeout=WAIT)


def test_move_now_and_open_a_timeline(chromium: Any, studio: Studio) -> None:
    from playwright.sync_api import expect

    with loaded_page(chromium, studio) as page:
        # At the reference moment the table shows examples/EXPECTED.md's findings.
        set_now(page, "2026-11-20T09:05:00+03:00", "2026-11-20 09:05")
        row = page.locator("#deals-table tr[data-deal='A-100'] td.codes")
        assert row.inner_text() == "escalate, sla-breach, remind"
        assert page.locator("#deals-table tr[data-deal='A-105'] td.codes").inner_text() == "—"
        assert page.locator("#deals-page").inner_text() == "deals 1–6 of 6"
        page.check("#deals-with-findings")  # A-105, paid, has none
        expect(page.locator("#deals-page")).to_have_text("deals 1–5 of 5", timeout=WAIT)
        page.uncheck("#deals-with-findings")
        expect(page.locator("#deals-page")).to_have_text("deals 1–6 of 6", timeout=WAIT)
        # A week earlier A-100's meeting SLA has not yet breached.
        set_now(page, "2026-11-13T09:00:00+03:00", "2026-11-13 09:00")
        assert "sla-breach" not in row.inner_text()
        # A-100's timeline: three stage bars, the SLA's two warnings and deadline, its task and
        # meeting, and the escalation planned for the deadline with its recipient.
        page.click("#deals-table button[data-deal='A-100']")
        page.wait_for_selector("#timeline-svg")
        assert page.locator("#timeline-svg rect.stage-bar").count() == 3
        # The meeting SLA's deadline and the whole cycle's (a span lane).
        assert page.locator("#timeline-svg line.sla-deadline").count() == 2
        assert page.locator("#timeline-svg line.span").count() == 1
        assert page.locator("#timeline-svg line.sla-warning").count() == 2
        assert page.locator("#timeline-svg rect.task").count() == 1
        assert page.locator("#timeline-svg circle.event").count() == 1
        actions = page.locator("#timeline-actions").inner_text()
        assert "2026-11-17 12:00 escalate (meeting-stall) → anna by crm_task — planned" \
            in actions
        # five visits, three of them timed, and the cycle that ran over its 45 days.
        page.click("#deals-table button[data-deal='A-101']")
        expect(page.locator("#deals-timeline h3")).to_contain_text("A-101", timeout=WAIT)
        assert page.locator("#timeline-svg rect.stage-bar").count() == 5
        assert page.locator("#timeline-svg line.sla-deadline").count() == 4


def test_what_if_a_tightened_sla(chromium: Any, studio: Studio) -> None:
    from playwright.sync_api import expect

    with loaded_page(chromium, studio, refused=("422 (Unprocessable Entity)",)) as page:
        set_now(page, "2026-11-20T09:05:00+03:00", "2026-11-20 09:05")
        # The meeting SLA tightened from 7 to 2 days in the editor: the backtest adds breaches.
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
        expect(page.locator("#whatif-result .deals-problems")).to_contain_text("meting",
                                                                              timeout=WAIT)
