"""The studio in real headless Chromium against a real ``pipeline-rules studio`` process: a typo
marked on its line with the did-you-mean applied in one click, a parallel branch flagged on both
stages and in the diagram, saving (comments kept, a file changed on disk refused), keyboard
navigation, and the screenshot the README shows. Every test also checks that the page logged no
error and asked nothing of any server but the studio."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.studio_browser import (
    MARKED,
    REFUSED,
    ROOT,
    Seen,
    Studio,
    checked,
    editor_text,
    launched_chromium,
    open_studio,
    put_cursor,
    running_studio,
    wait_checked_after,
)

REFERENCE = ROOT / "rulesets" / "b2b_sales.yaml"
SCREENSHOT = ROOT / "docs" / "studio.png"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    yield from launched_chromium()


@pytest.fixture
def studio(tmp_path: Path) -> Iterator[Studio]:
    folder = tmp_path / "rulesets"
    folder.mkdir()
    shutil.copy(REFERENCE, folder / "b2b_sales.yaml")
    shutil.copy(ROOT / "rulesets" / "retail.yaml", folder / "retail.yaml")
    with running_studio(folder) as found:
        yield found




def assert_quiet(seen: Seen, studio: Studio, refused: tuple[str, ...] = ()) -> None:
    """No console message, page error, dialog or request elsewhere; ``refused``: the statuses
    of the refusals the test provoked, each of which Chromium logs once."""
    expected = [REFUSED.format(status) for status in refused]
    assert seen.console == expected
    assert seen.errors == []
    assert seen.dialogs == []
    assert seen.outside(studio.url.split("#")[0]) == []
    assert any(u.endswith("/static/studio.js") for u in seen.requests)


def test_a_typo_in_a_key_is_marked_on_its_line_and_fixed_in_one_click(
        chromium: Any, studio: Studio) -> None:
    page, seen = open_studio(chromium, studio)
    assert page.locator("#summary").inner_text() == "no problems"
    before = checked(page)
    put_cursor(page, "    stage: meeting", 4)
    for _ in range(5):
        page.keyboard.press("Delete")
    page.keyboard.type("stgae", delay=20)
    page.keyboard.press("Escape")  # close the completion list the typing opened
    wait_checked_after(page, before)
    page.wait_for_function(f"() => ({MARKED})().some(m => m.text === 'stgae')")
    marked = page.evaluate(MARKED)
    assert {"text": "stgae", "line": "    stgae: meeting"} in marked
    page.locator("#editor .cm-lintRange-error", has_text="stgae").hover()
    tooltip = page.locator("#editor .cm-tooltip-lint")
    tooltip.wait_for()
    assert "unknown key 'stgae' (did you mean 'stage'?)" in tooltip.inner_text()
    assert "schema" in tooltip.inner_text()  # the rule's page
    page.locator("#editor .cm-tooltip-lint button", has_text="Change to 'stage'").click()
    page.wait_for_function("() => document.querySelector('#summary').textContent === 'no problems'")
    assert "    stage: meeting\n" in editor_text(page)
    assert editor_text(page) == REFERENCE.read_text("utf-8")
    assert page.evaluate(MARKED) == []
    assert_quiet(seen, studio)
    page.context.close()


PARALLEL_STAGE = "  - id: tech_review\n    title: Technical review\n"
PARALLEL_MOVES = ("  - {from: qualification, to: tech_review}\n"
                  "  - {from: tech_review, to: proposal}\n")


def test_a_parallel_branch_is_flagged_on_both_stages_and_in_the_diagram(
        chromium: Any, studio: Studio) -> None:
    page, seen = open_studio(chromium, studio)
    before = checked(page)
    put_cursor(page, "  - id: proposal\n")
    page.keyboard.insert_text(PARALLEL_STAGE)
    put_cursor(page, "  - {from: meeting, to: proposal}\n")
    page.keyboard.insert_text(PARALLEL_MOVES)
    wait_checked_after(page, before)
    page.wait_for_selector("#diagram g.stage.flagged[data-stage=tech_review]")
    marked = page.evaluate(MARKED)
    assert {m["line"] for m in marked} == {"  - id: meeting", "  - id: tech_review"}
    flagged = page.eval_on_selector_all(
        "#diagram g.stage.flagged", "gs => gs.map(g => [g.dataset.stage, g.textContent])")
    assert sorted(stage for stage, _ in flagged) == ["meeting", "tech_review"]
    assert all("parallel-stages" in text for _, text in flagged)
    assert page.locator("#problems").inner_text().count("[parallel-stages]") == 2
    # The new stage is drawn beside 'meeting', one step below 'qualification'.
    top = {s: float(page.locator(f"#diagram g.stage[data-stage={s}] rect").get_attribute("y"))
           for s in ("qualification", "meeting", "tech_review")}
    assert top["meeting"] == top["tech_review"] > top["qualification"]
    assert_quiet(seen, studio)
    page.context.close()


def test_clicking_a_stage_shows_its_rules_and_selects_its_lines(chromium: Any,
                                                                studio: Studio) -> None:
    page, seen = open_studio(chromium, studio)
    page.locator("#diagram g.stage[data-stage=meeting]").click()
    details = page.locator("#stage-details")
    details.wait_for()
    text = details.inner_text()
    assert "meeting-stall: limit 7d, warn at 50%, 80%" in text
    assert "gap between tasks at most 7d" in text
    selected = page.evaluate("""() => { const s = window.studio.view.state;
        const r = s.selection.main; return s.doc.sliceString(r.from, r.to); }""")
    assert selected.splitlines()[0].strip() == "- id: meeting"
    page.locator("#stage-details button.line-link").first.click()
    line = page.evaluate("""() => { const s = window.studio.view.state;
        return s.doc.lineAt(s.selection.main.head).text; }""")
    assert line.strip() == "- id: meeting-stall"
    assert_quiet(seen, studio)
    page.context.close()


def test_saving_writes_the_text_with_its_comments_and_refuses_a_file_changed_on_disk(
        chromium: Any, studio: Studio) -> None:
    page, seen = open_studio(chromium, studio)
    put_cursor(page, "    limit: 7d\n", len("    limit: 7d"))
    page.keyboard.insert_text("  # tightened by ops")
    page.locator("#save").click()
    page.wait_for_function("() => document.querySelector('#message').textContent.includes('saved')")
    on_disk = (studio.directory / "b2b_sales.yaml").read_text("utf-8")
    assert on_disk == editor_text(page)
    assert "    limit: 7d  # tightened by ops\n" in on_disk
    assert on_disk.startswith("# yaml-language-server: $schema=../schemas/ruleset.schema.json\n"
                              "# Reference regulation")
    # Someone else edits the file: the studio says so and writes nothing.
    theirs = on_disk + "# edited elsewhere\n"
    (studio.directory / "b2b_sales.yaml").write_text(theirs, "utf-8")
    put_cursor(page, "    limit: 7d")
    page.keyboard.insert_text("#")
    page.keyboard.press("Control+s")
    message = page.locator("#message")
    page.wait_for_function(
        "() => document.querySelector('#message').textContent.includes('changed on disk')")
    assert "nothing was written" in message.inner_text()
    assert (studio.directory / "b2b_sales.yaml").read_text("utf-8") == theirs
    page.locator("#reload").click()
    page.wait_for_function(
        "() => window.studio.view.state.doc.toString().endsWith('# edited elsewhere\\n')")
    assert editor_text(page) == theirs
    assert_quiet(seen, studio, refused=("409 (Conflict)",))
    page.context.close()


def test_save_with_errors_asks_first_and_save_anyway_writes(chromium: Any,
                                                           studio: Studio) -> None:
    page, seen = open_studio(chromium, studio)
    before = checked(page)
    put_cursor(page, "    stage: meeting", 4)
    page.keyboard.insert_text("x")
    wait_checked_after(page, before)
    original = (studio.directory / "b2b_sales.yaml").read_text("utf-8")
    page.locator("#save").click()
    page.locator("#save-anyway").wait_for()
    message = page.locator("#message").inner_text()
    assert "has 2 errors found by lint; nothing was written" in message
    assert (studio.directory / "b2b_sales.yaml").read_text("utf-8") == original
    page.locator("#save-anyway").click()
    page.wait_for_function("() => document.querySelector('#message').textContent.includes('saved')")
    assert "    xstage: meeting\n" in (studio.directory / "b2b_sales.yaml").read_text("utf-8")
    assert_quiet(seen, studio, refused=("422 (Unprocessable Entity)",))
    page.context.close()


def test_yaml_that_does_not_parse_is_a_message_on_the_page_not_a_blank(
        chromium: Any, studio: Studio) -> None:
    page, seen = open_studio(chromium, studio)
    before = checked(page)
    put_cursor(page, "stages:\n")
    page.keyboard.insert_text("oops: [\n")
    wait_checked_after(page, before)
    page.wait_for_selector("#diagram .diagram-message")
    assert page.locator("#diagram .diagram-message").inner_text().startswith("nothing to draw")
    assert "yaml-syntax" in page.locator("#problems").inner_text()
    assert page.locator("#summary").inner_text() == "1 error"
    assert_quiet(seen, studio)
    page.context.close()


def test_the_main_controls_work_from_the_keyboard(chromium: Any, studio: Studio) -> None:
    page, seen = open_studio(chromium, studio)
    page.locator("#file").focus()
    page.keyboard.press("ArrowDown")  # the next file: retail.yaml
    page.wait_for_function("() => window.studio.state.file === 'retail.yaml'")
    page.wait_for_function(
        "() => window.studio.view.state.doc.toString().includes('id: retail')")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "save"
    # Tab on through the editor to the diagram's stages; Enter opens one.
    reached = None
    for _ in range(12):
        if page.evaluate("document.activeElement.id") == "editor":
            page.keyboard.press("Escape")  # then Tab leaves the editor, whose Tab indents
        page.keyboard.press("Tab")
        reached = page.evaluate("""() => { const a = document.activeElement;
            return a && a.dataset ? a.dataset.stage || a.id || a.tagName : null; }""")
        if page.evaluate("document.activeElement.matches('g.stage')"):
            break
    assert page.evaluate("document.activeElement.matches('g.stage')"), reached
    page.keyboard.press("Enter")
    page.locator("#stage-details").wait_for()
    assert page.locator("#stage-details h2").inner_text().endswith(f"({reached})")
    # The editor's Tab indents (it does not trap: Escape then Tab leaves it).
    page.locator("#editor .cm-content").focus()
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    assert not page.evaluate("document.activeElement.matches('#editor')")
    assert_quiet(seen, studio)
    page.context.close()


def test_the_readme_screenshot_is_taken_here(chromium: Any, tmp_path: Path) -> None:
    """Writes docs/studio.png when it is missing (delete it to take it anew); either way the
    page it shows is drawn by this test: the editor, the diagram with a stage picked, no
    problems."""
    folder = tmp_path / "rulesets"
    folder.mkdir()
    shutil.copy(REFERENCE, folder / "b2b_sales.yaml")
    with running_studio(folder, cwd=tmp_path) as studio:
        screenshot(chromium, studio)


def screenshot(chromium: Any, studio: Studio) -> None:
    page, seen = open_studio(chromium, studio, viewport=(1400, 860))
    page.locator("#diagram g.stage[data-stage=proposal]").click()
    page.locator("#stage-details").wait_for()
    page.evaluate("window.studio.view.scrollDOM.scrollTop = 0")
    page.wait_for_timeout(200)
    shot = page.screenshot()
    assert shot[:8] == b"\x89PNG\r\n\x1a\n"
    if not SCREENSHOT.exists():
        SCREENSHOT.write_bytes(shot)
    committed = SCREENSHOT.read_bytes()
    assert committed[:8] == b"\x89PNG\r\n\x1a\n"
    assert committed[16:24] == shot[16:24], "docs/studio.png is not this test's size: delete it"
    assert "docs/studio.png" in (ROOT / "README.md").read_text("utf-8")
    assert_quiet(seen, studio)
    page.context.close()


def test_completion_and_hover_come_from_the_ruleset_schema(chromium: Any,
                                                           studio: Studio) -> None:
    page, seen = open_studio(chromium, studio)
    put_cursor(page, "    terminal: won\n", len("    terminal: won\n"))
    page.keyboard.type("    ter", delay=30)
    options = page.locator("#editor .cm-tooltip-autocomplete li")
    options.first.wait_for()
    assert options.all_inner_texts()[0] == "terminal"
    page.keyboard.press("Escape")
    page.keyboard.press("Control+z")
    put_cursor(page, "    terminal: won", len("    terminal: "))
    page.keyboard.press("Control+Space")
    options.first.wait_for()
    assert sorted(options.all_inner_texts()) == ["lost", "won"]
    page.keyboard.press("Escape")
    line = page.locator("#editor .cm-line", has_text="timezone: Europe/Moscow").bounding_box()
    page.mouse.move(line["x"] + 20, line["y"] + 5)
    hover = page.locator("#editor .cm-tooltip-hover")
    hover.wait_for()
    assert hover.inner_text().startswith("timezone\n")
    assert "IANA" in hover.inner_text()
    assert_quiet(seen, studio)
    page.context.close()


def test_a_huge_paste_is_a_message_on_the_page(chromium: Any, studio: Studio) -> None:
    page, seen = open_studio(chromium, studio)
    put_cursor(page, "stages:\n")
    page.keyboard.insert_text("# " + "x" * 1_100_000 + "\n")
    page.wait_for_function(
        "() => document.querySelector('#message').textContent.includes('at most')")
    assert "1,048,576 bytes per ruleset" in page.locator("#message").inner_text()
    assert_quiet(seen, studio, refused=("413 (Request Entity Too Large)",))
    page.context.close()


def test_with_a_token_the_page_sends_the_one_in_its_address(chromium: Any,
                                                             tmp_path: Path) -> None:
    folder = tmp_path / "rulesets"
    folder.mkdir()
    shutil.copy(REFERENCE, folder / "b2b_sales.yaml")
    token = tmp_path / "token.txt"
    token.write_text("a-long-random-token\n", "utf-8")
    with running_studio(folder, "--token-file", str(token)) as studio:
        assert studio.url.endswith("/#token=a-long-random-token")
        page, seen = open_studio(chromium, studio)
        assert page.locator("#summary").inner_text() == "no problems"
        assert "whole-cycle (start → end): 45d" in page.locator("#diagram .spans").inner_text()
        assert all("token" not in url for url in seen.requests)
        assert_quiet(seen, studio)
        page.context.close()


def test_a_draft_with_errors_is_still_drawn_its_broken_parts_marked(chromium: Any,
                                                                   studio: Studio) -> None:
    page, seen = open_studio(chromium, studio)
    before = checked(page)
    put_cursor(page, "{from: meeting, to: proposal}", len("{from: meeting, to: propos"))
    page.keyboard.insert_text("s")
    wait_checked_after(page, before)
    page.wait_for_selector("#diagram g.stage.broken[data-stage=propossal]")
    broken = page.eval_on_selector_all("#diagram path.move.broken",
                                       "ps => ps.map(p => [p.dataset.from, p.dataset.to])")
    assert broken == [["meeting", "propossal"]]
    assert page.locator("#diagram g.stage").count() == 9
    assert "Change to 'proposal'" in page.locator("#problems").inner_text()
    page.locator("#problems button.fix").first.click()
    page.wait_for_function(
        "() => document.querySelector('#summary').textContent === 'no problems'")
    assert editor_text(page) == REFERENCE.read_text("utf-8")
    assert_quiet(seen, studio)
    page.context.close()


def test_save_as_a_new_version_from_the_page(chromium: Any, tmp_path: Path) -> None:
    from pipeline_rules.studio.editor import versioned

    folder = tmp_path / "rulesets"
    (folder / "b2b").mkdir(parents=True)
    first = versioned(REFERENCE.read_text("utf-8"), 1, "2026-11-01T00:00:00+03:00")
    (folder / "b2b" / "v1.yaml").write_text(first, "utf-8")
    with running_studio(folder) as studio:
        page, seen = open_studio(chromium, studio)
        assert page.locator("#version-controls").is_visible()
        put_cursor(page, "    limit: 7d", len("    limit: "))
        page.keyboard.press("Delete")
        page.keyboard.insert_text("5")
        page.locator("#effective").fill("2026-12-01T00:00:00+03:00")
        page.locator("#save-version").click()
        page.wait_for_function(
            "() => document.querySelector('#message').textContent.includes('b2b/v2.yaml')")
        written = (folder / "b2b" / "v2.yaml").read_text("utf-8")
        assert "revision: 2\neffective: 2026-12-01T00:00:00+03:00\n" in written
        assert "    limit: 5d\n" in written
        assert (folder / "b2b" / "v1.yaml").read_text("utf-8") == first
        assert page.locator("#file option").all_inner_texts() == ["b2b/v1.yaml", "b2b/v2.yaml"]
        assert_quiet(seen, studio)
        page.context.close()
