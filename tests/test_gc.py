"""The library leaves Python's garbage collector alone; only the lint command pauses it.

The collector is a process-wide switch: a library call that flipped it would change the caller's
program behind its back, every thread of the server's pool included.
"""

from __future__ import annotations

import gc
import importlib
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pipeline_rules.cli import main
from pipeline_rules.lint import lint, lint_file
from pipeline_rules.ruleset.catalog import load_ruleset, load_ruleset_source
from pipeline_rules.ruleset.compiled import compile_ruleset
from pipeline_rules.ruleset.loader import ReadError
from pipeline_rules.ruleset.source import Source

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "rulesets" / "b2b_sales.yaml"


SWITCHES = {gc.disable, gc.enable, gc.freeze, gc.unfreeze}


def gc_switches(action: Callable[[], object]) -> list[str]:
    """The collector's switches ``action`` flips in this thread, by name, in order."""
    flipped: list[str] = []

    def profile(frame: object, event: str, arg: Any) -> None:
        if event == "c_call" and arg in SWITCHES:
            flipped.append(arg.__name__)

    sys.setprofile(profile)
    try:
        action()
    finally:
        sys.setprofile(None)
    return flipped


def library_calls() -> None:
    """Loading, compiling and linting a ruleset through the public API."""
    source = Source("b2b_sales.yaml", REFERENCE.read_text(encoding="utf-8"))
    assert lint_file(str(REFERENCE)) == []
    assert list(lint(source)) == []
    compile_ruleset(load_ruleset(REFERENCE))
    load_ruleset_source(source)


@pytest.fixture(autouse=True)
def _collector_on() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.enable()
    yield
    if not was_enabled:
        gc.disable()


def test_the_watch_sees_a_switch() -> None:
    def pause() -> None:
        gc.disable()
        gc.enable()

    assert gc_switches(pause) == ["disable", "enable"]


def test_linting_through_the_library_never_touches_the_collector() -> None:
    assert gc_switches(library_calls) == []
    assert gc.isenabled()


def test_linting_in_threads_never_touches_the_collector() -> None:
    """As in the server's pool: several threads lint at once; none flips the switch, and the
    collector stays on for every thread throughout."""

    def job() -> tuple[list[str], bool]:
        return gc_switches(library_calls), gc.isenabled()

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = [future.result() for future in [pool.submit(job) for _ in range(4)]]
    assert results == [([], True)] * 4
    assert gc.isenabled()


def test_a_caller_that_paused_the_collector_keeps_it_paused() -> None:
    gc.disable()
    library_calls()
    assert not gc.isenabled()


def test_the_lint_command_pauses_the_collector_and_restores_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A short single-threaded process: the command pauses the collector while it lints, and
    switches it back on however the run ends (here, a file that fails to read half-way)."""
    during: list[bool] = []

    def watched(path: str, *args: Any, **kwargs: Any) -> Any:
        during.append(gc.isenabled())
        if path.endswith("cold_only.yaml"):
            raise ReadError(f"{path}: vanished")
        return lint_file(path, *args, **kwargs)

    # the package module itself: ``pipeline_rules.lint`` may name the function of that name
    monkeypatch.setattr(importlib.import_module("pipeline_rules.lint"), "lint_file", watched)
    result = CliRunner().invoke(main, ["lint", str(REFERENCE)])
    assert result.exit_code == 0, result.output
    assert during == [False]
    assert gc.isenabled()
    result = CliRunner().invoke(main, ["lint", str(REFERENCE),
                                       str(ROOT / "rulesets" / "cold_only.yaml")])
    assert result.exit_code == 2, result.output
    assert "vanished" in result.stderr
    assert during == [False, False, False]
    assert gc.isenabled()
