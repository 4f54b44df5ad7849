"""Message catalogs: Russian covers English, with the same placeholders."""

from __future__ import annotations

import string

from pipeline_rules import i18n


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_catalogs_have_the_same_keys_and_placeholders() -> None:
    en, ru = i18n.catalog("en"), i18n.catalog("ru")
    assert set(en) == set(ru)
    for key, template in en.items():
        assert fields(template) == fields(ru[key]), key


def test_render_and_fallbacks() -> None:
    assert i18n.render("unknown-stage", {"name": "x"}, "ru") == "этап 'x' не объявлен"
    assert i18n.render("unknown-stage", {"name": "x"}, "de") == "no stage 'x' is declared"
    assert i18n.render("no.such.key", {}, "en") == "no.such.key"
    assert i18n.render("schema.type", {"expected": i18n.Term(("type.array", "type.string")),
                                       "found": i18n.Term(("type.object",))}, "ru") == (
        "ожидается список или текст, а здесь словарь (ключ: значение)")


def test_language_detection() -> None:
    assert i18n.detect({"LANG": "ru_RU.UTF-8"}) == "ru"
    assert i18n.detect({"LC_ALL": "en_US.UTF-8", "LANG": "ru_RU.UTF-8"}) == "en"
    assert i18n.detect({"LANG": "de_DE.UTF-8"}) == "en"
    assert i18n.detect({}) == "en"


def _latin_words(text: str) -> list[str]:
    """The Latin-letter words a person reads in ``text``: quoted names ('x', «x») left out."""
    import re

    unquoted = re.sub(r"'[^']*'|«[^»]*»", " ", text)
    return re.findall(r"[A-Za-z][A-Za-z0-9_.\-#]*", unquoted)


def test_russian_output_of_the_reference_example_has_no_english_words() -> None:
    """`evaluate --lang ru` on the reference example, as a table and its summary, and the
    routed example's messages: every Latin-letter word left is an id or a value from the
    ruleset or the deals (a stage, rule, action or code name, a deal, task, person or event
    type), never an English word."""
    import json

    from click.testing import CliRunner
    from helpers import ROOT

    from pipeline_rules.cli import main
    from pipeline_rules.evaluate.findings import ACTION_CODES, VIOLATION_CODES
    from pipeline_rules.ruleset.catalog import load_ruleset

    deals = [json.loads(line) for line in
             (ROOT / "examples" / "deals.jsonl").read_text("utf-8").splitlines()]
    allowed = set(VIOLATION_CODES) | set(ACTION_CODES)
    for deal in deals:
        allowed |= {deal["id"], deal.get("owner"), deal.get("manager")}
        allowed |= {t["id"] for t in deal["tasks"]} | {e["type"] for e in deal["events"]}
    for name in ("rulesets/b2b_sales.yaml", "examples/b2b_sales_routed.yaml"):
        rs = load_ruleset(ROOT / name)
        allowed |= {s.id for s in rs.stages} | {s.id for s in rs.slas}
        allowed |= {r.id for r in rs.reminders} | {a.name for a in rs.actions}
        allowed |= {"transitions", "tasks.require_next", "tasks.overdue_grace"}
        allowed |= {f"tasks.max_gap.{g.stage}" for g in rs.tasks.max_gap} if rs.tasks else set()
        allowed |= {f"on_enter.{s.id}.{i}" for s in rs.stages for i in range(len(s.on_enter))}
        result = CliRunner().invoke(main, [
            "evaluate", str(ROOT / name), str(ROOT / "examples" / "deals.jsonl"), "--now",
            "2026-11-20T09:05:00+03:00", "--format", "table", "--lang", "ru"])
        assert result.exit_code == 0
        text = result.stdout + result.stderr
        assert "руководитель" in text and "записей" in text
        english = sorted({w for w in _latin_words(text) if w not in allowed})
        assert english == [], name


def test_russian_bad_record_reasons(tmp_path: object) -> None:
    """Bad records read in Russian: a line that is not JSON, a time that does not parse, a
    history out of order, a record that is not an object, a pause that ends before it starts,
    a missing field in a start condition. Only ids, values and the names of the formats
    (JSON, ISO 8601) stay in Latin letters."""
    from pathlib import Path

    from click.testing import CliRunner
    from helpers import ROOT

    from pipeline_rules.cli import main

    lines = [
        "not json",
        '{"id": "B-3", "stage": "meeting", "history": [{"stage": "meeting", "at": "soon"}]}',
        '{"id": "B-5", "stage": "meeting", "history": [{"stage": "meeting", "at": '
        '"2026-11-10T10:00:00+03:00"}, {"stage": "find_dm", "at": "2026-11-01T10:00:00+03:00"}]}',
        "[1, 2]",
        '{"id": "B-7", "stage": "meeting", "history": [{"stage": "meeting", "at": '
        '"2026-11-10T10:00:00+03:00"}], "pauses": [{"from": "2026-11-12T10:00:00+03:00", '
        '"to": "2026-11-11T10:00:00+03:00", "reason": "x"}]}',
        '{"id": "B-8", "stage": "meeting", "manager": "anna", "history": [{"stage": "meeting",'
        ' "at": "2026-11-19T10:00:00+03:00"}], "tasks": [{"id": "t", "due": '
        '"2026-11-25T10:00:00+03:00"}]}',
    ]
    deals = Path(str(tmp_path)) / "bad.jsonl"
    deals.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = CliRunner().invoke(main, [
        "evaluate", str(ROOT / "rulesets" / "b2b_sales.yaml"), str(deals), "--now",
        "2026-11-20T09:05:00+03:00", "--format", "table", "--lang", "ru"])
    text = result.stdout + result.stderr
    assert "неверный JSON: строка 1, столбец 1" in text
    assert "история не по порядку времени" in text and "пауза не может закончиться" in text
    assert "(нет значения)" in text
    allowed = {"JSON", "ISO", "bad-record", "illegal-transition", "transitions", "meeting",
               "find_dm", "B-3", "B-5", "B-7", "B-8", "tmp", "bad.jsonl", "T09", "T10"}
    words = {w for w in _latin_words(text) if w not in allowed and str(tmp_path) not in w}
    assert not {w for w in words if not any(w in part for part in str(deals).split("/"))}, words


def test_russian_lint_output_names_severities_and_counts_in_russian() -> None:
    """`lint --lang ru`: the severity of each line and the summary's counts are Russian (the
    rule names in brackets are ids)."""
    from click.testing import CliRunner
    from helpers import ROOT

    from pipeline_rules.cli import main

    folder = ROOT / "tests" / "fixtures" / "lint"
    result = CliRunner().invoke(main, [
        "lint", "--lang", "ru", "--no-source", "--color", "never",
        str(folder / "invalid-routing" / "bad-manager-cycle.yaml"),
        str(folder / "unknown-role" / "bad-typo-and-undeclared.yaml")])
    assert result.exit_code == 1
    assert ": ошибка [invalid-routing] цепочка руководителей замыкается в круг" in result.stdout
    assert result.stdout.count(": предупреждение [unknown-role] роль '") == 2
    assert result.stderr.strip() == "1 ошибка, 2 предупреждения; проверено: 2 файла"
    assert i18n.plural(21, "file", "ru") == "21 файл" and i18n.plural(14, "file", "ru") == (
        "14 файлов")
