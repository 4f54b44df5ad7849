"""Loading rulesets for use: one catalog for a file or a directory, each ruleset read,
checked and compiled once."""

from __future__ import annotations

from helpers import ROOT

from pipeline_rules.ruleset.catalog import compile_path

B2B = ROOT / "rulesets" / "b2b_sales.yaml"


def test_compiling_keeps_every_duration_it_parsed() -> None:
    compiled = compile_path(B2B)
    sites = list(compiled.ruleset.duration_sites())
    assert sites and {s.text for s in sites} == set(compiled.durations)
    for site in sites:
        assert compiled.duration(site.text) is compiled.durations[site.text]
