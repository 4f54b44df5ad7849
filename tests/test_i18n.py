"""Message catalogs: Russian covers English, with the same placeholders."""

from __future__ import annotations

import string

import pytest

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


# --- every command with --lang ru ---------------------------------------------------------------

def _ids_of(*rulesets: str) -> set[str]:
    """The names a ruleset gives (ids, titles, calendars): values a person wrote, not words
    the program adds."""
    from helpers import ROOT

    from pipeline_rules.evaluate.findings import ACTION_CODES, VIOLATION_CODES
    from pipeline_rules.ruleset.catalog import load_ruleset

    names = set(VIOLATION_CODES) | set(ACTION_CODES)
    for path in rulesets:
        rs = load_ruleset(ROOT / path)
        names |= {rs.id, *rs.title.split(), *(c.name for c in rs.calendars)}
        names |= {s.id for s in rs.stages} | {s.id for s in rs.slas}
        names |= {r.id for r in rs.reminders} | {a.name for a in rs.actions}
        names |= {st.id for st in rs.starts}
    return names


def _values_of_csv(path: str) -> set[str]:
    """Every word of every cell of a CSV export (names, products, accounts, ids)."""
    import csv

    from helpers import ROOT

    with open(ROOT / path, encoding="utf-8") as stream:
        return {word for row in csv.reader(stream) for cell in row for word in cell.split()}


def _values_of_jsonl(path: str) -> set[str]:
    import json

    from helpers import ROOT

    words: set[str] = set()
    for line in (ROOT / path).read_text("utf-8").splitlines():
        deal = json.loads(line)
        words |= {str(deal.get(k)) for k in ("id", "owner", "manager", "source", "stage")}
        words |= {t["id"] for t in deal["tasks"]} | {e["type"] for e in deal["events"]}
        words |= {str(k) for k in deal.get("fields", {})}
    return words


def _english_left(text: str, allowed: set[str]) -> list[str]:
    """Latin-letter words of ``text`` a person reads that are neither a quoted name, a path, an
    option (``--from``), a time zone, a number with a unit of the CLI nor an allowed value."""
    import re

    text = re.sub(r"(?:[\w.\-]+/)+[\w.\-]+(?::\d+)?", " ", text)  # paths and origins
    text = re.sub(r"--[a-z][a-z-]*", " ", text)
    text = re.sub(r"\[[a-z-]+\]", " ", text)  # a reason's or rule's code in brackets
    text = re.sub(r"\d{4}-\d\d-\d\dT[\d:+]+", " ", text)  # an ISO time as a file has it
    return sorted({w.rstrip(".-") for w in _latin_words(text)} - allowed - {""})


#: Words the product's vocabulary keeps in every language: the mapping keys a note names, the
#: formats, the program's name and commands, and argument placeholders in usage lines.
KEPT = {"first_stage", "first_stage_warnings", "each", "JSON", "ISO", "pipeline-rules",
        "evaluate", "analyze", "lint", "backtest", "RULESET", "DEALS", "PATHS", "COMMAND"}


def test_every_command_speaks_russian_with_lang_ru(tmp_path: object,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """analyze (with --by and --split: trend, groups, verdict, suggested cycle limit), backtest
    (with --compare), check, deal (a CSV export's deal and a JSON one) and diff, each with
    `--lang ru`: every Latin-letter word left in stdout and stderr is a name from the inputs
    (stage, rule, code, person, product, file), never an English word."""
    from pathlib import Path

    from click.testing import CliRunner
    from helpers import ROOT

    from pipeline_rules.cli import main

    wide = ["examples/wide_export/ruleset.yaml", "examples/wide_export/deals.csv",
            "--mapping", "examples/wide_export/mapping.yaml"]
    wide_names = _ids_of("examples/wide_export/ruleset.yaml") | _values_of_csv(
        "examples/wide_export/deals.csv") | _values_of_csv(
        "examples/wide_export/sales_teams.csv") | _values_of_csv(
        "examples/wide_export/accounts.csv") | {"product", "account", "amount", "office",
                                                "sector", "Europe"}
    b2b_names = _ids_of("rulesets/b2b_sales.yaml", "examples/b2b_sales_routed.yaml") | \
        _values_of_jsonl("examples/deals.jsonl") | {"Europe", "Moscow"}
    deal = Path(str(tmp_path)) / "deal.json"
    deal.write_text((ROOT / "examples" / "deals.jsonl").read_text("utf-8").splitlines()[0])
    runs = [
        (["analyze", *wide, "--now", "2025-12-19T18:00", "--by", "product", "--split",
          "2025-06-01"], wide_names, "весь цикл: предлагаемый лимит"),
        (["backtest", "rulesets/b2b_sales.yaml", "examples/deals.jsonl", "--from",
          "2026-11-01T00:00+03:00", "--to", "2026-11-20T00:00+03:00", "--compare",
          "examples/b2b_sales_routed.yaml"], b2b_names, "итог:"),
        (["check", "rulesets/b2b_sales.yaml", "--deal", str(deal), "--to", "invoice"],
         b2b_names, "отклонено"),
        (["deal", *wide, "OPP-0002", "--now", "2025-12-19T18:00"], wide_names, "ход сделки"),
        (["deal", "rulesets/b2b_sales.yaml", "examples/deals.jsonl", "A-100", "--now",
          "2026-11-20T09:05+03:00"], b2b_names, "находки на"),
        (["diff", "examples/versions/b2b_sales@1", "@2"],
         # the change codes, the keys changed and '7d → 8d' as the files write them
         b2b_names | {"revision-changed", "effective-changed", "sla-limit", "revision",
                      "effective", "limit", "d"}, "норматив 'meeting-stall'"),
    ]
    monkeypatch.chdir(ROOT)
    for argv, names, russian in runs:
        result = CliRunner().invoke(main, [*argv, "--lang", "ru"])
        assert result.exit_code in (0, 1), (argv[0], result.output)
        text = result.stdout + result.stderr
        assert russian in text, (argv[0], text)
        assert _english_left(text, names | KEPT) == [], argv[0]


def test_clicks_usage_errors_in_russian() -> None:
    """Click's own usage errors — a missing argument, an unknown option or command, a value
    not among the choices or out of range, extra arguments — come from the catalog in
    Russian (usage line, hint and error), with --lang ru or a Russian locale; in English
    they are click's, word for word."""
    from click.testing import CliRunner

    from pipeline_rules.cli import main

    cases = [
        (["evaluate", "r.yaml", "--lang", "ru"], "Ошибка: не хватает аргумента 'DEALS'."),
        (["evaluate", "--nwo", "x", "a", "b", "--lang", "ru"],
         "Ошибка: нет параметра '--nwo'. Может быть, '--now'?"),
        (["evaluate", "a", "b", "--format", "xx", "--lang", "ru"],
         "Ошибка: недопустимое значение '--format': 'xx'; допустимы 'jsonl', 'json', "
         "'table', 'csv'."),
        (["evaluate", "a", "b", "--jobs", "0", "--lang", "ru"],
         "Ошибка: недопустимое значение '--jobs': 0; нужно число от 1 до 64."),
        (["evaluate", "a", "b", "c", "--lang", "ru"], "Ошибка: лишние аргументы: c."),
        (["evalute", "--lang", "ru"], "Ошибка: нет команды 'evalute'. Может быть, 'evaluate'?"),
        (["analyze", "a", "--lang=ru"], "Ошибка: не хватает аргумента 'DEALS'."),
    ]
    for argv, error in cases:
        result = CliRunner().invoke(main, argv, prog_name="pipeline-rules")
        assert result.exit_code == 2, argv
        lines = result.stderr.splitlines()
        assert lines[0].startswith("Запуск: pipeline-rules") and "[ПАРАМЕТРЫ]" in lines[0]
        assert lines[1].startswith("Справка: pipeline-rules")
        assert lines[-1] == error, argv
        assert _english_left(result.stderr, KEPT | {"r.yaml", "xx", "c", "evalute", "a", "b",
                                                    "x"}) == [], argv
    located = CliRunner(env={"LC_ALL": "ru_RU.UTF-8"}).invoke(main, ["backtest", "a", "b"],
                                                            prog_name="pipeline-rules")
    assert located.stderr.splitlines()[-1] == "Ошибка: не задан обязательный параметр '--from'."
    english = CliRunner(env={"LC_ALL": "C", "LANG": ""}).invoke(main, ["evaluate", "r.yaml"],
                                                               prog_name="pipeline-rules")
    assert english.stderr.splitlines() == [
        "Usage: pipeline-rules evaluate [OPTIONS] RULESET DEALS",
        "Try 'pipeline-rules evaluate --help' for help.", "", "Error: Missing argument 'DEALS'."]


def test_russian_bad_record_reasons_of_a_csv_export(tmp_path: object) -> None:
    """A CSV export's bad rows, read through a mapping, say why in Russian with `--lang ru` —
    a time of the wrong kind for its column, a cell that is no time, an unmapped CRM stage, no
    deal id, a short row — and so does the note summing up the column; with `--jobs 2` too
    (the reasons cross to the workers as the messages they are). In English, as before."""
    from pathlib import Path

    from click.testing import CliRunner
    from helpers import ROOT

    from pipeline_rules.cli import main

    folder = Path(str(tmp_path))
    (folder / "map.yaml").write_text(
        "format: wide\ndeal: id\nstage: stage\ncolumns: {owner: agent}\n"
        "stage_dates: {engaging: engaged}\nclosed: closed\nfirst_stage: prospecting\n"
        "stages: {Prospecting: prospecting, Engaging: engaging, Won: won, Lost: lost}\n",
        encoding="utf-8")
    (folder / "deals.csv").write_text(
        "id,stage,agent,engaged,closed\n2,Engaging,anna,2025-03-03,\n"
        "3,Engaging,anna,2025-03-04 10:00,\n4,Engaging,anna,xx,\n5,Nowhere,anna,2025-03-03,\n"
        ",Engaging,anna,2025-03-03,\n6,Engaging\n", encoding="utf-8")
    argv = ["evaluate", str(ROOT / "examples" / "wide_export" / "ruleset.yaml"),
            str(folder / "deals.csv"), "--mapping", str(folder / "map.yaml"), "--now",
            "2025-03-10T12:00", "--format", "table"]
    for jobs in ("1", "2"):
        result = CliRunner().invoke(main, [*argv, "--lang", "ru", "--jobs", jobs])
        text = result.stdout + result.stderr
        assert "'2025-03-04 10:00' — время суток, а в столбце только даты" in text
        assert "'xx' — не время в формате ISO 8601" in text
        assert "этапа 'Nowhere' (столбец 'stage') нет в разделе 'stages:'" in text
        assert "нет идентификатора сделки в столбце 'id'" in text
        assert "в строке ячеек: 2, а в заголовке: 5" in text
        assert "смешаны даты и время" in text
        assert _english_left(text, KEPT | {"bad-record", "stages", "Nowhere", "xx",
                                           "anna"}) == [], jobs
    english = CliRunner().invoke(main, [*argv, "--lang", "en"]).stdout
    assert "column 'engaged': 'xx' is not an ISO 8601 time" in english
    assert "the row has 2 cells where the header has 5" in english


def _side_files_export(folder: object) -> list[str]:
    """A wide export whose side files (tasks, events, pauses) and join have bad rows: a done
    cell that is no yes/no, a task of a deal the export lacks, a task without a deal id, a
    short row, an event time that is no time, an account the join cannot find."""
    from pathlib import Path

    path = Path(str(folder))
    files = {
        "map.yaml": "format: wide\ndeal: id\nstage: stage\ncolumns: {owner: agent}\n"
                    "fields: {account: account}\nstage_dates: {engaging: engaged}\n"
                    "closed: closed\nfirst_stage: prospecting\nstages: {Prospecting: "
                    "prospecting, Engaging: engaging, Won: won, Lost: lost}\n"
                    "joins: [{file: accounts.csv, on: {account: account}, take: {region: "
                    "region}}]\ntasks: {file: tasks.csv, deal: deal, id: task, due: due, done: "
                    "done}\nevents: {file: events.csv, deal: deal, type: type, at: at}\n"
                    "pauses: {file: pauses.csv, deal: deal, from: from, to: to, reason: why}\n",
        "deals.csv": "id,stage,agent,account,engaged,closed\n1,Prospecting,anna,Acme,,\n"
                     "2,Engaging,anna,Acme,2025-03-03,\n3,Engaging,anna,Nobody,2025-03-03,\n"
                     "4,Engaging,anna,Acme,2025-03-03,\n5,Engaging,anna,Acme,2025-03-03,\n",
        "accounts.csv": "account,region\nAcme,north\n",
        "tasks.csv": "deal,task,due,done\n2,T1,2025-03-05T10:00,maybe\n"
                     "77,T9,2025-03-05T10:00,no\n,T3,2025-03-05T10:00,no\n4,T4\n",
        "events.csv": "deal,type,at\n5,call,later\n",
        "pauses.csv": "deal,from,to,why\n",
    }
    for name, text in files.items():
        (path / name).write_text(text, encoding="utf-8")
    return [str(path / "deals.csv"), "--mapping", str(path / "map.yaml"), "--now",
            "2025-03-10T12:00", "--format", "table"]


def test_russian_bad_records_of_side_files_and_joins(tmp_path: object) -> None:
    """The rows of a CSV export's side files and joins that cannot be used say why in Russian
    with `--lang ru` (with `--jobs 2` too): each deal with a bad side row is a bad record
    naming the file, line and column; a side row of a deal the export lacks, one without a
    deal id and a short one are bad records of their own; in English, as before."""
    from click.testing import CliRunner
    from helpers import ROOT

    from pipeline_rules.cli import main

    argv = ["evaluate", str(ROOT / "examples" / "wide_export" / "ruleset.yaml"),
            *_side_files_export(tmp_path)]
    for jobs in ("1", "2"):
        result = CliRunner().invoke(main, [*argv, "--lang", "ru", "--jobs", jobs])
        text = result.stdout + result.stderr
        assert "tasks.csv:2: столбец 'done': 'maybe' — не true/false, yes/no или 1/0" in text
        assert "сделки '77' нет в файле сделок; её строки здесь не используются" in text
        assert "tasks.csv:4:" in text and "нет идентификатора сделки в столбце 'deal'" in text
        assert "в строке ячеек: 2, а в заголовке: 4" in text
        assert "events.csv:2: столбец 'at': 'later' — не время в формате ISO 8601" in text
        assert "значения account 'Nobody' нет в столбце 'account' файла" in text
        assert result.stdout.count("bad-record") == 6, result.stdout
        assert _english_left(text, KEPT | {"bad-record", "true", "false", "yes", "no",
                                           "maybe", "later", "account", "Nobody", "stages",
                                           "anna", "prospecting"}) == [], jobs
    english = CliRunner().invoke(main, [*argv, "--lang", "en"]).stdout
    assert "column 'done': 'maybe' is not true/false, yes/no or 1/0" in english
    assert "deal '77' is not in the deals file; its rows here are not used" in english
    assert "account 'Nobody' is not in column 'account' of" in english


def test_evaluate_of_a_directory_and_its_option_errors_in_russian(tmp_path: object) -> None:
    """`evaluate DIR --lang ru`: a file of the directory that is not used (an id another file
    has, a file with errors) is said in Russian, with its reason; so are evaluate's own
    refusals of options that do not go together (usage errors). In English, as before."""
    import shutil
    from pathlib import Path

    from click.testing import CliRunner
    from helpers import ROOT

    from pipeline_rules.cli import main

    folder = Path(str(tmp_path))
    for name in ("a.yaml", "b.yaml"):
        shutil.copy(ROOT / "rulesets" / "b2b_sales.yaml", folder / name)
    (folder / "c.yaml").write_text("version: 1\nid: broken\nstages: 3\n", encoding="utf-8")
    deals = str(ROOT / "examples" / "deals.jsonl")
    argv = ["evaluate", str(folder), deals, "--now", "2026-11-20T09:05:00+03:00"]
    result = CliRunner().invoke(main, [*argv, "--lang", "ru"])
    assert result.exit_code == 0, result.output
    assert (f"pipeline-rules: предупреждение: {folder / 'b.yaml'} не используется: регламент "
            f"с идентификатором 'b2b-sales' уже задан в {folder / 'a.yaml'}") in result.stderr
    assert f"{folder / 'c.yaml'} не используется: {folder / 'c.yaml'}:3:9: [schema] " \
        "ожидается список" in result.stderr
    assert _english_left(result.stderr, KEPT | {"b2b-sales", "bad-record"}) == []
    english = CliRunner().invoke(main, [*argv, "--lang", "en"]).stderr
    assert (f"pipeline-rules: warning: {folder / 'b.yaml'} is not used: ruleset id "
            f"'b2b-sales' is already defined in {folder / 'a.yaml'}") in english
    refusals = [
        (["--scheduler", "x"], "--scheduler и --resume задаются только вместе с --engine dask"),
        (["--horizon", "2 business days"], "недопустимое значение '--horizon': укажите время "
                                           "по часам, например 2h"),
        (["--engine", "dask"], "--engine dask читает набор данных Parquet"),
        (["--output", "x.txt", "--format", "json"], "--format — для вывода на экран"),
        (["--output", "x.csvx"], "недопустимое значение '--output': укажите файл .parquet"),
    ]
    for extra, said in refusals:
        refused = CliRunner().invoke(main, ["evaluate", str(folder / "a.yaml"), deals, *extra,
                                            "--lang", "ru"], prog_name="pipeline-rules")
        assert refused.exit_code == 2, extra
        assert said in refused.stderr.splitlines()[-1], refused.stderr
        assert _english_left(refused.stderr, KEPT | {"dask", "x", "r.yaml", "x.txt", "x.csvx",
                                                     "json", "jsonl", "parquet", "Parquet", "h",
                                                     "txt", "DIRECTORY"}) == [], extra
    missing = CliRunner().invoke(main, ["evaluate", "r.yaml", deals, "--lang", "ru"])
    assert missing.exit_code == 2
    assert missing.stderr == "pipeline-rules: ошибка: r.yaml: нет такого файла\n"
    assert CliRunner().invoke(main, ["evaluate", "r.yaml", deals, "--lang", "en"]).stderr == (
        "pipeline-rules: error: r.yaml: no such file\n")


def test_the_html_reports_of_analyze_and_backtest_follow_lang(tmp_path: object,
                                                                monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    """`analyze --html` (with --by and --split) and `backtest --html --compare` with `--lang
    ru`: the page is `lang="ru"` and every Latin-letter word of its text and chart labels is
    a name from the inputs, an id, a statistic's name (p75, p80, p90, n) or a YAML word of a
    condition; with `--lang en` the page is the English one."""
    from pathlib import Path

    from click.testing import CliRunner
    from helpers import ROOT

    from pipeline_rules.cli import main

    folder = Path(str(tmp_path))
    wide = ["examples/wide_export/ruleset.yaml", "examples/wide_export/deals.csv",
            "--mapping", "examples/wide_export/mapping.yaml"]
    names = _ids_of("examples/wide_export/ruleset.yaml") | _values_of_csv(
        "examples/wide_export/deals.csv") | {"product", "office", "engagement", "Wide", "CRM",
                                             "export"} | _ids_of(
        "rulesets/b2b_sales.yaml", "examples/b2b_sales_routed.yaml") | _values_of_jsonl(
        "examples/deals.jsonl") | {"B2B", "sales", "cycle", "in", "require", "from", "source",
                                   "amount", "payment_date", "web_form", "inbound_call", "email",
                                   "p75", "p80", "p90", "n"}
    runs = [["analyze", *wide, "--now", "2025-12-19T18:00", "--by", "product", "--split",
             "2025-06-01"],
            ["backtest", "rulesets/b2b_sales.yaml", "examples/deals.jsonl", "--from",
             "2026-11-01T00:00+03:00", "--to", "2026-11-20T00:00+03:00", "--compare",
             "examples/b2b_sales_routed.yaml"]]
    monkeypatch.chdir(ROOT)
    for argv in runs:
        page = folder / f"{argv[0]}.html"
        result = CliRunner().invoke(main, [*argv, "--html", str(page), "--lang", "ru"])
        assert result.exit_code in (0, 1), result.output
        text = page.read_text("utf-8")
        assert text.startswith('<!DOCTYPE html>\n<html lang="ru">')
        assert "<h2>Воронка</h2>" in text
        assert _english_left(_read_on(text), names | KEPT) == [], argv[0]
        english = CliRunner().invoke(main, [*argv, "--html", str(page), "--lang", "en"])
        assert english.exit_code in (0, 1)
        text = page.read_text("utf-8")
        assert '<html lang="en">' in text and "<h2>Pipeline</h2>" in text
        assert {"Pipeline", "Ruleset"} <= set(_english_left(_read_on(text), names | KEPT))


def _read_on(page: str) -> str:
    """The text of an HTML page a person reads: its text nodes and the charts' labels."""
    import html
    import re

    page = re.sub(r"<style>.*?</style>", " ", page, flags=re.S)
    labels = " ".join(re.findall(r'aria-label="([^"]*)"', page))
    return html.unescape(labels + " " + re.sub(r"<[^>]+>", " ", page))


def test_mapping_lint_and_csv_reading_errors_in_russian(tmp_path: object) -> None:
    """`lint --lang ru` on mapping files: the reader's refusals (a key of the other layout with
    why, a dated first stage, an unknown time zone with its suggestion, a strptime format with
    no directive) and, with --sample, an unmapped CRM stage with its line, each in Russian at
    its place; so are a missing file and a mapping column the export lacks when evaluating.
    In English, as before."""
    from pathlib import Path

    from click.testing import CliRunner
    from helpers import ROOT

    from pipeline_rules.cli import main

    folder = Path(str(tmp_path))
    maps = {
        "closed.yaml": ("format: changelog\ndeal: id\ntime: t\nvalue: v\nclosed: c\n",
                        "5:1: ошибка [mapping-value] 'closed' относится к формату wide; "
                        "сопоставление формата changelog его не использует: в журнале"),
        "first.yaml": ("format: wide\ndeal: id\nstage: s\nstages: {A: a}\nfirst_stage: a\n"
                       "stage_dates: {a: d}\n", "у этапа 'a' есть столбец даты в разделе "
                                                "'stage_dates'"),
        "tz.yaml": ("format: wide\ndeal: id\nstage_dates: {a: x}\ntimezone: Europe/Berln\n",
                    "4:11: ошибка [mapping-value] неизвестный часовой пояс 'Europe/Berln' "
                    "(может быть, 'Europe/Berlin'?)"),
        "fmt.yaml": ("format: wide\ndeal: id\nstage_dates: {a: x}\ntime_format: 'Q'\n",
                     "'Q' — непригодный формат strptime (в нём нет ни одной директивы %)"),
        "unmapped.yaml": ("format: wide\ndeal: opportunity_id\nstage: deal_stage\n"
                          "stage_dates: {engaging: engage_date}\nstages: {Engaging: engaging}\n",
                          "'Prospecting' (строка "),
    }
    sample = str(ROOT / "examples" / "wide_export" / "deals.csv")
    for name, (text, said) in maps.items():
        (folder / name).write_text(text, encoding="utf-8")
        argv = ["lint", "--no-source", "--color", "never", str(folder / name)]
        argv += ["--sample", sample] if name == "unmapped.yaml" else []
        result = CliRunner().invoke(main, [*argv, "--lang", "ru"])
        assert result.exit_code == 1, name
        assert said in result.stdout, result.stdout
        assert _english_left(result.stdout, KEPT | {
            "closed", "changes", "stages", "wide", "changelog", "first_stage", "stage_dates",
            "Europe", "Berln", "Berlin", "IANA", "UTC", "strptime", "Q", "Prospecting", "Won",
            "Lost", "Engaging", "deal_stage", "a", "CRM"}) == [], name
        english = CliRunner().invoke(main, [*argv, "--lang", "en"]).stdout
        assert "ошибка" not in english and "error [mapping-" in english
    assert "unknown time zone 'Europe/Berln' (did you mean 'Europe/Berlin'?)" in CliRunner(
    ).invoke(main, ["lint", str(folder / "tz.yaml"), "--lang", "en"]).stdout
    missing = CliRunner().invoke(main, ["lint", str(folder / "nothing.yaml"), "--lang", "ru"])
    assert missing.exit_code == 2
    assert missing.stderr == f"pipeline-rules: ошибка: {folder / 'nothing.yaml'}: нет такого " \
        "файла\n"
    (folder / "cols.yaml").write_text("format: wide\ndeal: opportunity_id\nstage: deal_stage\n"
                                      "stage_dates: {engaging: engaged_at}\n", encoding="utf-8")
    refused = CliRunner().invoke(main, [
        "evaluate", str(ROOT / "examples" / "wide_export" / "ruleset.yaml"), sample,
        "--mapping", str(folder / "cols.yaml"), "--lang", "ru"])
    assert refused.exit_code == 2
    assert "столбца 'engaged_at', названного в сопоставлении, нет в заголовке" in refused.stderr


def test_graph_and_rules_frames_in_russian(tmp_path: object) -> None:
    """`graph --lang ru`: the node standing for `from: "*"`, a draft's label and broken edges
    and the line on stderr are Russian (stage names stay as written; `require:`, `when:` are
    the YAML's words); `rules --lang ru`: severities, the unknown-rule message and a note that
    the rule pages are English (as docs/rules.md is). English output as before."""
    from pathlib import Path

    from click.testing import CliRunner
    from helpers import ROOT

    from pipeline_rules.cli import main

    routed = str(ROOT / "examples" / "b2b_sales_routed.yaml")
    for fmt in ("mermaid", "dot"):
        drawn = CliRunner().invoke(main, ["graph", routed, "--format", fmt, "--lang", "ru"])
        assert drawn.exit_code == 0 and "любой открытый этап" in drawn.stdout
        assert "any open stage" not in drawn.stdout
        english = CliRunner().invoke(main, ["graph", routed, "--format", fmt]).stdout
        assert "any open stage" in english
    draft = Path(str(tmp_path)) / "draft.yaml"
    draft.write_text("version: 1\nid: d\nstages:\n  - id: a\n  - id: b\n    from: [zz]\n",
                     encoding="utf-8")
    dot = CliRunner().invoke(main, ["graph", str(draft), "--format", "dot", "--lang", "ru"])
    assert dot.exit_code == 1 and 'label="черновик с ошибками"' in dot.stdout
    assert dot.stderr.startswith(f"pipeline-rules: {draft}: 4 ошибки: нарисован черновик")
    from test_lint_keeps_going import DRAFT

    draft.write_text(DRAFT + "  - {from: review_b, to: contract}\n", encoding="utf-8")
    mermaid = CliRunner().invoke(main, ["graph", str(draft), "--lang", "ru"]).stdout
    assert "  s3 -. ошибка .-> s4" in mermaid.splitlines()  # its move misspells 'require'
    assert 'label="ошибка"' in CliRunner().invoke(
        main, ["graph", str(draft), "--format", "dot", "--lang", "ru"]).stdout
    assert "2 errors: drawn as a draft" in CliRunner().invoke(
        main, ["graph", str(draft), "--lang", "en"]).stderr
    listed = CliRunner().invoke(main, ["rules", "--lang", "ru"])
    assert listed.stderr == "описания правил — на английском, как и docs/rules.md\n"
    first = listed.stdout.splitlines()[0].split()
    assert first[:2] == ["yaml-syntax", "ошибка"]
    assert "предупреждение" in listed.stdout and " warning " not in listed.stdout
    page = CliRunner().invoke(main, ["rules", "mapping-column", "--lang", "ru"])
    assert page.stdout.startswith("mapping-column (ошибка, mapping)")
    typo = CliRunner().invoke(main, ["rules", "maping-column", "--lang", "ru"])
    assert typo.exit_code == 2 and typo.stderr == (
        "pipeline-rules: ошибка: нет правила 'maping-column' (может быть, 'mapping-column'?); "
        "их список выводит 'pipeline-rules rules'\n")
    assert CliRunner().invoke(main, ["rules", "--lang", "en"]).stderr == ""


def test_serve_and_tick_refusals_in_russian(tmp_path: object) -> None:
    """The command line's own refusals of `serve` (options that do not go together) and
    `tick` (no such store) in the language of the command line (`tick --lang ru`, or a Russian
    locale for `serve`, which has no --lang: its HTTP answers take the language per
    request)."""
    from pathlib import Path

    from click.testing import CliRunner
    from helpers import ROOT

    from pipeline_rules.cli import main

    store = str(Path(str(tmp_path)) / "none.db")
    tick = CliRunner().invoke(main, ["tick", "--store", store, "--lang", "ru"])
    assert tick.exit_code == 2 and tick.stderr == (
        f"pipeline-rules: ошибка: {store}: нет такого хранилища\n")
    assert CliRunner().invoke(main, ["tick", "--store", store, "--lang", "en"]).stderr == (
        f"pipeline-rules: error: {store}: no such store\n")
    russian = CliRunner(env={"LC_ALL": "ru_RU.UTF-8"})
    served = russian.invoke(main, ["serve", str(ROOT / "rulesets"), "--sink", "stdout"])
    assert served.exit_code == 2
    assert served.stderr.splitlines()[-1] == "Ошибка: --sink задаётся только вместе с --store"
    served = russian.invoke(main, ["serve", str(ROOT / "rulesets"), "--store", store,
                                   "--workers", "2"])
    assert served.stderr.splitlines()[-1] == (
        "Ошибка: --store работает в одном процессе: оставьте --workers 1")


def test_store_errors_in_russian(tmp_path: object) -> None:
    """A store that is not a database, and one from a newer schema, are refused by `tick` in
    the command line's language; only the database driver's own words stay as it gave them."""
    import sqlite3
    from pathlib import Path

    from click.testing import CliRunner

    from pipeline_rules.cli import main
    from pipeline_rules.runtime.sqlite import SCHEMA_VERSION

    corrupt = Path(str(tmp_path)) / "corrupt.db"
    corrupt.write_bytes(b"this is not a database" * 100)
    said = CliRunner().invoke(main, ["tick", "--store", str(corrupt), "--lang", "ru"])
    assert said.exit_code == 2 and "Traceback" not in said.output
    assert said.stderr.startswith(f"pipeline-rules: ошибка: {corrupt}: хранилище повреждено")
    newer = Path(str(tmp_path)) / "newer.db"
    with sqlite3.connect(newer) as db:
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        db.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION + 1,))
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    for lang, expected in (("ru", f"версия схемы хранилища {SCHEMA_VERSION + 1} новее"),
                           ("en", f"the store has schema version {SCHEMA_VERSION + 1}, newer")):
        said = CliRunner().invoke(main, ["tick", "--store", str(newer), "--lang", lang])
        assert said.exit_code == 2 and expected in said.stderr, said.stderr
    russian = CliRunner().invoke(main, ["tick", "--store", str(newer), "--lang", "ru"]).stderr
    assert not [w for w in _latin_words(russian.replace(str(newer), ""))
                if w != "pipeline-rules"]


def test_backtest_refusals_of_its_period_in_russian() -> None:
    """backtest's own refusals of --every and --to are said in the command line's language
    (click's frame and the reason both); in English, as before."""
    from click.testing import CliRunner
    from helpers import ROOT

    from pipeline_rules.cli import main

    base = ["backtest", str(ROOT / "rulesets" / "b2b_sales.yaml"),
            str(ROOT / "examples" / "deals.jsonl"), "--from", "2026-11-10T00:00+03:00"]
    cases = [(["--to", "2026-11-01T00:00+03:00"], "Ошибка: недопустимое значение '--to': период "
              "заканчивается раньше, чем начинается", "Invalid value for --to: the period ends "
              "before it starts"),
             (["--to", "2026-11-20T00:00+03:00", "--every", "2 business days"],
              "Ошибка: недопустимое значение '--every': укажите положительное время по часам, "
              "например 1d", "Invalid value for --every: use a positive wall-clock time, e.g. 1d")]
    for extra, russian, english in cases:
        said = CliRunner().invoke(main, [*base, *extra, "--lang", "ru"])
        assert said.exit_code == 2 and said.stderr.splitlines()[-1] == russian
        assert english in CliRunner().invoke(main, [*base, *extra, "--lang", "en"]).stderr


def test_a_duration_option_that_does_not_parse_in_russian() -> None:
    """A duration option that does not parse (`--every`, `--horizon`) is refused in the
    command line's language; the accepted forms are quoted as written."""
    from click.testing import CliRunner
    from helpers import ROOT

    from pipeline_rules.cli import main

    ruleset, deals = str(ROOT / "rulesets" / "b2b_sales.yaml"), str(
        ROOT / "examples" / "deals.jsonl")
    runs = [(["backtest", ruleset, deals, "--from", "2026-11-01T00:00+03:00", "--to",
              "2026-11-05T00:00+03:00", "--every", "3x"], "--every"),
            (["evaluate", ruleset, deals, "--horizon", "3x"], "--horizon")]
    for argv, option in runs:
        said = CliRunner().invoke(main, [*argv, "--lang", "ru"])
        assert said.exit_code == 2
        assert said.stderr.splitlines()[-1].startswith(
            f"Ошибка: недопустимое значение '{option}': неверная длительность '3x'; допустимы "
            "'30m', '2h'")
        english = CliRunner().invoke(main, [*argv, "--lang", "en"]).stderr.splitlines()[-1]
        assert english.startswith(f"Error: Invalid value for {option}: invalid duration '3x'; "
                                  "expected one of '30m'")
