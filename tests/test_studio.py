"""The studio's endpoints in process: lint as you type, the diagram, saving and its refusals,
the page's headers, the token, and the committed bundle matching its sources."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pipeline_rules.studio.app import CSP, create_studio, static_dir
from pipeline_rules.studio.context import StudioContext, StudioLimits, Workspace, digest
from pipeline_rules.studio.editor import check_text, versioned

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "rulesets" / "b2b_sales.yaml"
WEB = ROOT / "pipeline_rules" / "studio" / "web"

#: The reference regulation with a second branch beside 'meeting': qualification → tech_review
#: → proposal.
PARALLEL_STAGE = "  - id: tech_review\n    title: Technical review\n  - id: proposal\n"
PARALLEL_MOVES = ("  - {from: qualification, to: meeting}\n"
                  "  - {from: qualification, to: tech_review}\n"
                  "  - {from: tech_review, to: proposal}\n")


def parallel(text: str) -> str:
    """The reference text with the parallel branch added."""
    return (text.replace("  - id: proposal\n", PARALLEL_STAGE, 1)
            .replace("  - {from: qualification, to: meeting}\n", PARALLEL_MOVES, 1))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    target = tmp_path / "rulesets"
    target.mkdir()
    shutil.copy(REFERENCE, target / "b2b_sales.yaml")
    shutil.copy(ROOT / "rulesets" / "retail.yaml", target / "retail.yaml")
    return target


def studio(folder: Path, token: str | None = None, **limits: Any) -> TestClient:
    ctx = StudioContext(folder, Workspace(folder), StudioLimits(**limits))
    return TestClient(create_studio(ctx, token))


@pytest.fixture
def client(folder: Path) -> Iterator[TestClient]:
    with studio(folder) as found:
        yield found


def load(client: TestClient, name: str = "b2b_sales.yaml") -> dict[str, Any]:
    answer = client.get("/studio/api/file", params={"name": name})
    assert answer.status_code == 200, answer.text
    loaded: dict[str, Any] = answer.json()
    return loaded


def test_the_page_and_every_answer_carry_the_strict_csp(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert '<script src="/static/studio.js" defer></script>' in page.text
    assert "<script>" not in page.text and " style=" not in page.text
    for answer in (page, client.get("/static/studio.js"), client.get("/studio/api/files"),
                   client.get("/studio/api/nothing")):
        assert answer.headers["content-security-policy"] == CSP
    assert "default-src 'self'" in CSP and "unsafe-inline" not in CSP


def test_files_lists_the_directory_and_a_file_comes_with_its_digest(
        client: TestClient, folder: Path) -> None:
    listing = client.get("/studio/api/files").json()
    assert listing["files"] == ["b2b_sales.yaml", "retail.yaml"]
    loaded = load(client)
    data = (folder / "b2b_sales.yaml").read_bytes()
    assert loaded["text"] == data.decode("utf-8")
    assert loaded["digest"] == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("name", ["../secret.yaml", "/etc/passwd", "a/b/c.yaml", ".hidden.yaml",
                                  "notes.txt", "missing.yaml"])
def test_a_name_outside_the_directory_or_unknown_is_a_404(client: TestClient,
                                                          name: str) -> None:
    answer = client.get("/studio/api/file", params={"name": name})
    assert answer.status_code == 404
    assert answer.json()["error"] == "unknown-file"
    assert name in answer.json()["message"]


def test_a_typo_in_a_key_is_marked_on_its_line_with_the_did_you_mean_as_a_fix() -> None:
    text = REFERENCE.read_text("utf-8").replace("    stage: meeting\n", "    stgae: meeting\n")
    line = text.splitlines().index("    stgae: meeting") + 1
    found = check_text("b2b_sales.yaml", text)
    typo = [d for d in found.diagnostics if d["line"] == line]
    assert len(typo) == 1
    assert typo[0]["rule"] == "schema" and "did you mean 'stage'" in typo[0]["message"]
    assert (typo[0]["column"], typo[0]["end_column"]) == (5, 10)
    assert typo[0]["fix"] == {"line": line, "from": 5, "to": 10, "insert": "stage",
                              "label": "stage"}
    assert found.diagram["stages"], "a draft with errors is still drawn"


def test_an_unknown_stage_in_a_flow_mapping_gets_its_fix_at_the_value() -> None:
    text = REFERENCE.read_text("utf-8").replace("{from: meeting, to: proposal}",
                                                "{from: meeting, to: propossal}")
    found = check_text("b2b_sales.yaml", text)
    fixes = [d["fix"] for d in found.diagnostics if d["fix"]]
    assert fixes, found.diagnostics
    line = text.splitlines()[fixes[0]["line"] - 1]
    assert line[fixes[0]["from"] - 1:fixes[0]["to"] - 1] == "propossal"
    assert fixes[0]["insert"] == "proposal"
    broken = [m for m in found.diagram["moves"] if m["broken"]]
    assert [(m["from"], m["to"]) for m in broken] == [("meeting", "propossal")]
    assert {"id": "propossal", "declared": False, "broken": True}.items() <= next(
        s for s in found.diagram["stages"] if s["id"] == "propossal").items()


def test_a_parallel_branch_is_marked_on_both_stages_and_in_the_diagram() -> None:
    text = parallel(REFERENCE.read_text("utf-8"))
    found = check_text("b2b_sales.yaml", text)
    lines = text.splitlines()
    marked = {lines[d["line"] - 1].strip() for d in found.diagnostics
              if d["rule"] == "parallel-stages"}
    assert marked == {"- id: meeting", "- id: tech_review"}
    flagged = {s["id"] for s in found.diagram["stages"]
               if any(f["rule"] == "parallel-stages" for f in s["flags"])}
    assert flagged == {"meeting", "tech_review"}
    ranks = {s["id"]: s["rank"] for s in found.diagram["stages"]}
    assert ranks["meeting"] == ranks["tech_review"] == ranks["qualification"] + 1


def test_yaml_that_does_not_parse_is_said_with_its_line_and_nothing_is_drawn() -> None:
    found = check_text("b2b_sales.yaml", "version: 1\nstages: [\n")
    assert found.summary["error"] == 1
    assert found.diagnostics[0]["rule"] == "yaml-syntax"
    assert found.diagram["stages"] == []
    assert found.diagram["message"].startswith("nothing to draw: line 3")


def test_the_diagram_carries_what_a_click_on_a_stage_shows() -> None:
    found = check_text("b2b_sales.yaml", REFERENCE.read_text("utf-8"))
    stages = {s["id"]: s for s in found.diagram["stages"]}
    lines = REFERENCE.read_text("utf-8").splitlines()
    meeting = stages["meeting"]
    assert lines[meeting["line"] - 1].strip() == "- id: meeting"
    assert lines[meeting["end_line"] - 1].strip().startswith("title:")
    assert [(s["id"], s["limit"]) for s in meeting["slas"]] == [("meeting-stall", "7d")]
    assert lines[meeting["slas"][0]["line"] - 1].strip() == "- id: meeting-stall"
    assert meeting["tasks"]["max_gap"] == "7d"
    assert stages["proposal"]["tasks"]["max_gap"] == "3 business days"
    assert stages["paid"]["kind"] == "won" and stages["lost"]["kind"] == "lost"
    assert {(m["from"], m["to"], m["label"]) for m in found.diagram["moves"]} >= {
        ("proposal", "invoice", "require: amount"), ("*", "lost", "require: loss_reason")}
    assert [(s["id"], s["to"], s["label"]) for s in found.diagram["starts"]] == [
        ("cold", "find_dm", "source = cold"),
        ("inbound", "request", "source in [web_form, inbound_call, email]")]
    assert [s["id"] for s in found.diagram["spans"]] == ["whole-cycle"]


def test_check_over_http_records_the_draft_and_answers_markers(client: TestClient) -> None:
    text = REFERENCE.read_text("utf-8").replace("    stage: meeting\n", "    stgae: meeting\n")
    answer = client.post("/studio/api/check", json={"name": "b2b_sales.yaml", "text": text})
    assert answer.status_code == 200
    assert any(d["fix"] for d in answer.json()["diagnostics"])
    assert answer.json()["summary"]["error"] == 2


def test_a_huge_paste_is_refused_with_a_clear_message(folder: Path) -> None:
    with studio(folder, max_text=10_000) as client:
        answer = client.post("/studio/api/check",
                             json={"name": "b2b_sales.yaml", "text": "a: b\n" * 5000})
    assert answer.status_code == 413
    assert answer.json()["error"] == "text-too-large"
    assert "25,000 bytes" in answer.json()["message"]


def test_save_writes_exactly_the_text_comments_and_all(client: TestClient,
                                                       folder: Path) -> None:
    loaded = load(client)
    text = loaded["text"].replace("limit: 7d", "limit: 5d  # tightened after the review")
    answer = client.post("/studio/api/save", json={"name": "b2b_sales.yaml", "text": text,
                                                   "digest": loaded["digest"]})
    assert answer.status_code == 200, answer.text
    on_disk = (folder / "b2b_sales.yaml").read_bytes()
    assert on_disk == text.encode("utf-8")
    assert b"# Reference regulation" in on_disk and b"# tightened after the review" in on_disk
    assert answer.json()["digest"] == digest(on_disk)
    assert sorted(p.name for p in folder.iterdir()) == ["b2b_sales.yaml", "retail.yaml"]
    # The next save starts from the digest just written.
    again = client.post("/studio/api/save", json={"name": "b2b_sales.yaml", "text": text + "\n",
                                                  "digest": answer.json()["digest"]})
    assert again.status_code == 200


def test_save_refuses_a_file_changed_on_disk_and_leaves_it_alone(client: TestClient,
                                                                 folder: Path) -> None:
    loaded = load(client)
    meanwhile = loaded["text"] + "# edited by someone else\n"
    (folder / "b2b_sales.yaml").write_text(meanwhile, "utf-8")
    answer = client.post("/studio/api/save", json={"name": "b2b_sales.yaml", "force": True,
                                                   "text": "version: 1\n",
                                                   "digest": loaded["digest"]})
    assert answer.status_code == 409
    assert answer.json()["error"] == "changed-on-disk"
    assert "changed on disk since you opened it" in answer.json()["message"]
    assert (folder / "b2b_sales.yaml").read_text("utf-8") == meanwhile
    reloaded = client.get("/studio/api/file", params={"name": "b2b_sales.yaml",
                                                      "reload": "true"}).json()
    assert reloaded["text"] == meanwhile and reloaded["digest"] != loaded["digest"]


def test_save_refuses_lint_errors_unless_told_to_save_anyway(client: TestClient,
                                                             folder: Path) -> None:
    loaded = load(client)
    broken = loaded["text"].replace("    stage: meeting\n", "    stgae: meeting\n")
    body = {"name": "b2b_sales.yaml", "text": broken, "digest": loaded["digest"]}
    refused = client.post("/studio/api/save", json=body)
    assert refused.status_code == 422
    assert refused.json()["error"] == "lint-errors" and refused.json()["errors"] == 2
    assert refused.json()["message"].startswith("b2b_sales.yaml has 2 errors found by lint;")
    assert (folder / "b2b_sales.yaml").read_text("utf-8") == loaded["text"]
    forced = client.post("/studio/api/save", json=body | {"force": True})
    assert forced.status_code == 200
    assert (folder / "b2b_sales.yaml").read_text("utf-8") == broken


def test_save_as_a_new_version_writes_the_next_revision_beside_the_others(
        tmp_path: Path) -> None:
    folder = tmp_path / "rulesets"
    versions = folder / "b2b"
    versions.mkdir(parents=True)
    base = REFERENCE.read_text("utf-8")
    (versions / "v1.yaml").write_text(versioned(base, 1, "2026-11-01T00:00:00+03:00"), "utf-8")
    with studio(folder) as client:
        assert client.get("/studio/api/files").json()["files"] == ["b2b/v1.yaml"]
        loaded = load(client, "b2b/v1.yaml")
        assert loaded["versioned"] is True
        text = loaded["text"].replace("limit: 7d", "limit: 5d")
        bad = client.post("/studio/api/save-version", json={
            "name": "b2b/v1.yaml", "text": text, "effective": "next tuesday"})
        assert bad.status_code == 422 and bad.json()["error"] == "invalid-effective"
        answer = client.post("/studio/api/save-version", json={
            "name": "b2b/v1.yaml", "text": text, "effective": "2026-12-01T00:00:00+03:00"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["name"] == "b2b/v2.yaml"
    written = (versions / "v2.yaml").read_text("utf-8")
    assert "revision: 2\neffective: 2026-12-01T00:00:00+03:00\n" in written
    assert "limit: 5d" in written and "# Reference regulation" in written
    assert (versions / "v1.yaml").read_text("utf-8") == loaded["text"]


def test_save_as_a_new_version_outside_a_versions_folder_says_why(client: TestClient) -> None:
    loaded = load(client)
    answer = client.post("/studio/api/save-version", json={
        "name": "b2b_sales.yaml", "text": loaded["text"], "effective": "2026-12-01"})
    assert answer.status_code == 422 and answer.json()["error"] == "not-versioned"


def test_the_studio_speaks_russian_when_the_locale_asks(folder: Path) -> None:
    ctx = StudioContext(folder, Workspace(folder, "ru"), lang="ru")
    with TestClient(create_studio(ctx)) as client:
        loaded = load(client)
        (folder / "b2b_sales.yaml").write_text("version: 1\n", "utf-8")
        answer = client.post("/studio/api/save", json={"name": "b2b_sales.yaml",
                                                       "text": loaded["text"],
                                                       "digest": loaded["digest"]})
        unknown = client.get("/studio/api/file", params={"name": "../x.yaml"})
    assert answer.status_code == 409
    assert answer.json()["message"].startswith(
        "b2b_sales.yaml изменился на диске после того, как вы его открыли; ничего не записано")
    assert unknown.json()["message"].startswith("«../x.yaml» — не файл регламента")


def test_a_directory_removed_under_the_studio_is_a_message(folder: Path) -> None:
    with studio(folder) as client:
        shutil.rmtree(folder)
        answer = client.get("/studio/api/files")
    assert answer.status_code == 404
    assert "no such directory" in answer.json()["message"]


def test_with_a_token_every_api_call_must_carry_it_but_the_page_loads(folder: Path) -> None:
    with studio(folder, token="s3cret-token") as client:
        assert client.get("/").status_code == 200
        assert client.get("/static/studio.js").status_code == 200
        assert client.get("/studio/api/files").status_code == 401
        wrong = client.get("/studio/api/files", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        right = client.get("/studio/api/files",
                           headers={"Authorization": "Bearer s3cret-token"})
        assert right.status_code == 200


def test_malformed_json_is_a_400_with_its_position(client: TestClient) -> None:
    answer = client.post("/studio/api/check", content=b'{"name": "b2b_sales.yaml", "text": ',
                         headers={"Content-Type": "application/json"})
    assert answer.status_code == 400
    assert answer.json()["error"] == "malformed-json" and "line 1" in answer.json()["message"]


def test_the_schema_and_the_rule_pages_are_served(client: TestClient) -> None:
    schema = client.get("/studio/api/schema").json()
    assert "stages" in schema["properties"]
    rules = client.get("/studio/api/rules").json()
    assert rules["parallel-stages"]["doc"].startswith("Two open stages")


def test_the_committed_bundle_matches_its_sources() -> None:
    """The bundle in static/ was built from the sources as committed (a source edited without
    rebuilding, or a bundle edited by hand, fails here: run `npm ci && npm run build` in
    pipeline_rules/studio/web)."""
    info = json.loads((Path(static_dir()) / "build-info.json").read_text("utf-8"))
    sources = sorted(["build.mjs", "package.json", "package-lock.json",
                      *(f"src/{p.name}" for p in (WEB / "src").glob("*.js"))])
    assert sorted(info["sources"]) == sources
    for name in sources:
        assert info["sources"][name] == hashlib.sha256((WEB / name).read_bytes()).hexdigest(), \
            f"{name} changed since the bundle was built"
    bundle = (Path(static_dir()) / "studio.js").read_bytes()
    assert info["bundle"]["studio.js"] == hashlib.sha256(bundle).hexdigest()
    lock = json.loads((WEB / "package-lock.json").read_text("utf-8"))
    assert "node_modules/@codemirror/view" in lock["packages"]


def test_a_rebuild_gives_the_committed_bundle_where_npm_is_at_hand(tmp_path: Path) -> None:
    if shutil.which("npm") is None or not (WEB / "node_modules" / "esbuild").is_dir():
        pytest.skip("needs npm and `npm ci` run in pipeline_rules/studio/web (the committed "
                    "bundle is checked against its sources' hashes without it)")
    copy = tmp_path / "studio"
    shutil.copytree(WEB, copy / "web", symlinks=True, ignore=shutil.ignore_patterns(
        "node_modules"))
    (copy / "web" / "node_modules").symlink_to(WEB / "node_modules")
    (copy / "static").mkdir()
    subprocess.run(["node", "build.mjs"], cwd=copy / "web", check=True, capture_output=True)
    assert (copy / "static" / "studio.js").read_bytes() == \
        (Path(static_dir()) / "studio.js").read_bytes()


def test_the_package_ships_the_page() -> None:
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    assert "studio/static/*" in config["tool"]["setuptools"]["package-data"]["pipeline_rules"]
    shipped = {p.name for p in Path(static_dir()).iterdir()}
    assert {"index.html", "studio.js", "studio.css", "build-info.json"} <= shipped


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipeline_rules", "studio", *args],
                          capture_output=True, text=True, timeout=60, check=False)


def test_the_command_refuses_a_missing_directory_and_a_bare_outside_host(tmp_path: Path) -> None:
    missing = run_cli(str(tmp_path / "nope"), "--no-browser")
    assert missing.returncode == 2
    assert missing.stderr.strip() == f"pipeline-rules: error: {tmp_path / 'nope'}: not a directory"
    outside = run_cli(str(tmp_path), "--host", "0.0.0.0", "--no-browser")
    assert outside.returncode == 2 and "--token-file" in outside.stderr
    orphan = run_cli(str(tmp_path), "--mapping", str(REFERENCE), "--no-browser")
    assert orphan.returncode == 2 and "give --deals too" in orphan.stderr
    absent = run_cli(str(tmp_path), "--deals", str(tmp_path / "none.jsonl"), "--no-browser")
    assert absent.returncode == 2
    assert absent.stderr.strip() == (
        f"pipeline-rules: error: {tmp_path / 'none.jsonl'}: no such file")


def test_the_command_s_own_refusals_follow_a_russian_locale(tmp_path: Path) -> None:
    russian = {**os.environ, "LC_ALL": "ru_RU.UTF-8"}
    orphan = subprocess.run([sys.executable, "-m", "pipeline_rules", "studio", str(tmp_path),
                             "--mapping", str(REFERENCE), "--no-browser"], env=russian,
                            capture_output=True, text=True, timeout=60, check=False)
    assert orphan.returncode == 2
    assert orphan.stderr.strip().endswith(
        "--mapping описывает CSV, переданный в --deals: укажите и --deals")


def test_two_saves_from_the_same_load_write_once_and_refuse_the_other(folder: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from pipeline_rules.server.errors import ApiError
    from pipeline_rules.studio.editor import save

    workspace = Workspace(folder)
    loaded = workspace.get("b2b_sales.yaml")
    texts = [loaded.saved + f"# save {i}\n" for i in range(2)]

    def attempt(text: str) -> int:
        try:
            save(workspace, "b2b_sales.yaml", text, loaded.digest, False)
        except ApiError as err:
            return err.status
        return 200

    with ThreadPoolExecutor(2) as pool:
        statuses = sorted(pool.map(attempt, texts))
    assert statuses == [200, 409]
    assert (folder / "b2b_sales.yaml").read_text("utf-8") in texts


def test_the_command_says_when_its_port_is_taken() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = run_cli(str(ROOT / "rulesets"), "--port", str(port), "--no-browser")
    assert result.returncode == 2
    assert result.stderr.strip() == (f"pipeline-rules: error: cannot listen on 127.0.0.1:{port}: "
                                     "Address already in use")
