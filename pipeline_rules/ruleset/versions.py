"""Versions in force: one ruleset kept as several versions, each with the instant it takes effect.

A versions folder (``rulesets/b2b_sales/``) holds one file per version, each declaring the same
``id``, its ``revision`` and its ``effective`` instant. A deal is judged by the version in force
when what is timed began — a stage SLA by the version when the deal entered the stage, a span
SLA by the version when the span began, task rules and reminders by the version in force at
``now``, moves by the version in force when they were made (docs/versions.md).

The folder's versions are checked together: every file must be a version (``revision`` and
``effective``), of one ruleset id, no two taking effect at the same instant. A folder that fails
cannot be used — nothing is judged silently by the wrong version. Whether a version is in force
at all depends on the time asked, so that is lint's to warn about (:func:`none_in_force`).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from pipeline_rules import i18n
from pipeline_rules.ruleset.checks.diagnostics import Diagnostic
from pipeline_rules.ruleset.compiled import CompiledRuleset
from pipeline_rules.ruleset.problems import Problem, Severity


@dataclass(frozen=True)
class Versions:
    """The versions of one ruleset in effective order, with the instants they take effect."""

    id: str
    entries: tuple[CompiledRuleset, ...]
    instants: tuple[datetime, ...]
    #: The same instants as POSIX seconds.
    stamps: tuple[float, ...]
    #: The folder they were read from.
    folder: str = ""

    @classmethod
    def of(cls, entries: Sequence[CompiledRuleset], folder: str = "") -> Versions:
        """Versions from compiled rulesets that all have an effective instant."""
        ordered = sorted(entries, key=_effective)
        instants = tuple(_effective(c) for c in ordered)
        return cls(ordered[0].id, tuple(ordered), instants,
                   tuple(i.timestamp() for i in instants), folder)

    def index_at(self, moment: datetime) -> int:
        """The index of the version in force at ``moment`` (the first one before them all)."""
        # On POSIX seconds: comparing datetimes of different zones asks both for their
        # offsets at every step of the search.
        return max(bisect_right(self.stamps, moment.timestamp()) - 1, 0)

    def at(self, moment: datetime) -> CompiledRuleset:
        """The version in force at ``moment`` (the first one before them all)."""
        return self.entries[self.index_at(moment)]

    @property
    def latest(self) -> CompiledRuleset:
        """The version that takes effect last."""
        return self.entries[-1]

    def named(self, revision: str) -> CompiledRuleset | None:
        """The version with this revision label."""
        return next((c for c in self.entries if c.revision == revision), None)


def _effective(compiled: CompiledRuleset) -> datetime:
    assert compiled.effective is not None
    return compiled.effective


def _problem(compiled: CompiledRuleset, pointer: str, key: str,
             args: dict[str, object]) -> Problem:
    """A problem of one version at ``pointer`` (at its key; the document's start when the
    version does not write it)."""
    rs = compiled.ruleset
    where = rs.positions.key(pointer) if rs.positions.has(pointer) else rs.positions.value("")
    return Problem(key, args, pointer, at_key=True, position=where)


def unversioned(entries: Sequence[CompiledRuleset], index: int) -> Iterator[Problem]:
    """A file of the folder that is not a version: no ``revision`` or no ``effective``."""
    compiled = entries[index]
    if compiled.effective is None or compiled.revision is None:
        yield _problem(compiled, "", "versions.unversioned", {"folder": _folder(compiled)})


def mixed_id(entries: Sequence[CompiledRuleset], index: int) -> Iterator[Problem]:
    """A version whose ruleset id is not the folder's (its first file's)."""
    compiled, first = entries[index], entries[0]
    if compiled.id != first.id:
        yield _problem(compiled, "/id", "versions.mixed-id",
                       {"id": compiled.id, "first": first.id,
                        "file": first.ruleset.source.name})


def same_instant(entries: Sequence[CompiledRuleset], index: int) -> Iterator[Problem]:
    """A version taking effect at the instant an earlier file's does."""
    compiled = entries[index]
    earlier = next((c for c in entries[:index]
                    if c.effective is not None and c.effective == compiled.effective), None)
    if earlier is not None:
        yield _problem(compiled, "/effective", "versions.same-instant",
                       {"effective": compiled.ruleset.effective,
                        "file": earlier.ruleset.source.name})


def same_revision(entries: Sequence[CompiledRuleset], index: int) -> Iterator[Problem]:
    """A version with the revision label an earlier file's has."""
    compiled = entries[index]
    earlier = next((c for c in entries[:index]
                    if c.revision is not None and c.revision == compiled.revision), None)
    if earlier is not None:
        yield _problem(compiled, "/revision", "versions.same-revision",
                       {"revision": compiled.revision, "file": earlier.ruleset.source.name})


#: What stops a folder's files from being versions of one ruleset, each check under the name
#: of the lint rule that reports it (:mod:`pipeline_rules.lint.rules.versions` documents them).
FOLDER_CHECKS: tuple[tuple[str, Callable[[Sequence[CompiledRuleset], int],
                                         Iterator[Problem]]], ...] = (
    ("versions-unversioned-file", unversioned),
    ("versions-mixed-id", mixed_id),
    ("versions-same-instant", same_instant),
    ("versions-same-revision", same_revision),
)
#: The rule warning that no version is in force yet.
NONE_IN_FORCE = "versions-none-in-force"


def usable(entries: Sequence[CompiledRuleset]) -> bool:
    """Whether a folder's files are versions of one ruleset (no check of it finds anything)."""
    return not any(next(check(entries, i), None) is not None
                   for i in range(len(entries)) for _, check in FOLDER_CHECKS)


def folder_problems(entries: Sequence[CompiledRuleset], lang: str = i18n.DEFAULT
                    ) -> list[Diagnostic]:
    """What stops a folder's files from being versions of one ruleset: a file that is not a
    version, a file of another ruleset id, two versions taking effect at one instant or with
    one revision; file by file, as lint reports them."""
    found: list[Diagnostic] = []
    for index, compiled in enumerate(entries):
        source = compiled.ruleset.source
        for name, check in FOLDER_CHECKS:
            for problem in check(entries, index):
                where = problem.position
                assert where is not None
                found.append(Diagnostic(name, Severity.ERROR,
                                        i18n.render(problem.message, problem.args, lang),
                                        source.name, where.line, where.column, problem.path,
                                        source.line(where.line)))
    return found


def none_in_force(entries: Sequence[CompiledRuleset], index: int, now: datetime
                  ) -> Iterator[Problem]:
    """For the version that takes effect first, of a usable folder: that it is not in force
    yet at ``now`` (deals are judged by it until then)."""
    if not entries or not usable(entries):
        return
    versions = Versions.of(entries)
    first = versions.entries[0]
    if first is entries[index] and versions.instants[0] > now:
        yield _problem(first, "/effective", "versions.none-in-force",
                       {"effective": first.ruleset.effective, "id": versions.id})


def _folder(compiled: CompiledRuleset) -> str:
    name = compiled.ruleset.source.name
    return name.rsplit("/", 1)[0] if "/" in name else "."


__all__ = ["FOLDER_CHECKS", "NONE_IN_FORCE", "Versions", "folder_problems", "mixed_id",
           "none_in_force", "same_instant", "same_revision", "unversioned", "usable"]
