"""The semantic diff of two rulesets: golden outputs for the shipped rulesets against edited
copies (``tests/fixtures/diff/<name>.yaml``), and the rules of matching by meaning.

The ``.out`` files hold what ``pipeline-rules diff --lang en --format F rulesets/<name>.yaml
tests/fixtures/diff/<name>.yaml`` prints when run from the repository root. To rewrite them:
``PIPELINE_RULES_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_diff.py``, then read every
changed line and check it by hand.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from helpers import ROOT

from pipeline_rules.cli import main
from pipeline_rules.ruleset import diff as diff_module
from pipeline_rules.ruleset.catalog import compile_path, compile_source
from pipeline_rules.ruleset.diff import diff_rulesets
from pipeline_rules.ruleset.source import Source

FIXTURES = ROOT / "tests" / "fixtures" / "diff"
UPDATE = os.environ.get("PIPELINE_RULES_UPDATE_GOLDEN", "") not in ("", "0")
CASES = sorted(p.stem for p in FIXTURES.glob("*.yaml"))
SUFFIX = {"text": "txt", "json": "json", "markdown": "md"}


def _run(args: list[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(ROOT)
    return CliRunner().invoke(main, ["diff", "--lang", "en", *args])


def test_there_are_golden_cases() -> None:
    assert {"b2b_sales", "manufacturing", "retail"} <= set(CASES)


@pytest.mark.parametrize("fmt", list(SUFFIX))
@pytest.mark.parametrize("name", CASES)
def test_golden(name: str, fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    result = _run(["--format", fmt, f"rulesets/{name}.yaml", f"tests/fixtures/diff/{name}.yaml"],
                  monkeypatch)
    assert result.exit_code == 1, result.output  # they differ
    golden = FIXTURES / f"{name}.{SUFFIX[fmt]}.out"
    if UPDATE:
        golden.write_text(result.output, encoding="utf-8")
    assert result.output == golden.read_text(encoding="utf-8")


def test_same_ruleset_exits_0(monkeypatch: pytest.MonkeyPatch) -> None:
    result = _run(["rulesets/retail.yaml", "rulesets/retail.yaml"], monkeypatch)
    assert result.exit_code == 0
    assert "no semantic changes" in result.output


def test_unusable_ruleset_exits_2_with_its_errors(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nid: x\nstages: []\n", encoding="utf-8")
    result = _run(["rulesets/retail.yaml", str(bad)], monkeypatch)
    assert result.exit_code == 2
    assert f"{bad}:3:" in result.output
    missing = _run(["rulesets/retail.yaml", str(tmp_path / "none.yaml")], monkeypatch)
    assert missing.exit_code == 2 and "no such file" in missing.output


BASE = """\
version: 1
id: t
timezone: UTC
stages:
  - {id: a, title: A}
  - {id: b, title: B}
  - {id: won, title: Won, terminal: won}
  - {id: lost, title: Lost, terminal: lost}
start: [{id: s, stage: a}]
end: {won: won, lost: lost}
transitions:
  - {from: a, to: b}
  - {from: b, to: won}
  - {from: "*", to: lost}
sla:
  - {id: x, stage: a, limit: 7d}
"""


def _compiled(text: str, name: str = "t.yaml") -> Any:
    return compile_source(Source(name, text))


def test_order_quoting_and_how_a_move_is_written_change_nothing() -> None:
    moved = BASE.replace("  - {id: a, title: A}\n  - {id: b, title: B}\n",
                         "  - {id: b, title: 'B'}\n  - {id: a, title: \"A\"}\n")
    moved = moved.replace('  - {from: "*", to: lost}', "  - {from: [a, b], to: lost}")
    assert diff_rulesets(_compiled(BASE), _compiled(moved, "u.yaml")).changes == ()


def test_changes_carry_both_positions() -> None:
    new = BASE.replace("limit: 7d", "limit: 8d")
    (change,) = diff_rulesets(_compiled(BASE), _compiled(new, "u.yaml")).changes
    assert change.code == "sla-limit" and change.subject == "x"
    assert (change.old.at, change.old.value) == ("t.yaml:16:30", "7d")
    assert (change.new.at, change.new.value) == ("u.yaml:16:30", "8d")
    assert change.old.pointer == change.new.pointer == "/sla/0/limit"


def test_a_removed_stage_is_placed_in_the_new_file_at_its_section() -> None:
    new = BASE.replace("  - {id: b, title: B}\n", "").replace("  - {from: a, to: b}\n"
                                                              "  - {from: b, to: won}\n",
                                                              "  - {from: a, to: won}\n")
    changes = diff_rulesets(_compiled(BASE), _compiled(new, "u.yaml")).changes
    codes = [(c.code, c.subject) for c in changes]
    assert codes == [("stage-removed", "b"), ("move-removed", "a → b"),
                     ("move-removed", "b → won"), ("move-removed", "b → lost"),
                     ("move-added", "a → won")]
    stage = changes[0]
    assert stage.old.present and stage.old.pointer == "/stages/1"
    assert not stage.new.present and stage.new.pointer == "/stages" and stage.new.line == 4


def test_a_section_the_diff_does_not_know_shows_by_its_pointer(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A section added to the format later (``routing``) is compared generically."""
    from pipeline_rules.ruleset import loader

    old, new = _compiled(BASE), _compiled(BASE, "u.yaml")
    routing = {"t.yaml": [{"id": "big", "when": {"amount": {"gt": 1}}, "team": "key"}],
               "u.yaml": [{"id": "big", "when": {"amount": {"gt": 2}}, "team": "key"},
                          {"id": "small", "team": "inside"}]}

    def load(source: Source) -> Any:
        document = loader.load_document(source)
        return loader.Document(source, {**document.data, "routing": routing[source.name]},
                               document.positions)

    monkeypatch.setattr(diff_module, "load_document", load)
    changes = diff_rulesets(old, new).changes
    assert [(c.code, c.subject, c.field) for c in changes] == [
        ("routing-changed", "big", "when/amount/gt"), ("routing-added", "small", "")]
    assert changes[0].old.value == 1 and changes[0].new.value == 2
    assert changes[0].new.pointer == "/routing/0/when/amount/gt"


def test_json_output_is_the_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    result = _run(["--format", "json", "rulesets/retail.yaml",
                   "tests/fixtures/diff/retail.yaml"], monkeypatch)
    data = json.loads(result.output)
    assert data["old"] == {"file": "rulesets/retail.yaml", "ruleset": "retail-orders"}
    added = [c for c in data["changes"] if c["kind"] == "added"]
    assert added and all("value" not in c["old"] and "value" in c["new"] for c in added)


def test_russian_has_the_same_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, ["diff", "--lang", "ru", "rulesets/retail.yaml",
                                       "tests/fixtures/diff/retail.yaml"])
    assert result.exit_code == 1
    assert "этап 'packed': добавлено" in result.output and "было:" in result.output
    assert " added" not in result.output and "old:" not in result.output


def test_compile_path_reads_the_goldens() -> None:
    for name in CASES:
        assert compile_path(FIXTURES / f"{name}.yaml").id == compile_path(
            ROOT / "rulesets" / f"{name}.yaml").id


DEALS = {"manufacturing": ("tests/fixtures/diff/manufacturing.deals.jsonl",
                           "2026-11-20T09:05:00+01:00"),
         "b2b_sales": ("examples/deals.jsonl", "2026-11-20T09:05:00+03:00")}


@pytest.mark.parametrize("fmt", list(SUFFIX))
@pytest.mark.parametrize("name", sorted(DEALS))
def test_golden_with_deals(name: str, fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    deals, now = DEALS[name]
    result = _run(["--format", fmt, "--deals", deals, "--now", now, f"rulesets/{name}.yaml",
                   f"tests/fixtures/diff/{name}.yaml"], monkeypatch)
    assert result.exit_code == 1, result.output
    golden = FIXTURES / f"{name}.deals.{SUFFIX[fmt]}.out"
    if UPDATE:
        golden.write_text(result.output, encoding="utf-8")
    assert result.output == golden.read_text(encoding="utf-8")


def test_a_deal_in_a_removed_stage_is_an_error_of_the_new_ruleset(
        monkeypatch: pytest.MonkeyPatch) -> None:
    deals, now = DEALS["manufacturing"]
    result = _run(["--format", "json", "--deals", deals, "--now", now,
                   "rulesets/manufacturing.yaml", "tests/fixtures/diff/manufacturing.yaml"],
                  monkeypatch)
    data = json.loads(result.output)["deals"]
    (error,) = data["errors"]
    assert error["rule"] == "removed-stage-in-use" and error["severity"] == "error"
    assert (error["file"], error["line"], error["path"]) == (
        "tests/fixtures/diff/manufacturing.yaml", 19, "/stages")
    assert "'M-1'" in error["message"] and "manufacturing.deals.jsonl:1" in error["message"]
    moved = [c for c in data["changes"] if c["change"] == "moves"]
    assert {(c["deal"], c["code"]) for c in moved} == {("M-2", "sla-breach"),
                                                       ("M-2", "escalate")}
    assert all(c["old"]["at"] != c["new"]["at"] for c in moved)


def test_deals_judged_alike_exit_0(monkeypatch: pytest.MonkeyPatch) -> None:
    result = _run(["--deals", "examples/deals.jsonl", "--now", "2026-11-20T09:05:00+03:00",
                   "rulesets/b2b_sales.yaml", "rulesets/b2b_sales.yaml"], monkeypatch)
    assert result.exit_code == 0, result.output
    assert "6 records, 6 deals, 0 judged differently" in result.output


def test_now_without_deals_and_a_bad_now_are_usage_errors(
        monkeypatch: pytest.MonkeyPatch) -> None:
    alone = _run(["--now", "2026-11-20", "rulesets/retail.yaml", "rulesets/retail.yaml"],
                 monkeypatch)
    assert alone.exit_code == 2 and "--now needs --deals" in alone.output
    bad = _run(["--deals", "examples/deals.jsonl", "--now", "tomorrow", "rulesets/retail.yaml",
                "rulesets/retail.yaml"], monkeypatch)
    assert bad.exit_code == 2 and "--now" in bad.output


def test_two_versions_of_a_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    result = _run(["examples/versions/b2b_sales@1", "@2"], monkeypatch)
    assert result.exit_code == 1
    assert "sla-limit: SLA 'meeting-stall': limit 7d → 8d" in result.output
    assert "effective-changed: /effective: 2026-11-01T00:00:00+03:00 → " in result.output
    folder = _run(["examples/versions/b2b_sales", "@2"], monkeypatch)
    assert folder.exit_code == 2 and "name one version" in folder.output
