"""The YAML loader: positions, duplicate keys, safe loading and the size/alias limits."""

from __future__ import annotations

import io

import pytest

from pipeline_rules.ruleset.loader import (
    MAX_ALIAS_NODES,
    MAX_BYTES,
    ReadError,
    decode,
    load_document,
    read_source,
)
from pipeline_rules.ruleset.problems import DocumentError
from pipeline_rules.ruleset.source import Position, Source


def load(text: str) -> object:
    return load_document(Source("t.yaml", text))


def test_positions_of_keys_and_values() -> None:
    doc = load_document(Source("t.yaml", "id: x\nstages:\n  - id: meeting\n    title: Встреча\n"))
    assert doc.data == {"id": "x", "stages": [{"id": "meeting", "title": "Встреча"}]}
    assert doc.positions.value("/stages/0/id") == Position(3, 9)
    assert doc.positions.key("/stages/0/id") == Position(3, 5)
    assert doc.positions.value("/stages/0/title") == Position(4, 12)
    # A pointer below a scalar falls back to the nearest node that exists.
    assert doc.positions.value("/stages/0/id/extra") == Position(3, 9)


def test_columns_count_characters_not_bytes() -> None:
    doc = load_document(Source("t.yaml", "a: {t: Встреча, b: 1}\n"))
    assert doc.positions.value("/a/b") == Position(1, 20)


def test_duplicate_keys_are_reported_and_the_first_value_kept() -> None:
    doc = load_document(Source("t.yaml", "limit: 7d\nother: 1\nlimit: 14d\n"))
    assert doc.data == {"limit": "7d", "other": 1}
    assert len(doc.problems) == 1
    rule, problem = doc.problems[0]
    assert rule == "duplicate-key"
    assert problem.position == Position(3, 1)
    assert problem.args == {"key": "limit", "line": 1}


def test_scalars_follow_yaml_1_2_booleans_and_keep_dates_as_text() -> None:
    doc = load_document(Source("t.yaml", "a: NO\nb: yes\nc: true\nd: 2026-12-31\ne: 3\n"
                                         "f: 1.5\ng: null\nh: off\n"))
    assert doc.data == {"a": "NO", "b": "yes", "c": True, "d": "2026-12-31", "e": 3,
                        "f": 1.5, "g": None, "h": "off"}


def test_merge_keys_merge_and_explicit_keys_win() -> None:
    doc = load_document(Source("t.yaml", "base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\n"))
    assert doc.data == {"base": {"x": 1, "y": 2}, "other": {"x": 1, "y": 3}}


@pytest.mark.parametrize("text", [
    "a: !!python/object:os.system {}\n",
    "a: !!python/name:os.system\n",
    "a: !custom 1\n",
    "a: !!binary aGVsbG8=\n",
    "a: !!set {x: null}\n",
])
def test_only_plain_data_tags_are_allowed(text: str) -> None:
    with pytest.raises(DocumentError) as err:
        load(text)
    assert err.value.rule == "yaml-syntax"
    assert err.value.problem.message == "yaml-syntax.tag"
    assert err.value.problem.position is not None


def test_tab_indentation_is_a_syntax_error_at_the_tab() -> None:
    with pytest.raises(DocumentError) as err:
        load("stages:\n\t- id: a\n")
    assert err.value.rule == "yaml-syntax"
    assert err.value.problem.message == "yaml-syntax.tab"
    assert err.value.problem.position == Position(2, 1)


def test_syntax_error_has_the_parser_position() -> None:
    with pytest.raises(DocumentError) as err:
        load("a: [1, 2\nb: 3\n")
    assert err.value.rule == "yaml-syntax"
    assert err.value.problem.position is not None
    assert err.value.problem.position.line == 2


def test_alias_bomb_is_refused() -> None:
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 10):
        refs = ", ".join([f"*l{level - 1}"] * 10)
        lines.append(f"l{level}: &l{level} [{refs}]")
    with pytest.raises(DocumentError) as err:
        load("\n".join(lines) + "\n")
    assert err.value.rule == "document-limit"
    assert err.value.problem.args == {"limit": MAX_ALIAS_NODES}


def test_modest_alias_use_is_fine() -> None:
    doc = load_document(Source("t.yaml", "c: &c {source: cold}\na: [*c, *c, *c]\n"))
    assert doc.data == {"c": {"source": "cold"}, "a": [{"source": "cold"}] * 3}


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(DocumentError) as err:
        load("a: &a [1, *a]\n")
    assert err.value.problem.message == "yaml-syntax.recursive-alias"


def test_deep_nesting_is_refused_not_a_recursion_error() -> None:
    with pytest.raises(DocumentError) as err:
        load("a: " + "[" * 500 + "]" * 500 + "\n")
    assert err.value.rule == "document-limit"


def test_empty_document_loads_as_none() -> None:
    assert load_document(Source("t.yaml", "")).data is None
    assert load_document(Source("t.yaml", "# only a comment\n")).data is None


def test_several_documents_are_a_syntax_error() -> None:
    with pytest.raises(DocumentError) as err:
        load("a: 1\n---\nb: 2\n")
    assert err.value.rule == "yaml-syntax"


def test_invalid_utf8_reports_the_byte_position() -> None:
    with pytest.raises(DocumentError) as err:
        decode("id: x\ntitle: Вст".encode() + b"\xc2\xf1\n", "t.yaml")
    assert err.value.rule == "encoding"
    assert err.value.problem.position == Position(2, 11)


def test_bom_is_accepted() -> None:
    assert decode(b"\xef\xbb\xbfid: x\n", "t.yaml").text == "id: x\n"


def test_oversized_file_is_refused_before_reading(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "big.yaml"  # type: ignore[operator]
    with open(path, "wb") as out:
        out.truncate(MAX_BYTES + 1)
    with pytest.raises(DocumentError) as err:
        read_source(path)
    assert err.value.rule == "document-limit"


def test_oversized_stdin_is_refused() -> None:
    with pytest.raises(DocumentError) as err:
        read_source("-", stdin=io.BytesIO(b"#" * (MAX_BYTES + 10)))
    assert err.value.rule == "document-limit"


def test_stdin_is_read() -> None:
    assert read_source("-", stdin=io.BytesIO(b"id: x\n")) == Source("<stdin>", "id: x\n")


def test_missing_file_and_directory_are_read_errors(tmp_path: pytest.TempPathFactory) -> None:
    with pytest.raises(ReadError, match="no such file"):
        read_source(tmp_path / "missing.yaml")  # type: ignore[operator]
    with pytest.raises(ReadError, match="directory"):
        read_source(tmp_path)  # type: ignore[arg-type]
