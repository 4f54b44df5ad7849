"""What a rule sees: the source, the parsed document, the model and derived facts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING

from pipeline_rules.ruleset.graph import StageGraph, build_graph
from pipeline_rules.ruleset.loader import Document
from pipeline_rules.ruleset.model import Ruleset
from pipeline_rules.ruleset.problems import DocumentError
from pipeline_rules.ruleset.source import Source

if TYPE_CHECKING:
    from pipeline_rules.ruleset.compiled import CompiledRuleset


@dataclass(frozen=True)
class CheckContext:
    """Inputs of one check run over one document; derived facts are computed once, on demand."""

    source: Source
    document: Document | None = None
    fatal: DocumentError | None = None
    model: Ruleset | None = None
    gap_vocabulary: tuple[str, ...] = ()
    #: For a folder rule: the compiled files of the versions folder, in file order, this one
    #: at ``index``, and the time of the run (what is in force depends on it).
    folder: tuple[CompiledRuleset, ...] = ()
    index: int = 0
    now: datetime | None = None

    @property
    def ruleset(self) -> Ruleset:
        """The ruleset model (ruleset-phase rules only run when there is one)."""
        if self.model is None:
            raise LookupError("no ruleset model in a document-phase check context")
        return self.model

    @cached_property
    def graph(self) -> StageGraph:
        """The stage graph of the ruleset."""
        return build_graph(self.ruleset)

    @cached_property
    def stage_ids(self) -> frozenset[str]:
        """Every declared stage id."""
        return frozenset(s.id for s in self.ruleset.stages)
