"""Every number the YAML loader can produce is bounded: a huge integer, a long binary or base-60
form, an integer beyond 64 bits or a float that is not finite is a positioned ``document-limit``
error in every command and in the server, never a traceback or a 500."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from helpers import ROOT

from pipeline_rules.ruleset.loader import MAX_INTEGER, MAX_NUMBER_CHARS, load_document
from pipeline_rules.ruleset.problems import DocumentError
from pipeline_rules.ruleset.source import Position, Source
from pipeline_rules.server.app import create_app
from pipeline_rules.server.settings import Settings

GOOD = ROOT / "rulesets" / "retail.yaml"
HUGE = "1" * 4301


def load(text: str) -> object:
    return load_document(Source("t.yaml", text)).data


@pytest.mark.parametrize(("written", "message"), [
    (HUGE, "document-limit.number-length"),
    ("-" + HUGE, "document-limit.number-length"),
    ("0b" + "1" * 5000, "document-limit.number-length"),
    ("0x" + "f" * 5000, "document-limit.number-length"),
    ("0" + "7" * 5000, "document-limit.number-length"),
    (":".join(["1"] + ["59"] * 3000), "document-limit.number-length"),
    ("1" + "0" * 5000 + ".5", "document-limit.number-length"),
    ("9223372036854775808", "document-limit.integer"),
    ("-9223372036854775808", "document-limit.integer"),
    ("0b" + "1" * 64, "document-limit.integer"),
    ("0x10000000000000000", "document-limit.integer"),
    (":".join(["1"] + ["0"] * 12), "document-limit.integer"),
    ("1.0e+999", "document-limit.float"),
    ("-1.0e+999", "document-limit.float"),
    (".inf", "document-limit.float"),
    ("-.Inf", "document-limit.float"),
    (".nan", "document-limit.float"),
    ("!!float 1e999", "document-limit.float"),
])
def test_numbers_out_of_bounds_are_refused_at_their_position(written: str, message: str) -> None:
    with pytest.raises(DocumentError) as err:
        load(f"id: x\nwhen:\n  amount: {written}\n")
    assert err.value.rule == "document-limit"
    assert err.value.problem.message == message
    assert err.value.problem.position == Position(3, 11)
    quoted = str(err.value.problem.args["text"])
    assert len(quoted) <= 25  # a refused number is quoted, not echoed whole


@pytest.mark.parametrize(("written", "value"), [
    ("9223372036854775807", MAX_INTEGER),
    ("-9223372036854775807", -MAX_INTEGER),
    ("0b1010", 10),
    ("0x1F", 31),
    ("017", 15),
    ("190:20:30", 685230),
    ("1_000_000", 1_000_000),
    ("1.5e+300", 1.5e300),
    ("20:30.5", 1230.5),
    ("-0.25", -0.25),
])
def test_numbers_within_bounds_load_as_before(written: str, value: object) -> None:
    assert load(f"a: {written}\n") == {"a": value}


def test_the_length_limit_is_exact() -> None:
    longest = "1" * (MAX_NUMBER_CHARS - 2) + ".0"
    assert load(f"a: {longest}\n") == {"a": float(longest)}
    with pytest.raises(DocumentError) as err:
        load(f"a: 1{longest}\n")
    assert err.value.problem.message == "document-limit.number-length"


@pytest.mark.parametrize("text", ["!!int twelve", "!!int ''", "!!int '-'", "!!float x",
                                  "!!float ''", "!!int 0x", "!!int '1:'"])
def test_tagged_values_that_are_not_numbers_are_syntax_errors(text: str) -> None:
    with pytest.raises(DocumentError) as err:
        load(f"a: {text}\n")
    assert err.value.rule == "yaml-syntax"
    assert err.value.problem.message in ("yaml-syntax.bad-int", "yaml-syntax.bad-float")
    assert err.value.problem.position == Position(1, 4)


def test_loaded_floats_are_finite() -> None:
    data = load("a: [1.5, -2.0, 3.0e+10]\n")
    assert isinstance(data, dict)
    assert all(math.isfinite(v) for v in data["a"])


# -- every command ----------------------------------------------------------------------------

def _bad_ruleset(directory: Path, number: str = HUGE, name: str = "bad.yaml") -> tuple[Path, int]:
    """A copy of the retail ruleset with ``number`` as a condition value; its line number."""
    text = GOOD.read_text(encoding="utf-8")
    anchor = "when: {delivery_method: courier}"
    assert anchor in text
    text = text.replace(anchor, f"when: {{delivery_method: courier, amount: {{gte: {number}}}}}")
    path = directory / name
    path.write_text(text, encoding="utf-8")
    line = next(i for i, row in enumerate(text.splitlines(), 1) if number in row)
    return path, line


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipeline_rules", *args], check=False, cwd=cwd,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("number", [HUGE, "0b" + "1" * 300, ":".join(["1"] + ["59"] * 200),
                                    "1.0e+999"])
def test_every_command_reports_the_number_with_its_position(tmp_path: Path, number: str) -> None:
    _, line = _bad_ruleset(tmp_path, number)
    deal = tmp_path / "deal.json"
    deal.write_text(json.dumps({"id": "d1", "ruleset": "retail-orders", "stage": "new_order",
                                "created_at": "2026-11-20T09:00:00+07:00"}), encoding="utf-8")
    where = f"bad.yaml:{line}:"
    runs = {
        "lint": _cli("lint", "--no-source", "bad.yaml", cwd=tmp_path),
        "graph": _cli("graph", "bad.yaml", cwd=tmp_path),
        "check": _cli("check", "bad.yaml", "--deal", "deal.json", "--to", "confirmed",
                      cwd=tmp_path),
        "evaluate": _cli("evaluate", "bad.yaml", "deal.json", "--now",
                         "2026-11-20T10:00:00", cwd=tmp_path),
    }
    for command, run in runs.items():
        assert "Traceback" not in run.stderr, command
        assert run.returncode == (1 if command == "lint" else 2), (command, run.stderr)
        output = run.stdout + run.stderr
        assert where in output and "[document-limit]" in output, (command, output)


def test_one_bad_tenant_file_does_not_stop_the_others(tmp_path: Path) -> None:
    rulesets = tmp_path / "rulesets"
    rulesets.mkdir()
    _bad_ruleset(rulesets, HUGE, "a_bad.yaml")
    (rulesets / "b_retail.yaml").write_text(GOOD.read_text(encoding="utf-8"), encoding="utf-8")
    deals = tmp_path / "deals.jsonl"
    deals.write_text(json.dumps({"id": "d1", "ruleset": "retail-orders", "stage": "new_order",
                                 "created_at": "2026-11-20T09:00:00+07:00"}) + "\n",
                     encoding="utf-8")
    run = _cli("evaluate", "rulesets", "deals.jsonl", "--now", "2026-11-20T12:00:00",
               "--format", "jsonl", cwd=tmp_path)
    assert "Traceback" not in run.stderr
    assert "a_bad.yaml" in run.stderr and "[document-limit]" in run.stderr
    findings = [json.loads(line) for line in run.stdout.splitlines()]
    assert findings and all(f["deal"] == "d1" for f in findings)
    assert run.returncode == 0  # judged by the good file: one warning, no error


def test_the_server_answers_lint_and_lists_the_file_never_500(tmp_path: Path) -> None:
    rulesets = tmp_path / "rulesets"
    rulesets.mkdir()
    bad, line = _bad_ruleset(rulesets, "0b" + "1" * 300, "bad.yaml")
    (rulesets / "retail.yaml").write_text(GOOD.read_text(encoding="utf-8"), encoding="utf-8")
    app = create_app(Settings(str(rulesets)))
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.post("/v1/lint", content=bad.read_bytes(),
                             headers={"content-type": "application/yaml"})
        assert answer.status_code == 200
        diagnostics = answer.json()["diagnostics"]
        assert [(d["rule"], d["line"]) for d in diagnostics] == [("document-limit", line)]
        listing = client.get("/v1/rulesets")
        assert listing.status_code == 200
        assert "bad.yaml" in json.dumps(listing.json())
        assert "retail-orders" in json.dumps(listing.json())
