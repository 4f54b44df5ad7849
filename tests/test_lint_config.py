"""Lint configuration: severities, config files, and where a suppression comment starts."""

from __future__ import annotations

import pytest

from pipeline_rules.ruleset.checks.config import (
    ConfigError,
    LintConfig,
    comment_start,
    config_from_mapping,
    suppressions,
)
from pipeline_rules.ruleset.problems import Severity
from pipeline_rules.ruleset.source import Source


@pytest.mark.parametrize(("line", "expected"), [
    ("a: 1 # note", 5),
    ("# whole line", 0),
    ('  - {id: p, title: "Postponed #2 # pipeline-rules: disable"}', None),
    ("t: 'it''s # not a comment' # this is", 27),
    ('k: "a \\" # still text" # comment', 23),
    ("url: http://example.com/#anchor", None),
    ("x: a#b", None),
])
def test_comment_start(line: str, expected: int | None) -> None:
    assert comment_start(line) == expected


def test_suppressions_by_line_next_line_and_file() -> None:
    source = Source("r.yaml", "\n".join([
        "a: 1  # pipeline-rules: disable=gap-stage, parallel-stages",
        "# pipeline-rules: disable-next-line=dead-end",
        "b: 2",
        "c: 3  # pipeline-rules: disable",
        "# pipeline-rules: disable-file=inconsistent-sla",
    ]))
    found = suppressions(source)
    assert found.silenced("gap-stage", 1) and found.silenced("parallel-stages", 1)
    assert not found.silenced("dead-end", 1)
    assert found.silenced("dead-end", 3) and not found.silenced("dead-end", 2)
    assert found.silenced("anything", 4)
    assert found.silenced("inconsistent-sla", 99)
    assert [(d.line, d.names) for d in found.directives] == [
        (1, (("gap-stage", 33), ("parallel-stages", 44))),
        (2, (("dead-end", 37),)),
        (4, ()),
        (5, (("inconsistent-sla", 32),)),
    ]


def test_config_merge_and_severity() -> None:
    base = LintConfig({"gap-stage": "warning", "dead-end": "off"}, ("ждем",))
    merged = base.merged(LintConfig({"gap-stage": "info"}, ("stalled",)))
    assert merged.severity("gap-stage", Severity.ERROR) is Severity.INFO
    assert merged.severity("dead-end", Severity.ERROR) is None
    assert merged.severity("no-start", Severity.ERROR) is Severity.ERROR
    assert merged.gap_vocabulary == ("ждем", "stalled")


@pytest.mark.parametrize(("data", "message"), [
    ([1], "expected a mapping"),
    ({"rule": {}}, "unknown key 'rule'"),
    ({"rules": {"gap-stage": "loud"}}, "'loud' is not one of"),
    ({"rules": [], "gap_vocabulary": []}, "'rules' must be a mapping"),
])
def test_bad_config(data: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_from_mapping(data, "lint.yaml")
