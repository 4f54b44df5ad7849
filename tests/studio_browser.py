"""Driving a real ``pipeline-rules studio`` process with headless Chromium (Playwright): the
process, the browser, and a page that records console noise and every request. Used by the
studio's browser tests and its benchmark."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@dataclass
class Studio:
    """A running studio: its address and the directory it edits."""

    url: str
    directory: Path
    process: subprocess.Popen[str]


@contextmanager
def running_studio(directory: Path, *args: str, cwd: Path | None = None) -> Iterator[Studio]:
    """``pipeline-rules studio DIRECTORY --port 0 --no-browser`` until the block ends (run
    in ``cwd``, the directory given relative to it)."""
    given = directory.relative_to(cwd) if cwd is not None else directory
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline_rules", "studio", str(given), "--port", "0",
         "--no-browser", *args],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=cwd)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = re.search(r"http://\S+", line)
        assert found, f"the studio did not say where it listens: {line!r}"
        yield Studio(found.group(0), directory, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def chromium_path() -> str | None:
    """The Chromium binary (a Debian package that .ci/run installs), or None."""
    return shutil.which("chromium")


@contextmanager
def browser() -> Iterator[Any]:
    """Headless Chromium, launched by Playwright from the system's binary."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def launched_chromium() -> Iterator[Any]:
    """Headless Chromium for a test module's fixture, or the module skipped with the reason."""
    import pytest

    if chromium_path() is None:
        pytest.skip("needs the chromium binary, a Debian package (not on PyPI) that .ci/run "
                    "installs with apt when the mirror is reachable")
    with browser() as launched:
        yield launched


#: How Chromium logs a response it was given with a 4xx status.
REFUSED = "error: Failed to load resource: the server responded with a status of {}"


@dataclass
class Seen:
    """What a page did besides drawing: console errors and warnings, page errors, dialogs and
    every request's URL."""

    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def outside(self, base: str) -> list[str]:
        """Requests to anywhere but the studio (``data:`` URLs are the page's own)."""
        return [u for u in self.requests if not u.startswith(base) and not u.startswith("data:")]


def open_studio(launched: Any, studio: Studio, viewport: tuple[int, int] = (1400, 900),
                query: str = "") -> tuple[Any, Seen]:
    """Open the studio's page and wait until its first check has drawn the diagram."""
    seen = Seen()
    context = launched.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    context.on("request", lambda r: seen.requests.append(r.url))
    page = context.new_page()
    page.on("console", lambda m: seen.console.append(f"{m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: seen.errors.append(str(e)))
    page.on("dialog", lambda d: (seen.dialogs.append(d.message), d.dismiss()))
    page.goto(studio.url.split("#")[0] + query + ("#" + studio.url.split("#")[1]
                                                  if "#" in studio.url else ""))
    page.wait_for_function("() => document.body.dataset.checked !== undefined", timeout=20_000)
    return page, seen


def editor_text(page: Any) -> str:
    """The text in the editor."""
    text: str = page.evaluate("window.studio.view.state.doc.toString()")
    return text


def put_cursor(page: Any, needle: str, offset: int = 0) -> None:
    """Put the editor's cursor ``offset`` characters into the first ``needle``, and focus it."""
    page.evaluate("""([needle, offset]) => {
        const view = window.studio.view;
        const at = view.state.doc.toString().indexOf(needle);
        if (at < 0) throw new Error('not in the editor: ' + needle);
        view.dispatch({selection: {anchor: at + offset}, scrollIntoView: true});
        view.focus();
    }""", [needle, offset])


def checked(page: Any) -> int:
    """How many checks the page has had answered."""
    return int(page.evaluate("Number(document.body.dataset.checked || 0)"))


def wait_checked_after(page: Any, count: int, timeout: float = 20_000) -> None:
    """Wait until a check after the ``count``-th one has been answered and shown."""
    page.wait_for_function(f"() => Number(document.body.dataset.checked || 0) > {count}",
                           timeout=timeout)


MARKED = """() => Array.from(document.querySelector('#editor').shadowRoot
    .querySelectorAll('.cm-lintRange-error')).map(r => ({
        text: r.textContent, line: r.closest('.cm-line') ? r.closest('.cm-line').textContent : ''}))
"""
