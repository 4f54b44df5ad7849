"""Intake: an input record into a deal a compiled ruleset can work with, or why not.

Shared by the evaluator, the analysis and the backtest, so all three accept and refuse the same
records for the same reasons.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline_rules import i18n
from pipeline_rules.deals import Item, as_record
from pipeline_rules.deals.decode import parse_deal
from pipeline_rules.deals.model import Deal, DealError
from pipeline_rules.ruleset.compiled import CompiledRuleset


@dataclass(frozen=True)
class Rejection:
    """Why a record cannot be used: a message, the JSON pointer of the bad part, its origin and
    the deal id when known."""

    origin: str
    message: str
    path: str = ""
    deal: str | None = None


def intake(item: Item, compiled: CompiledRuleset, lang: str = i18n.DEFAULT,
           origin: str = "") -> Deal | Rejection:
    """The deal in an input item, checked against the ruleset's stages, or its rejection."""
    record = as_record(item, origin)
    if record.error is not None:
        return Rejection(record.origin, record.said(lang) or record.error, deal=record.deal)
    try:
        deal = parse_deal(record.data, compiled.zone)
    except DealError as err:
        return Rejection(record.origin, err.said(lang), err.path, record.deal)
    problem = stage_problem(deal, compiled, lang)
    if problem is not None:
        return Rejection(record.origin, problem[0], problem[1], deal.id)
    return deal


def stage_problem(deal: Deal, compiled: CompiledRuleset,
                  lang: str = i18n.DEFAULT) -> tuple[str, str] | None:
    """Why a parsed deal cannot be evaluated against the ruleset's stages: a message and the
    JSON pointer it is about; None when every stage it names is the ruleset's."""
    index = compiled.graph.index
    if deal.stage is None:
        return i18n.render("bad-record.no-stage", {}, lang), "/stage"
    if deal.stage not in index:
        return i18n.render("bad-record.unknown-stage", {"stage": deal.stage}, lang), "/stage"
    for i, entry in enumerate(deal.history):
        if entry.stage not in index:
            return (i18n.render("bad-record.unknown-stage", {"stage": entry.stage}, lang),
                    f"/history/{i}/stage")
    return None
