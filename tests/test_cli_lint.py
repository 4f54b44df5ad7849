"""`pipeline-rules lint`, `rules` and `schema` as users run them: exit codes, formats, input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner
from helpers import SHARED

from pipeline_rules.cli import main
from pipeline_rules.lint import all_rules

ROOT = Path(__file__).resolve().parent.parent
RULESETS = ROOT / "rulesets"
SARIF_SCHEMA = SHARED / "data" / "sarif" / "sarif-schema-2.1.0.json"

GAP = """\
version: 1
id: gap
stages:
  - {id: request}
  - {id: proposal}
  - {id: postponed, title: "Отложено"}
  - {id: paid, terminal: won}
  - {id: lost, terminal: lost}
start: [{stage: request}]
transitions:
  - {from: request, to: proposal}
  - {from: proposal, to: paid}
  - {from: proposal, to: postponed}
  - {from: postponed, to: proposal}
  - {from: "*", to: lost}
sla:
  - {id: a, stage: proposal, limit: 5d, warn: [80, 50]}
"""


def run(*args: str, stdin: str | bytes | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture()
def gap_file(tmp_path: Path) -> Path:
    path = tmp_path / "gap.yaml"
    path.write_text(GAP, encoding="utf-8")
    return path


def test_clean_rulesets_exit_0() -> None:
    code, out, err = run("lint", str(RULESETS))
    assert code == 0
    assert out == ""
    assert "no problems" in err


def test_errors_exit_1_with_position_source_and_caret(gap_file: Path) -> None:
    code, out, _ = run("lint", str(gap_file))
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == (f"{gap_file}:6:10: error [gap-stage] stage 'postponed' looks like a limbo "
                        "stage ('postponed'); keep the deal in its real stage and record a pause "
                        "with a reason instead")
    assert lines[1] == ' 6 |   - {id: postponed, title: "Отложено"}'
    assert lines[2] == "   |          ^"
    assert f"{gap_file}:17:52: warning [inconsistent-sla]" in out


def test_warnings_alone_pass_unless_strict(tmp_path: Path) -> None:
    path = tmp_path / "warn.yaml"
    path.write_text((RULESETS / "b2b_sales.yaml").read_text(encoding="utf-8")
                    .replace("warn: [50, 80]", "warn: [80, 50]"), encoding="utf-8")
    assert run("lint", str(path))[0] == 0
    assert run("lint", "--strict", str(path))[0] == 1


def test_stdin_is_linted_under_its_own_name() -> None:
    code, out, _ = run("lint", "-", stdin=GAP)
    assert code == 1
    assert out.startswith("<stdin>:6:10: error [gap-stage]")


def test_missing_path_and_empty_directory_are_usage_errors(tmp_path: Path) -> None:
    code, _, err = run("lint", str(tmp_path / "nope.yaml"))
    assert code == 2
    assert "no such file" in err
    code, _, err = run("lint", str(tmp_path))
    assert code == 2
    assert "holds no .yaml or .yml file" in err


def test_several_files_and_directories_in_one_call(gap_file: Path) -> None:
    code, out, _ = run("lint", "--format", "json", str(RULESETS), str(gap_file))
    assert code == 1
    payload = json.loads(out)
    assert payload["summary"]["files"] == len(list(RULESETS.glob("*.yaml"))) + 1
    assert {d["file"] for d in payload["diagnostics"]} == {str(gap_file)}
    first = payload["diagnostics"][0]
    assert set(first) == {"rule", "severity", "message", "file", "line", "column", "path"}
    assert first["path"] == "/stages/2/id"


def test_russian_messages(gap_file: Path) -> None:
    code, out, _ = run("lint", "--lang", "ru", "--no-source", str(gap_file))
    assert code == 1
    assert "этап 'postponed' похож на «подвешенный»" in out


def test_language_from_locale(gap_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LC_ALL", "ru_RU.UTF-8")
    _, out, _ = run("lint", "--no-source", str(gap_file))
    assert "похож на «подвешенный»" in out


def test_config_file_changes_severity_and_vocabulary(tmp_path: Path, gap_file: Path) -> None:
    config = tmp_path / "lint.yaml"
    config.write_text("lint:\n  rules: {gap-stage: warning, inconsistent-sla: 'off'}\n",
                      encoding="utf-8")
    code, out, _ = run("lint", "--config", str(config), "--no-source", str(gap_file))
    assert code == 0
    assert out.splitlines() == [
        f"{gap_file}:6:10: warning [gap-stage] stage 'postponed' looks like a limbo stage "
        "('postponed'); keep the deal in its real stage and record a pause with a reason instead"]


def test_bad_config_file_is_a_usage_error(tmp_path: Path, gap_file: Path) -> None:
    config = tmp_path / "lint.yaml"
    config.write_text("lint:\n  rules: {gap-stage: loud}\n", encoding="utf-8")
    code, _, err = run("lint", "--config", str(config), str(gap_file))
    assert code == 2
    assert "'loud' is not one of" in err


def test_github_annotations(gap_file: Path) -> None:
    code, out, _ = run("lint", "--format", "github", str(gap_file))
    assert code == 1
    assert out.splitlines()[0].startswith(
        f"::error file={gap_file},line=6,col=10,title=gap-stage::stage 'postponed'")
    assert "::warning " in out


def test_sarif_is_valid_against_the_oasis_schema(gap_file: Path) -> None:
    if not SARIF_SCHEMA.exists():
        pytest.skip("needs ../shared/data/sarif/sarif-schema-2.1.0.json (the OASIS schema)")
    code, out, _ = run("lint", "--format", "sarif", str(gap_file), str(RULESETS / "retail.yaml"))
    assert code == 1
    log = json.loads(out)
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator(schema).validate(log)
    run_ = log["runs"][0]
    assert [r["id"] for r in run_["tool"]["driver"]["rules"]] == list(all_rules())
    result = run_["results"][0]
    assert result["ruleId"] == "gap-stage"
    assert result["level"] == "error"
    assert result["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 6, "startColumn": 10,
        "snippet": {"text": '  - {id: postponed, title: "Отложено"}'}}
    assert len(run_["artifacts"]) == 2


def test_rules_lists_and_explains() -> None:
    code, out, _ = run("rules")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == list(all_rules())
    code, out, _ = run("rules", "parallel-stages")
    assert code == 0
    assert "## Why it matters" in out
    code, _, err = run("rules", "paralel-stages")
    assert code == 2
    assert "did you mean 'parallel-stages'" in err


def test_schema_command_prints_the_packaged_schema() -> None:
    code, out, _ = run("schema", "ruleset")
    assert code == 0
    assert json.loads(out) == json.loads((ROOT / "schemas" / "ruleset.schema.json").read_text())


def test_console_script_never_shows_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"id: x\ntitle: \xc2\xf1\xf2\n")
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    result = subprocess.run([sys.executable, "-m", "pipeline_rules", "lint", str(bad)],
                            capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"{bad}:2:8: error [encoding]" in result.stdout


MINIMAL = """\
version: 1
id: minimal
stages:
  - {id: request}
  - {id: paid, terminal: won}
  - {id: lost, terminal: lost}
start: [{stage: request}]
transitions:
  - {from: request, to: paid}
  - {from: "*", to: lost}
"""


def _alias_bomb() -> str:
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 10)]
    return "\n".join(lines) + "\n"


BAD_INPUTS: dict[str, tuple[bytes, str]] = {
    # name: (file content, a diagnostic expected among those printed, after "file:")
    "empty": (b"", "1:1: error [schema] the document is empty"),
    "top-level-list": (b"- a\n- b\n", "1:1: error [schema] a ruleset must be a mapping"),
    "not-utf8": (b"version: 1\nid: x\ntitle: \xc2\xf1\xf2\n", "3:8: error [encoding]"),
    "tab-indent": (b"version: 1\nstages:\n\t- id: a\n", "3:1: error [yaml-syntax] a tab"),
    "duplicate-key": (MINIMAL.replace("id: minimal", "id: minimal\nid: again").encode(),
                      "3:1: error [duplicate-key] key 'id' is repeated"),
    "unknown-key": (MINIMAL.replace("transitions:", "transitons:").encode(),
                    "8:1: error [schema] unknown key 'transitons' (did you mean 'transitions'?)"),
    "alias-bomb": (_alias_bomb().encode(), "error [document-limit] the aliases here bring"),
    "stage-id-with-spaces": (MINIMAL.replace("{id: request}", '{id: "new request"}').encode(),
                             "4:10: error [invalid-stage-id] stage id 'new request'"),
    "empty-stage-id": (MINIMAL.replace("{id: request}", '{id: ""}').encode(),
                       "4:10: error [invalid-stage-id] stage id ''"),
    "self-transition": (MINIMAL.replace("{from: request, to: paid}",
                                        "{from: request, to: request}").encode(),
                        "9:25: error [invalid-transition] a move from 'request' to itself"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_gets_a_positioned_message_and_exit_1(name: str, tmp_path: Path) -> None:
    content, expected = BAD_INPUTS[name]
    path = tmp_path / f"{name}.yaml"
    path.write_bytes(content)
    result = CliRunner().invoke(main, ["lint", "--no-source", str(path)])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # not a crash
    lines = result.stdout.splitlines()
    assert all(line.startswith(f"{path}:") for line in lines)
    assert any(expected in line for line in lines), lines


def test_a_50_mb_file_is_refused_with_a_message(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with open(path, "wb") as out:
        out.write(b"# filler\n" * (50 * 1024 * 1024 // 9))
    code, out, _ = run("lint", "--no-source", str(path))
    assert code == 1
    assert out.startswith(f"{path}:1:1: error [document-limit] file is ")
    assert "rulesets are limited to 5242880 bytes" in out
