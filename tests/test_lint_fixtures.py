"""Golden-file tests for the lint rules, in the style of actionlint's ``testdata``.

Every ``tests/fixtures/lint/<folder>/<case>.yaml`` is linted and the text output is compared with
``<case>.out`` beside it. A ``.out`` file holds exactly what

    pipeline-rules lint --no-source --color never --lang en <case>.yaml

prints on stdout when run inside the fixture's folder (so paths are relative to it), e.g.
``bad-fork.yaml:7:10: error [parallel-stages] stages 'tech_review' and ...``; an empty ``.out``
means a clean file.

Folders are named after the rule they test, and each holds ``bad-*`` cases that must produce that
rule's diagnostic and ``good-*`` cases (the corrected versions) that must not. A rule over the
files of a versions folder together (the ``versions-*`` rules) has folder cases: a directory
``<case>/`` of ruleset files, linted as ``pipeline-rules lint ... <case>`` is, beside
``<case>.out``. ``_config`` holds
suppression comments (``# pipeline-rules: disable=...``) and ``lint: {rules: ...}`` overrides.

To rewrite the ``.out`` files from the engine's current output, set an environment variable:

    PIPELINE_RULES_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_lint_fixtures.py

then read every changed line (``git diff tests/fixtures/lint``) and check it by hand: a golden file
must hold the *right* diagnostics. Some ``.out`` files were corrected by hand where the engine is
wrong; an update run overwrites those corrections, so restore them from the diff.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline_rules.cli import main
from pipeline_rules.lint import all_rules, lint_file
from pipeline_rules.outputs.lint import LintReport, text

FIXTURES = Path(__file__).parent / "fixtures" / "lint"
UPDATE = os.environ.get("PIPELINE_RULES_UPDATE_GOLDEN", "") not in ("", "0")
CONFIG_FOLDER = "_config"
LINE = re.compile(r"(?P<file>[^:]+):(?P<line>\d+):(?P<column>\d+): (?P<severity>error|warning|info)"
                  r" \[(?P<rule>[a-z0-9-]+)\] (?P<message>.+)")

CASES = sorted(FIXTURES.glob("*/*.yaml"))
#: Cases that are a versions folder: a directory of ruleset files.
FOLDER_CASES = sorted(p for p in FIXTURES.glob("*/*") if p.is_dir())


def _case_id(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def _run(case: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The text output for one fixture, with the path written relative to its folder."""
    monkeypatch.chdir(case.parent)
    diagnostics = lint_file(case.name, lang="en")
    return text(LintReport(diagnostics, [case.name]), color=False, show_source=False)


def _run_folder(case: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The text output for one folder case: its files each linted, and the folder's rules."""
    monkeypatch.chdir(case.parent)
    result = CliRunner().invoke(main, ["lint", "--no-source", "--color", "never", "--lang", "en",
                                       case.name])
    assert result.exit_code in (0, 1), result.output
    return result.stdout


def _expected(case: Path) -> Path:
    return case.with_suffix(".out")


def _matches_golden(case: Path, got: str) -> None:
    """``got`` equals the case's ``.out`` file (written instead when updating goldens)."""
    out = _expected(case)
    if UPDATE:
        out.write_text(got, encoding="utf-8", newline="\n")
        return
    assert out.exists(), f"{out.name} is missing; run with PIPELINE_RULES_UPDATE_GOLDEN=1"
    assert got == out.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_golden(case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _matches_golden(case, _run(case, monkeypatch))


@pytest.mark.parametrize("case", FOLDER_CASES, ids=_case_id)
def test_golden_folder(case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _matches_golden(case, _run_folder(case, monkeypatch))


def _outs(folder: Path, prefix: str) -> list[tuple[Path, str]]:
    cases = [*folder.glob(f"{prefix}-*.yaml"), *(p for p in folder.glob(f"{prefix}-*")
                                                 if p.is_dir())]
    return [(_expected(case), _expected(case).read_text(encoding="utf-8"))
            for case in sorted(cases) if _expected(case).exists()]


@pytest.mark.parametrize("rule", sorted(all_rules()))
def test_every_rule_has_bad_and_good_fixtures(rule: str) -> None:
    folder = FIXTURES / rule
    assert folder.is_dir(), f"no fixture folder tests/fixtures/lint/{rule}/"
    tag = f"[{rule}]"
    assert any(tag in content for _, content in _outs(folder, "bad")), \
        f"no bad-*.yaml in {rule}/ whose .out reports {tag}"
    assert any(tag not in content for _, content in _outs(folder, "good")), \
        f"no good-*.yaml in {rule}/ whose .out is free of {tag}"


def test_fixture_folders_are_rules() -> None:
    known = set(all_rules()) | {CONFIG_FOLDER}
    folders = {p.name for p in FIXTURES.iterdir() if p.is_dir()}
    assert folders - known == set()


def test_fixture_files_come_in_pairs() -> None:
    unpaired = sorted(_case_id(p) for p in FIXTURES.glob("*/*")
                      if ((p.suffix == ".yaml" or p.is_dir())
                          and not p.with_suffix(".out").exists())
                      or (p.suffix == ".out" and not p.with_suffix(".yaml").exists()
                          and not p.with_suffix("").is_dir()))
    assert unpaired == []


@pytest.mark.parametrize("case", [c for c in (*CASES, *FOLDER_CASES) if _expected(c).exists()],
                         ids=_case_id)
def test_out_lines_name_registered_rules(case: Path) -> None:
    # A case without its .out fails test_golden and the pairing test; here it has no lines.
    out = _expected(case)
    known = all_rules()
    for line in out.read_text(encoding="utf-8").splitlines():
        found = LINE.fullmatch(line)
        assert found is not None, f"not a diagnostic line: {line!r}"
        if case.is_dir():  # a folder case names the file of the folder it is about
            assert (case / found["file"].removeprefix(case.name + "/")).is_file(), line
            assert found["file"].startswith(case.name + "/"), line
        else:
            assert found["file"] == case.name, line
        assert found["rule"] in known, f"unknown rule in {line!r}"
