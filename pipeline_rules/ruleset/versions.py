"""Versions in force: one ruleset kept as several versions, each with the instant it takes effect.

A versions folder (``rulesets/b2b_sales/``) holds one file per version, each declaring the same
``id``, its ``revision`` and its ``effective`` instant. A deal is judged by the version in force
when what is timed began — a stage SLA by the version when the deal entered the stage, a span
SLA by the version when the span began, task rules and reminders by the version in force at
``now``, moves by the version in force when they were made (docs/versions.md).

The folder's versions are checked together: every file must be a version (``revision`` and
``effective``), of one ruleset id, no two taking effect at the same instant. A folder that fails
cannot be used — nothing is judged silently by the wrong version. Whether a version is in force
at all depends on the time asked, so that is lint's to warn about (:func:`not_in_force`).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pipeline_rules import i18n
from pipeline_rules.ruleset.checks.diagnostics import Diagnostic
from pipeline_rules.ruleset.compiled import CompiledRuleset
from pipeline_rules.ruleset.problems import Severity

#: The rule name the folder's problems are reported under.
RULE = "versions"


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


def _diagnostic(compiled: CompiledRuleset, pointer: str, key: str, args: dict[str, object],
                lang: str, severity: Severity = Severity.ERROR) -> Diagnostic:
    rs = compiled.ruleset
    where = rs.positions.key(pointer) if rs.positions.has(pointer) else rs.positions.value("")
    return Diagnostic(RULE, severity, i18n.render(key, args, lang), rs.source.name, where.line,
                      where.column, pointer, rs.source.line(where.line))


def folder_problems(entries: Sequence[CompiledRuleset], lang: str = i18n.DEFAULT
                    ) -> list[Diagnostic]:
    """What stops a folder's files from being versions of one ruleset: a file that is not a
    version, a file of another ruleset id, two versions taking effect at one instant."""
    found: list[Diagnostic] = []
    if not entries:
        return found
    first = entries[0]
    for compiled in entries:
        if compiled.effective is None or compiled.revision is None:
            found.append(_diagnostic(compiled, "", "versions.unversioned",
                                     {"folder": _folder(compiled)}, lang))
        if compiled.id != first.id:
            found.append(_diagnostic(compiled, "/id", "versions.mixed-id",
                                     {"id": compiled.id, "first": first.id,
                                      "file": first.ruleset.source.name}, lang))
    seen: dict[datetime, CompiledRuleset] = {}
    labels: dict[str, CompiledRuleset] = {}
    for compiled in entries:
        if compiled.effective is not None:
            earlier = seen.setdefault(compiled.effective, compiled)
            if earlier is not compiled:
                found.append(_diagnostic(compiled, "/effective", "versions.same-instant",
                                         {"effective": compiled.ruleset.effective,
                                          "file": earlier.ruleset.source.name}, lang))
        if compiled.revision is not None:
            named = labels.setdefault(compiled.revision, compiled)
            if named is not compiled:
                found.append(_diagnostic(compiled, "/revision", "versions.same-revision",
                                         {"revision": compiled.revision,
                                          "file": named.ruleset.source.name}, lang))
    return found


def not_in_force(versions: Versions, now: datetime, lang: str = i18n.DEFAULT
                 ) -> list[Diagnostic]:
    """A warning when no version is in force at ``now``: the first takes effect later."""
    first = versions.entries[0]
    if versions.instants[0] <= now:
        return []
    return [_diagnostic(first, "/effective", "versions.none-in-force",
                        {"effective": first.ruleset.effective, "id": versions.id}, lang,
                        Severity.WARNING)]


def _folder(compiled: CompiledRuleset) -> str:
    name = compiled.ruleset.source.name
    return name.rsplit("/", 1)[0] if "/" in name else "."


__all__ = ["RULE", "Versions", "folder_problems", "not_in_force"]
