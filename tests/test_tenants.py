"""Many rulesets in one run: each deal judged by the ruleset it names, the others unharmed by
unknown or broken ones."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from helpers import ROOT

from pipeline_rules.cli import main
from pipeline_rules.evaluate import Evaluator
from pipeline_rules.evaluate.engine import Item, batched, evaluate_partition, evaluate_stream
from pipeline_rules.evaluate.judge import RULESET_KEY, Judge
from pipeline_rules.ruleset import catalog
from pipeline_rules.ruleset.catalog import CatalogError, compile_path

sys.path.insert(0, str(ROOT / "benchmarks"))
from generate_deals import deals as generated_deals

B2B = ROOT / "rulesets" / "b2b_sales.yaml"
NOW_TEXT = "2026-11-20T09:05:00+03:00"
NOW = datetime.fromisoformat(NOW_TEXT)


def load_directory(path: Path | str, lang: str = "en", key: str = RULESET_KEY) -> Judge:
    """The judge of a ruleset directory (each deal judged by the ruleset it names)."""
    return Judge.of(catalog.load_directory(path, lang), key=key)


def load_file(path: Path | str) -> Judge:
    """The judge of one ruleset file (every deal judged by it)."""
    return Judge.of(catalog.load_file(path))


def run_tenants(judge: Judge, items: Iterable[Item], now: datetime,
                jobs: int = 1) -> list[tuple[str, bytes]]:
    """Every finding of a stream of records as (origin, JSON line), as the command line gets
    them."""
    return [pair for settled in evaluate_stream(judge, batched(items), now, judge.catalog.lang,
                                                jobs)
            for pair in settled.origins()]


def make_ruleset_dir(root: Path) -> Path:
    """b2b-sales and acme (a copy under another id) usable; broken-co unusable (a bad time
    zone), garbage.yaml not even YAML, clash.yaml a second 'acme'."""
    text = B2B.read_text(encoding="utf-8")
    directory = root / "rulesets"
    directory.mkdir()
    (directory / "b2b_sales.yaml").write_text(text, encoding="utf-8")
    (directory / "acme.yaml").write_text(text.replace("id: b2b-sales", "id: acme"), "utf-8")
    (directory / "broken.yaml").write_text(
        text.replace("id: b2b-sales", "id: broken-co").replace("Europe/Moscow", "Mars/Olympus"),
        encoding="utf-8")
    (directory / "garbage.yaml").write_text("version: 1\nid: [\n", encoding="utf-8")
    (directory / "zz_clash.yaml").write_text(text.replace("id: b2b-sales", "id: acme"), "utf-8")
    (directory / ".hidden.yaml").write_text("not: loaded\n", encoding="utf-8")
    (directory / "notes.txt").write_text("not a ruleset\n", encoding="utf-8")
    return directory


@pytest.fixture
def ruleset_dir(tmp_path: Path) -> Path:
    return make_ruleset_dir(tmp_path)


def sample(count: int = 40) -> list[dict[str, object]]:
    return list(generated_deals(count, seed=7, now=NOW))


def test_a_directory_loads_once_with_its_broken_files_explained(ruleset_dir: Path) -> None:
    tenants = load_directory(ruleset_dir)
    assert sorted(tenants.evaluators) == ["acme", "b2b-sales"]
    problems = {Path(p.file).name: p.reason for p in tenants.catalog.problems}
    assert sorted(problems) == ["broken.yaml", "garbage.yaml", "zz_clash.yaml"]
    assert "[invalid-timezone]" in problems["broken.yaml"]
    assert problems["broken.yaml"].startswith(f"{ruleset_dir / 'broken.yaml'}:6:")
    assert "[yaml-syntax]" in problems["garbage.yaml"]
    assert "already defined in" in problems["zz_clash.yaml"]
    # A broken file is known by its name and by the id it declares, when it can be read.
    assert {"broken", "broken-co", "garbage"} <= set(tenants.catalog.broken)
    assert [Path(b.file).name for b in tenants.catalog.unread] == ["garbage.yaml"]


@pytest.mark.parametrize(("make", "message"), [
    (lambda tmp: tmp / "missing", "no such directory"),
    (lambda tmp: tmp, "holds no .yaml or .yml file"),
    (lambda tmp: B2B, "not a directory"),
])
def test_unreadable_directories(tmp_path: Path, make: object, message: str) -> None:
    with pytest.raises(CatalogError, match=message):
        load_directory(make(tmp_path))  # type: ignore[operator]


def test_each_deal_is_judged_by_the_ruleset_it_names(ruleset_dir: Path) -> None:
    tenants = load_directory(ruleset_dir)
    deals = sample()
    mixed = [{**deal, "ruleset": "acme" if i % 2 else "b2b-sales"}
             for i, deal in enumerate(deals)]
    result = evaluate_partition(mixed, tenants, NOW, "mixed.jsonl")
    alone = Evaluator(compile_path(B2B))
    expected = []
    for i, deal in enumerate(deals):
        for finding in alone.evaluate_one(deal, NOW):
            data = finding.to_dict()
            if i % 2:  # the same rules under another id: only the stamp and keys differ
                data["ruleset"] = "acme"
                data.pop("key", None)
            expected.append(data)
    got = [{k: v for k, v in f.items() if not (k == "key" and f["ruleset"] == "acme")}
           for f in result.dicts()]
    assert got == expected
    assert result.records == len(deals)


def test_unknown_and_broken_rulesets_are_bad_records_and_the_rest_go_on(
        ruleset_dir: Path) -> None:
    tenants = load_directory(ruleset_dir)
    deal = sample(1)[0]
    batch = [{**deal, "ruleset": "broken-co"}, {**deal, "ruleset": "acmee"},
             {**deal, "ruleset": "b2b-sales"}, {**deal, "ruleset": None}, [1, 2]]
    result = evaluate_partition(batch, tenants, NOW, "in.jsonl")
    bad = [f for f in result.dicts() if f["code"] == "bad-record"]
    assert [f["details"]["record"] for f in bad] == ["in.jsonl:1", "in.jsonl:2", "in.jsonl:4",
                                                   "in.jsonl:5"]
    assert bad[0]["ruleset"] == "broken-co"
    assert "ruleset 'broken-co' cannot be used: " in bad[0]["message"]
    assert "[invalid-timezone]" in bad[0]["message"]
    assert "ruleset 'acmee' is not in" in bad[1]["message"]
    assert "(did you mean 'acme'?)" in bad[1]["message"]
    assert "garbage.yaml" in bad[1]["message"]  # it may be in the unreadable file
    assert "names no ruleset" in bad[2]["message"]
    assert bad[2]["details"]["path"] == "/ruleset"
    assert "expected an object, got list" in bad[3]["message"]
    good = [f for f in result.dicts() if f["details"].get("record") != "in.jsonl:3"
            and f["code"] != "bad-record"]
    assert good and {f["ruleset"] for f in good} == {"b2b-sales"}


def test_duplicate_ids_are_per_ruleset(ruleset_dir: Path) -> None:
    tenants = load_directory(ruleset_dir)
    deal = {**sample(1)[0], "id": 17}
    batch = [{**deal, "ruleset": "acme"}, {**deal, "ruleset": "b2b-sales"},
             {**deal, "ruleset": "acme"}]
    found = evaluate_partition(batch, tenants, NOW, "d.jsonl").dicts()
    duplicates = [f for f in found if f["code"] == "bad-record"]
    assert len(duplicates) == 1
    assert duplicates[0]["details"] == {"record": "d.jsonl:3", "path": "/id"}
    assert duplicates[0]["ruleset"] == "acme"
    assert "already appeared" in duplicates[0]["message"]


def test_a_field_or_another_key_can_name_the_ruleset(ruleset_dir: Path) -> None:
    deal = sample(1)[0]
    by_field = {**deal, "fields": {**deal["fields"], "ruleset": "acme"}}  # type: ignore[dict-item]
    found = evaluate_partition([by_field], load_directory(ruleset_dir), NOW).dicts()
    assert found and {f["ruleset"] for f in found} == {"acme"}
    tenant = {**deal, "tenant": "acme"}
    found = evaluate_partition([tenant], load_directory(ruleset_dir, key="tenant"), NOW).dicts()
    assert found and {f["ruleset"] for f in found} == {"acme"}


def test_tenants_pickle_compiled_and_judge_the_same(ruleset_dir: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    tenants = load_directory(ruleset_dir, lang="ru")
    data = pickle.dumps(tenants)
    # A worker gets the compiled rulesets: nothing is checked or compiled again there.
    from pipeline_rules.ruleset import catalog

    def no_compiling(*args: object, **kwargs: object) -> None:
        raise AssertionError("a ruleset was compiled again on unpickling")

    monkeypatch.setattr(catalog, "check_source", no_compiling)
    monkeypatch.setattr(catalog, "compile_ruleset", no_compiling)
    again = pickle.loads(data)
    assert again == tenants and again.fingerprint() == tenants.fingerprint()
    assert sorted(again.evaluators) == sorted(tenants.evaluators)
    batch = [{**deal, "ruleset": r} for deal, r in zip(sample(6), ["acme", "b2b-sales", "x"] * 2,
                                                         strict=True)]
    assert evaluate_partition(batch, again, NOW) == evaluate_partition(batch, tenants, NOW)
    assert "регламента 'x' нет" in evaluate_partition(batch, again, NOW).dicts()[-1]["message"]


def test_jobs_give_the_same_stream(ruleset_dir: Path, tmp_path: Path) -> None:
    tenants = load_directory(ruleset_dir)
    items = [(f"in.jsonl:{i + 1}", orjson.dumps({**deal, "ruleset": ["acme", "b2b-sales"][i % 2]}))
             for i, deal in enumerate(sample(1200))]
    one = run_tenants(tenants, items, NOW, jobs=1)
    two = run_tenants(tenants, items, NOW, jobs=2)
    assert one == two and len(one) > 500


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout, result.stderr


def test_cli_with_a_ruleset_directory(ruleset_dir: Path, tmp_path: Path) -> None:
    deals = tmp_path / "deals.jsonl"
    rows = [{**deal, "ruleset": r} for deal, r in
            zip(sample(30), ["acme", "b2b-sales", "broken-co"] * 10, strict=True)]
    deals.write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in rows) + b"{oops\n")
    code, out, err = run("evaluate", str(ruleset_dir), str(deals), "--now", NOW_TEXT)
    assert code == 0
    findings = [json.loads(line) for line in out.splitlines()]
    assert {f["ruleset"] for f in findings} == {"acme", "b2b-sales", "broken-co", ""}
    assert sum(f["code"] == "bad-record" for f in findings) == 11
    assert "zz_clash.yaml is not used: ruleset id 'acme' is already defined" in err
    assert "broken.yaml is not used: " in err
    assert err.strip().splitlines()[-1].startswith("31 records: ")
    code, _, _ = run("evaluate", str(ruleset_dir), str(deals), "--now", NOW_TEXT, "--strict")
    assert code == 1


def test_cli_now_without_offset_is_utc_for_many_rulesets(ruleset_dir: Path,
                                                          tmp_path: Path) -> None:
    deals = tmp_path / "deals.jsonl"
    deals.write_text('{"id": "X", "ruleset": "nope"}\n', encoding="utf-8")
    _, out, _ = run("evaluate", str(ruleset_dir), str(deals), "--now", "2026-11-20T06:05")
    assert json.loads(out)["at"] == "2026-11-20T06:05:00+00:00"


def test_cli_csv_mapping_maps_a_column_to_the_ruleset(ruleset_dir: Path,
                                                       tmp_path: Path) -> None:
    (tmp_path / "map.yaml").write_text(
        "format: wide\ndeal: Id\ncolumns: {source: Source}\nfields: {ruleset: Company}\n"
        "stage_dates: {request: Request, qualification: Qualified}\ntimezone: Europe/Moscow\n",
        encoding="utf-8")
    (tmp_path / "deals.csv").write_text(
        "Id,Company,Source,Request,Qualified\n"
        "1,acme,web_form,2026-11-02T10:00,2026-11-03T10:00\n"
        "1,b2b-sales,web_form,2026-11-02T10:00,\n"
        "2,nobody,web_form,2026-11-02T10:00,\n", encoding="utf-8")
    code, out, _ = run("evaluate", str(ruleset_dir), str(tmp_path / "deals.csv"), "--mapping",
                       str(tmp_path / "map.yaml"), "--now", NOW_TEXT)
    assert code == 0
    findings = [json.loads(line) for line in out.splitlines()]
    assert {f["ruleset"] for f in findings if f["code"] != "bad-record"} == {"acme", "b2b-sales"}
    bad = [f for f in findings if f["code"] == "bad-record"]
    assert [(b["deal"], b["ruleset"], b["details"]["path"]) for b in bad] == [
        ("2", "nobody", "/fields/ruleset")]


def test_one_ruleset_through_the_new_path_is_byte_identical(tmp_path: Path) -> None:
    """--output FILE.jsonl takes the multi-ruleset loop with one ruleset: same bytes as
    stdout from the single-ruleset loop, bad and duplicate records included."""
    deals = tmp_path / "deals.jsonl"
    rows = sample(300)
    lines = [orjson.dumps(row) for row in rows] + [b"{oops", orjson.dumps(rows[3])]
    deals.write_bytes(b"\n".join(lines) + b"\n")
    command = [sys.executable, "-m", "pipeline_rules", "evaluate", str(B2B), str(deals),
               "--now", NOW_TEXT, "--format", "jsonl"]
    legacy = subprocess.run(command, capture_output=True, check=True)
    written = tmp_path / "out.jsonl"
    new = subprocess.run([*command[:-2], "--output", str(written)], capture_output=True,
                         check=True)
    assert written.read_bytes() == legacy.stdout
    assert b"already appeared" in legacy.stdout and b"malformed JSON" in legacy.stdout
    assert new.stderr == legacy.stderr


def test_load_file_judges_every_deal_whatever_it_names() -> None:
    tenants = load_file(B2B)
    found = evaluate_partition([{**sample(1)[0], "ruleset": "elsewhere"}], tenants, NOW)
    assert found.lines and all(f["ruleset"] == "b2b-sales" for f in found.dicts())


def test_a_record_no_ruleset_can_judge_is_named_by_its_id_like_any_bad_record(
        ruleset_dir: Path) -> None:
    tenants = load_directory(ruleset_dir)
    batch = [{"id": True, "stage": "meeting", "ruleset": "nope"},
             {"id": True, "stage": "meeting", "ruleset": "b2b-sales"}]
    found = evaluate_partition(batch, tenants, NOW, "d.jsonl").dicts()
    assert [(f["code"], f["deal"]) for f in found] == [("bad-record", "True")] * 2
