"""`pipeline-rules evaluate` as a CRM job or an ops person runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
from click.testing import CliRunner
from helpers import ROOT

from pipeline_rules.cli import main

sys.path.insert(0, str(ROOT / "benchmarks"))
from generate_deals import deals as generated_deals

B2B = str(ROOT / "rulesets" / "b2b_sales.yaml")
SAMPLE = str(ROOT / "examples" / "deals.jsonl")
NOW = "2026-11-20T09:05:00+03:00"
FINDING_SCHEMA = json.loads((ROOT / "schemas" / "finding.schema.json").read_text())
DEAL_SCHEMA = json.loads((ROOT / "schemas" / "deal.schema.json").read_text())


def run(*args: str, stdin: str | bytes | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout, result.stderr


def test_jsonl_findings_fit_the_finding_schema() -> None:
    code, out, err = run("evaluate", B2B, SAMPLE, "--now", NOW)
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 10
    validator = jsonschema.Draft202012Validator(FINDING_SCHEMA)
    for line in lines:
        validator.validate(line)
    assert err.strip() == ("6 records: 6 violations (cycle-breach 1, next-task-too-far 1, "
                           "skipped-stage 1, sla-breach 2, task-overdue 1), "
                           "4 actions (escalate 3, remind 1)")


def test_sample_deals_fit_the_deal_schema() -> None:
    validator = jsonschema.Draft202012Validator(DEAL_SCHEMA)
    for line in Path(SAMPLE).read_text(encoding="utf-8").splitlines():
        validator.validate(json.loads(line))


def test_json_and_table_formats_hold_the_same_findings() -> None:
    _, jsonl, _ = run("evaluate", B2B, SAMPLE, "--now", NOW)
    code, as_json, _ = run("evaluate", B2B, SAMPLE, "--now", NOW, "--format", "json")
    assert code == 0
    assert json.loads(as_json) == [json.loads(line) for line in jsonl.splitlines()]
    code, table, _ = run("evaluate", B2B, SAMPLE, "--now", NOW, "--format", "table")
    assert code == 0
    rows = table.splitlines()
    assert rows[0].split()[:4] == ["deal", "kind", "code", "rule"]
    assert len(rows) == 11
    assert rows[2].split()[:4] == ["A-100", "violation", "sla-breach", "meeting-stall"]


def test_russian_messages() -> None:
    _, out, _ = run("evaluate", B2B, SAMPLE, "--now", NOW, "--lang", "ru")
    messages = [json.loads(line)["message"] for line in out.splitlines()]
    assert "задача 'A-103-1' должна была быть выполнена 2026-11-18 17:00 и всё ещё открыта" \
        in messages


def test_stdin_and_bad_lines_with_line_numbers() -> None:
    text = Path(SAMPLE).read_text(encoding="utf-8").splitlines()
    stream = "\n".join([text[0], "{not json", "", text[4], text[0]]) + "\n"
    code, out, err = run("evaluate", B2B, "-", "--now", NOW, stdin=stream)
    assert code == 0
    bad = [json.loads(line) for line in out.splitlines() if '"bad-record"' in line]
    assert [(b["details"]["record"], b["deal"]) for b in bad] == [
        ("<stdin>:2", None), ("<stdin>:5", "A-100")]
    assert bad[0]["message"].startswith("<stdin>:2: malformed JSON")
    assert "bad-record 2" in err
    code, _, _ = run("evaluate", B2B, "-", "--now", NOW, "--strict", stdin=stream)
    assert code == 1


def test_now_without_offset_is_read_in_the_ruleset_zone() -> None:
    _, with_offset, _ = run("evaluate", B2B, SAMPLE, "--now", NOW)
    _, naive, _ = run("evaluate", B2B, SAMPLE, "--now", "2026-11-20T09:05:00")
    assert naive == with_offset


def test_now_defaults_to_the_current_time() -> None:
    code, out, _ = run("evaluate", B2B, SAMPLE)
    assert code == 0
    assert all(json.loads(line)["ruleset"] == "b2b-sales" for line in out.splitlines())


@pytest.mark.parametrize(("args", "message"), [
    (["--now", "yesterday"], "Invalid value for --now: 'yesterday' is not an ISO 8601"),
    (["--horizon", "soon"], "Invalid value for --horizon: invalid duration 'soon'"),
    (["--jobs", "0"], "Invalid value for '--jobs'"),
])
def test_bad_options_are_usage_errors(args: list[str], message: str) -> None:
    code, _, err = run("evaluate", B2B, SAMPLE, *args)
    assert code == 2
    assert message in err


def test_missing_input_and_csv_without_mapping(tmp_path: Path) -> None:
    code, _, err = run("evaluate", B2B, str(tmp_path / "none.jsonl"), "--now", NOW)
    assert code == 2
    assert "no such file" in err
    csv = tmp_path / "deals.csv"
    csv.write_text("id,stage\nA,meeting\n", encoding="utf-8")
    code, _, err = run("evaluate", B2B, str(csv), "--now", NOW)
    assert code == 2
    assert "CSV input needs a mapping file (--mapping)" in err


def test_json_array_input(tmp_path: Path) -> None:
    records = [json.loads(line) for line in Path(SAMPLE).read_text().splitlines()]
    path = tmp_path / "deals.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    _, from_json, _ = run("evaluate", B2B, str(path), "--now", NOW)
    _, from_jsonl, _ = run("evaluate", B2B, SAMPLE, "--now", NOW)
    assert from_json == from_jsonl


def test_jobs_2_gives_byte_identical_output(tmp_path: Path) -> None:
    path = tmp_path / "deals.jsonl"
    with open(path, "wb") as out:
        for i, record in enumerate(generated_deals(3000, seed=5)):
            if i == 1234:
                out.write(b'{"id": "broken", "stage": \n')
            out.write(orjson.dumps(record) + b"\n")
        out.write(orjson.dumps(next(generated_deals(1, seed=5))) + b"\n")  # a duplicate id
    command = [sys.executable, "-m", "pipeline_rules", "evaluate", B2B, str(path), "--now", NOW]
    one = subprocess.run([*command, "--jobs", "1"], capture_output=True, check=True)
    two = subprocess.run([*command, "--jobs", "2"], capture_output=True, check=True)
    assert one.stdout == two.stdout
    assert one.stderr == two.stderr
    assert one.stdout.count(b'"bad-record"') == 2
    assert len(one.stdout.splitlines()) > 1000


def test_the_summary_counts_in_the_singular_for_one() -> None:
    record = {"id": "S-1", "stage": "meeting", "source": "cold",
              "history": [{"stage": "find_dm", "at": "2026-11-16T10:00:00+03:00"},
                          {"stage": "qualification", "at": "2026-11-17T10:00:00+03:00"},
                          {"stage": "meeting", "at": "2026-11-19T10:00:00+03:00"}]}
    code, _, err = run("evaluate", B2B, "-", "--now", NOW, stdin=json.dumps(record) + "\n")
    assert code == 0
    assert err.strip().endswith("1 record: 1 violation (no-next-task 1), 0 actions")


def failing_check(monkeypatch: pytest.MonkeyPatch, deal_id: str) -> None:
    """Make the SLA check raise on one deal, as a bug (or a broken plugin) would."""
    from pipeline_rules import evaluate

    def check(deal: Any, run: Any) -> Any:
        if deal.id == deal_id:
            raise ZeroDivisionError("boom")
        return evaluate.check_slas(deal, run)

    checks = tuple(check if c is evaluate.check_slas else c for c in evaluate.OPEN_DEAL_CHECKS)
    monkeypatch.setattr(evaluate, "OPEN_DEAL_CHECKS", checks)


@pytest.mark.parametrize("fmt", ["jsonl", "json"])
def test_a_deal_the_evaluation_fails_on_is_a_bad_record_and_the_run_goes_on(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fmt: str) -> None:
    _, expected, _ = run("evaluate", B2B, SAMPLE, "--now", NOW)
    failing_check(monkeypatch, "A-100")
    deals = SAMPLE
    if fmt == "json":  # the general path, not the JSON Lines decoder
        deals = str(tmp_path / "deals.json")
        Path(deals).write_text(json.dumps([json.loads(line) for line in
                                           Path(SAMPLE).read_text("utf-8").splitlines()]))
    code, out, err = run("evaluate", B2B, deals, "--now", NOW)
    assert code == 0
    findings = [json.loads(line) for line in out.splitlines()]
    bad = [f for f in findings if f["code"] == "bad-record"]
    assert [(f["deal"], f["ruleset"]) for f in bad] == [("A-100", "b2b-sales")]
    assert bad[0]["message"].endswith(": cannot be evaluated (boom)")
    others = [json.loads(line) for line in expected.splitlines()]
    assert [f for f in findings if f["deal"] != "A-100"] == \
        [f for f in others if f["deal"] != "A-100"]
    assert "bad-record 1" in err
