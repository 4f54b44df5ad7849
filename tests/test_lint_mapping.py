"""lint knows a CSV mapping file: its schema (every problem in one pass), two stages on one date
column, and — against a CSV sample — columns missing from the header and unmapped CRM stages;
lint DIR checks mapping files as mappings, not as rulesets."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from helpers import ROOT

from pipeline_rules.cli import main

SAMPLE = ROOT / "examples" / "wide_export" / "deals.csv"
BAD = """format: wide
deal: opportunity_id
stage: deal_stage
stage_dates:
  engaging: engage_date
  won: close_date
  lost: close_date
stages: {Engaging: engaging, Won: won, Lost: lost}
"""


def lint(*args: str) -> tuple[int, list[dict[str, object]]]:
    result = CliRunner().invoke(main, ["lint", "--format", "json", *args])
    return result.exit_code, json.loads(result.stdout)["diagnostics"]


def where(found: list[dict[str, object]]) -> list[tuple[object, ...]]:
    return [(d["rule"], d["line"], d["column"]) for d in found]


def test_lint_dir_reads_mappings_as_mappings() -> None:
    code, found = lint(str(ROOT / "examples" / "mappings"), str(ROOT / "examples" / "wide_export"))
    assert (code, found) == (0, [])


def test_the_example_mapping_fits_its_export() -> None:
    code, found = lint(str(ROOT / "examples" / "wide_export" / "mapping.yaml"),
                       "--sample", str(SAMPLE))
    assert (code, found) == (0, [])


def test_two_stages_on_one_date_column_say_use_closed(tmp_path: Path) -> None:
    (tmp_path / "map.yaml").write_text(BAD)
    code, found = lint(str(tmp_path / "map.yaml"))
    assert code == 1 and where(found) == [("mapping-shared-date", 7, 9)]
    assert "use instead 'closed: close_date'" in str(found[0]["message"])


def test_a_sample_finds_missing_columns_and_unmapped_stages(tmp_path: Path) -> None:
    text = BAD.replace("  lost: close_date\n", "").replace(", Lost: lost", "") + \
        "fields: {amount: value}\n"
    (tmp_path / "map.yaml").write_text(text)
    code, found = lint(str(tmp_path / "map.yaml"), "--sample", str(SAMPLE))
    assert code == 1 and where(found) == [("mapping-column", 8, 18)]
    assert "'value'" in str(found[0]["message"]) and "'close_value'" in str(found[0]["message"])
    (tmp_path / "map.yaml").write_text(text.replace("value}", "close_value}"))
    code, found = lint(str(tmp_path / "map.yaml"), "--sample", str(SAMPLE))
    assert code == 1 and where(found) == [("mapping-unmapped-stage", 7, 1)]
    assert "'Lost' (line " in str(found[0]["message"])
    assert "'Prospecting' (line " in str(found[0]["message"])


def test_every_schema_problem_in_one_pass(tmp_path: Path) -> None:
    (tmp_path / "map.yaml").write_text("format: wide\ndeal: 3\nstage_datez: {}\ntimezone: 5\n")
    code, found = lint(str(tmp_path / "map.yaml"))
    assert code == 1 and where(found) == [("mapping-schema", 1, 1), ("mapping-schema", 2, 7),
                                          ("mapping-schema", 3, 1), ("mapping-schema", 4, 11)]


def test_a_value_the_reader_refuses_is_reported_at_its_place(tmp_path: Path) -> None:
    (tmp_path / "map.yaml").write_text("format: wide\ndeal: id\nstage_dates: {a: x}\n"
                                       "timezone: Europe/Berln\n")
    code, found = lint(str(tmp_path / "map.yaml"))
    assert code == 1 and where(found) == [("mapping-value", 4, 11)]
    assert "Europe/Berlin" in str(found[0]["message"])


def test_messages_in_russian(tmp_path: Path) -> None:
    (tmp_path / "map.yaml").write_text(BAD)
    _, found = lint(str(tmp_path / "map.yaml"), "--lang", "ru")
    assert str(found[0]["message"]).startswith("этапы 'lost' и 'won'")


def test_rules_explains_the_mapping_rules() -> None:
    from pipeline_rules.lint.mapping import MAPPING_RULES

    for name in MAPPING_RULES:
        result = CliRunner().invoke(main, ["rules", name])
        assert result.exit_code == 0 and "## Use instead" in result.stdout
    shared = CliRunner().invoke(main, ["rules", "mapping-shared-date"]).stdout
    assert "closed: close_date" in shared
    typo = CliRunner().invoke(main, ["rules", "maping-column"])
    assert typo.exit_code == 2 and "did you mean 'mapping-column'?" in typo.stderr
