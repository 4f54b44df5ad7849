"""The impact of a ruleset change on the deals in flight: which are judged differently, and how.

Both rulesets judge the same records at the same ``now`` through the one judge
(:mod:`pipeline_rules.evaluate.judge`). A deal's findings are matched by what they are about —
kind, code, rule, action, task — not by their text, so a changed limit shows as a finding that
**moves** (its ``at`` or ``due`` changes), and a rule added or removed as findings that
**appear** or **disappear**. A deal sitting in a stage the new ruleset no longer has is
**stranded**: the new ruleset cannot judge it at all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from pipeline_rules import i18n
from pipeline_rules.deals import Item, as_record
from pipeline_rules.deals.model import Record
from pipeline_rules.evaluate.findings import Finding
from pipeline_rules.evaluate.intake import Rejection, intake
from pipeline_rules.evaluate.judge import Judge, Judged, Runs, judge_records
from pipeline_rules.ruleset.catalog import catalog_of
from pipeline_rules.ruleset.compiled import CompiledRuleset

APPEARS = "appears"
DISAPPEARS = "disappears"
MOVES = "moves"


@dataclass(frozen=True)
class FindingChange:
    """One finding of one deal that the new ruleset judges differently."""

    change: str
    deal: str
    origin: str
    old: Finding | None
    new: Finding | None

    @property
    def finding(self) -> Finding:
        """The finding as the new ruleset gives it (as the old one did, if it disappears)."""
        found = self.new or self.old
        assert found is not None
        return found


@dataclass(frozen=True)
class Stranded:
    """A deal in a stage the new ruleset removes."""

    deal: str
    origin: str
    stage: str


@dataclass(frozen=True)
class Impact:
    """How many records were judged, the findings that change and the stranded deals."""

    records: int
    deals: int
    changes: tuple[FindingChange, ...]
    stranded: tuple[Stranded, ...]

    @property
    def affected(self) -> int:
        """How many deals are judged differently."""
        return len({c.deal for c in self.changes} | {s.deal for s in self.stranded})


def _identity(finding: Finding) -> tuple[object, ...]:
    task = finding.details.get("task") if finding.details else None
    return (finding.kind, finding.code, finding.rule, finding.action, task)


def compare(old: Sequence[Finding], new: Sequence[Finding], deal: str, origin: str
            ) -> list[FindingChange]:
    """The changes from one deal's old findings to its new ones."""
    olds: dict[tuple[object, ...], list[Finding]] = defaultdict(list)
    for finding in old:
        olds[_identity(finding)].append(finding)
    changes: list[FindingChange] = []
    for finding in new:
        matched = olds.get(_identity(finding))
        if not matched:
            changes.append(FindingChange(APPEARS, deal, origin, None, finding))
            continue
        before = matched.pop(0)
        if before.at != finding.at or before.due != finding.due:
            changes.append(FindingChange(MOVES, deal, origin, before, finding))
    for left in olds.values():
        changes.extend(FindingChange(DISAPPEARS, deal, origin, f, None) for f in left)
    return changes


def impact(old: CompiledRuleset, new: CompiledRuleset, items: Iterable[Item],
           now: datetime, lang: str = i18n.DEFAULT) -> Impact:
    """Judge every record by ``old`` and by ``new`` at ``now`` and compare, deal by deal."""
    records = [as_record(item, f"record {n}") for n, item in enumerate(items, 1)]
    old_judge, new_judge = Judge.of(catalog_of(old)), Judge.of(catalog_of(new))
    before = list(judge_records(old_judge, records, Runs(now, lang)))
    after = list(judge_records(new_judge, records, Runs(now, lang)))
    changes: list[FindingChange] = []
    stranded: list[Stranded] = []
    deals = 0
    for record, was, now_is in zip(records, before, after, strict=True):
        name = _deal(record, was, now_is)
        if name is None:
            continue
        deals += 1
        changes.extend(compare(was.findings, now_is.findings, name, record.origin))
        deal = intake(record, old, lang)
        if not isinstance(deal, Rejection) and deal.stage is not None \
                and deal.stage not in new.graph.index:
            stranded.append(Stranded(name, record.origin, deal.stage))
    return Impact(len(records), deals, tuple(changes), tuple(stranded))


def _deal(record: Record, was: Judged, now_is: Judged) -> str | None:
    """The deal id a record names, if either side could read one."""
    return was.deal or now_is.deal or record.deal


__all__ = ["APPEARS", "DISAPPEARS", "MOVES", "FindingChange", "Impact", "Stranded", "compare",
           "impact"]
