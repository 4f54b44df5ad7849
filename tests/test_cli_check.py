"""`pipeline-rules check` and `pipeline-rules graph` as a CRM or an ops person runs them."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pydot
import pytest
from click.testing import CliRunner
from helpers import ROOT

from pipeline_rules.cli import main

B2B = str(ROOT / "rulesets" / "b2b_sales.yaml")
SAMPLE = (ROOT / "examples" / "deals.jsonl").read_text(encoding="utf-8").splitlines()
JS = ROOT / "tests" / "js"


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout, result.stderr


def deal_file(tmp_path: Path, index: int = 0, **changes: object) -> str:
    data = json.loads(SAMPLE[index])
    data.update(changes)
    path = tmp_path / "deal.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def test_allowed_move_exits_0(tmp_path: Path) -> None:
    code, out, _ = run("check", B2B, "--deal", deal_file(tmp_path), "--to", "proposal")
    assert code == 0
    assert out == "allowed: A-100 meeting -> proposal\n"


def test_rejected_move_exits_1_with_every_reason(tmp_path: Path) -> None:
    code, out, _ = run("check", B2B, "--deal", deal_file(tmp_path), "--to", "invoice")
    assert code == 1
    assert out.splitlines() == [
        "rejected: A-100 meeting -> invoice",
        "  - [not-declared] the regulation has no move from 'meeting' to 'invoice'",
        "  - [skips-stages] the move skips proposal",
    ]


def test_json_output_in_russian(tmp_path: Path) -> None:
    code, out, _ = run("check", B2B, "--deal", deal_file(tmp_path, 1), "--to", "paid",
                       "--format", "json", "--lang", "ru")
    assert code == 1
    assert json.loads(out) == {
        "deal": "A-101", "from": "invoice", "to": "paid", "allowed": False,
        "reasons": [{"code": "missing-field", "field": "payment_date",
                     "message": "для перехода в 'paid' нужно заполнить поле 'payment_date'"}]}


def test_deal_from_stdin() -> None:
    code, out, _ = run("check", B2B, "--deal", "-", "--to", "proposal", stdin=SAMPLE[0])
    assert code == 0
    assert out.startswith("allowed:")


def test_unknown_target_and_unknown_current_stage_are_reasons(tmp_path: Path) -> None:
    code, out, _ = run("check", B2B, "--deal", deal_file(tmp_path), "--to", "negotiation")
    assert code == 1
    assert "[unknown-stage] no stage 'negotiation' in the regulation" in out
    path = deal_file(tmp_path, stage="negotiation", history=[])
    code, out, _ = run("check", B2B, "--deal", path, "--to", "proposal")
    assert code == 1
    assert "[unknown-stage] the deal is in stage 'negotiation'" in out


def test_deal_without_history_is_judged_from_its_stage(tmp_path: Path) -> None:
    path = deal_file(tmp_path, history=[])
    assert run("check", B2B, "--deal", path, "--to", "proposal")[0] == 0


def test_new_deal_must_enter_its_start_stage(tmp_path: Path) -> None:
    path = deal_file(tmp_path, stage=None, history=[])
    code, out, _ = run("check", B2B, "--deal", path, "--to", "request")
    assert code == 1
    assert "[bad-start] deals of start 'cold' begin in 'find_dm', not in 'request'" in out
    assert run("check", B2B, "--deal", path, "--to", "find_dm")[0] == 0


@pytest.mark.parametrize(("content", "message"), [
    ('{"id": "A-1", "stage": "meeting",', "deal.json:1:34: malformed JSON"),
    ('[{"id": "A-1"}]', "bad deal record at /: expected an object, got list"),
    ('{"stage": "meeting"}', "bad deal record at /id: is missing"),
    ('{"id": "A", "history": [{"stage": "meeting", "at": "yesterday"}]}',
     "bad deal record at /history/0/at: 'yesterday' is not an ISO 8601 time"),
])
def test_bad_deal_files_are_usage_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "deal.json"
    path.write_text(content, encoding="utf-8")
    code, _, err = run("check", B2B, "--deal", str(path), "--to", "proposal")
    assert code == 2
    assert message in err


def test_missing_files_and_broken_rulesets_are_usage_errors(tmp_path: Path) -> None:
    code, _, err = run("check", B2B, "--deal", str(tmp_path / "none.json"), "--to", "x")
    assert code == 2
    assert "no such file" in err
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nid: x\nstages: [{id: a}]\ntransitons: []\n")
    code, _, err = run("check", str(broken), "--deal", deal_file(tmp_path), "--to", "a")
    assert code == 2
    assert "unknown key 'transitons' (did you mean 'transitions'?)" in err
    assert "the ruleset has errors" in err


def test_graph_dot_parses_and_styles_the_ends() -> None:
    code, out, _ = run("graph", B2B, "--format", "dot")
    assert code == 0
    [graph] = pydot.graph_from_dot_data(out)
    nodes = {n.get_name().strip('"'): n for n in graph.get_nodes()}
    assert nodes["paid"].get("fillcolor") != nodes["lost"].get("fillcolor")
    assert nodes["find_dm"].get("fillcolor") == nodes["request"].get("fillcolor")
    edges = {(e.get_source().strip('"'), e.get_destination().strip('"')): e
             for e in graph.get_edges()}
    assert edges[("proposal", "invoice")].get("label") == '"require: amount"'
    assert ("*", "lost") in edges
    assert ("start:0", "find_dm") in edges


def test_graph_mermaid_lists_the_main_path_first_with_guards() -> None:
    code, out, _ = run("graph", B2B)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "flowchart LR"
    edges = [line.strip() for line in lines if "-->" in line or "-.->" in line]
    assert edges == [
        "start0 --> s0", "start1 --> s1", "s0 --> s2", "s1 --> s2", "s2 --> s3", "s3 --> s4",
        's4 -->|"require: amount"| s5', 's5 -->|"require: payment_date"| s6',
        'anystage -.->|"require: loss_reason"| s7']
    assert '  s6(["Оплачено<br/><small>paid</small>"]):::won' in lines
    assert '  s7(["Отказ<br/><small>lost</small>"]):::lost' in lines


@pytest.mark.parametrize("ruleset", sorted((ROOT / "rulesets").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_mermaid_output_parses_with_the_real_mermaid_parser(ruleset: Path,
                                                            tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None or not (JS / "node_modules" / "mermaid").is_dir():
        pytest.skip("needs node and `npm ci --prefix tests/js` (the mermaid parser comes from "
                    "npm, not PyPI; .ci/run installs it when the registry is reachable)")
    code, out, _ = run("graph", str(ruleset))
    assert code == 0
    path = tmp_path / "pipeline.mmd"
    path.write_text(out, encoding="utf-8")
    parsed = subprocess.run([node, str(JS / "mermaid_parse.mjs"), str(path)],
                            capture_output=True, text=True, check=False, timeout=120)
    assert parsed.returncode == 0, parsed.stderr
    assert parsed.stdout.strip() == "flowchart-v2"


def test_readme_shows_the_reference_pipeline() -> None:
    _, out, _ = run("graph", B2B)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"```mermaid\n{out}```" in readme
