"""Routing data: who manages whom, which teams exist, and the owner → manager lookup file.

A ruleset says where managers are found — ``people:`` (a person's own manager), ``teams:`` (the
manager of a team's members) and ``routing.lookup`` (a CSV file as a CRM exports it, owner →
manager) — and this module gathers them into one :class:`Directory` at compile time, so the
evaluator resolves a role with dictionary look-ups. Reading the lookup file is the only I/O; its
problems (missing, malformed, an owner listed twice) are :class:`LookupError` with the line.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pipeline_rules.ruleset.model import LookupDef, Ruleset

#: Roles every deal can name without declaring anything.
BUILTIN_ROLES = frozenset({"owner", "manager", "client"})
#: The prefix of a role read from a deal field (``fields.account_manager``).
FIELD_PREFIX = "fields."
#: Roles each violation code is told of when ``routing:`` is on and names none for it: the task
#: findings (the owner; the manager too once a task is overdue past its grace) and a pause past
#: its limit. Other codes are routed where the ruleset says so (``routing.notify``, an SLA's
#: levels and actions), so a plain ``warn: [50, 80]`` keeps its output.
DEFAULT_ROUTES: Mapping[str, tuple[str, ...]] = {
    "no-next-task": ("owner",),
    "next-task-too-far": ("owner",),
    "task-overdue": ("owner", "manager"),
    "task-without-due": ("owner",),
    "pause-too-long": ("owner",),
}
#: Codes never routed: a record that cannot be read has nobody to tell, and an ``unrouted``
#: finding is itself the report that nobody could be told.
NOT_ROUTED = frozenset({"bad-record", "unrouted", "plugin-error"})


class LookupFileError(ValueError):
    """A lookup file that cannot be used: ``line`` is its 1-based line (0: the whole file)."""

    def __init__(self, message: str, args: Mapping[str, object], line: int = 0) -> None:
        super().__init__(f"{message} {dict(args)}")
        self.message = message
        self.key_args = dict(args)
        self.line = line


@dataclass(frozen=True)
class Directory:
    """Teams, people and managers, resolved once per ruleset (plain data: it pickles)."""

    enabled: bool = False
    #: person → their manager: ``people:`` first, then the team's manager, then the lookup file.
    managers: Mapping[str, str] = field(default_factory=dict)
    teams: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: member → the first team (in document order) listing them.
    team_of: Mapping[str, str] = field(default_factory=dict)
    #: Everyone the ruleset names: declared people, team members, managers.
    people: frozenset[str] = frozenset()
    lookup: str | None = None
    #: violation code → roles told, as the ruleset says or by default.
    routes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: owner → load from the lookup file's load column (for least-loaded assignment).
    loads: Mapping[str, float] = field(default_factory=dict)

    @property
    def routes_any(self) -> bool:
        """Whether any violation is routed (routing is on, or a code is routed by name)."""
        return self.enabled or bool(self.routes)

    def route(self, code: str) -> tuple[str, ...]:
        """The roles told of a violation ``code``: as the ruleset says, else by default when
        ``routing:`` is on, else none."""
        if code in NOT_ROUTED:
            return ()
        found = self.routes.get(code)
        if found is not None:
            return found
        if not self.enabled:
            return ()
        return DEFAULT_ROUTES.get(code, ())


def lookup_path(ruleset: Ruleset, lookup: LookupDef) -> Path:
    """The lookup file's path: relative to the ruleset file's folder."""
    return Path(ruleset.source.name).parent / lookup.file


@dataclass(frozen=True)
class LookupTable:
    """What a lookup file says: each owner's manager, and each owner's load when it has a load
    column (open deals, as the CRM counted them at the export)."""

    managers: Mapping[str, str]
    loads: Mapping[str, float]


def read_lookup(path: Path, lookup: LookupDef) -> LookupTable:
    """Owner → manager (and load) from a CSV file (any of , ; or tab separated, UTF-8 with or
    without a BOM); raise :class:`LookupFileError` for a file that is missing, malformed, lacks
    a column, lists an owner twice with different managers or has a load that is no number."""
    try:
        text = path.read_text("utf-8-sig")
    except FileNotFoundError:
        raise LookupFileError("routing.lookup-missing", {"file": lookup.file}) from None
    except (OSError, UnicodeDecodeError) as err:
        raise LookupFileError("routing.lookup-unreadable",
                              {"file": lookup.file, "error": str(err)}) from None
    first = text.partition("\n")[0]
    delimiter = max(",;\t", key=first.count)
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    except csv.Error as err:
        raise LookupFileError("routing.lookup-unreadable",
                              {"file": lookup.file, "error": str(err)}) from None
    if not rows:
        raise LookupFileError("routing.lookup-empty", {"file": lookup.file})
    header = [h.strip() for h in rows[0]]
    columns = {}
    wanted = (lookup.owner_column, lookup.manager_column,
              *((lookup.load_column,) if lookup.load_column else ()))
    for name in wanted:
        if name not in header:
            raise LookupFileError("routing.lookup-column",
                                  {"file": lookup.file, "column": name,
                                   "columns": ", ".join(header)}, 1)
        columns[name] = header.index(name)
    owner_at, manager_at = columns[lookup.owner_column], columns[lookup.manager_column]
    load_at = columns[lookup.load_column] if lookup.load_column else None
    managers: dict[str, str] = {}
    loads: dict[str, float] = {}
    seen: dict[str, int] = {}
    for number, row in enumerate(rows[1:], 2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(owner_at, manager_at, load_at or 0):
            raise LookupFileError("routing.lookup-short",
                                  {"file": lookup.file, "line": number}, number)
        owner, manager = row[owner_at].strip(), row[manager_at].strip()
        if not owner:
            continue
        if owner in managers and managers[owner] != manager:
            raise LookupFileError("routing.lookup-duplicate",
                                  {"file": lookup.file, "owner": owner, "line": number,
                                   "first": seen[owner]}, number)
        if manager:
            managers[owner] = manager
            seen.setdefault(owner, number)
        if load_at is not None:
            try:
                loads[owner] = float(row[load_at].strip().replace(",", ".") or 0)
            except ValueError:
                raise LookupFileError("routing.lookup-load",
                                      {"file": lookup.file, "line": number,
                                       "value": row[load_at]}, number) from None
    return LookupTable(managers, loads)


def manager_cycle(managers: Mapping[str, str]) -> list[str] | None:
    """A chain of managers that comes back to where it began (``a → b → a``), or None."""
    done: set[str] = set()
    for start in managers:
        chain: list[str] = []
        on_chain: set[str] = set()
        person: str | None = start
        while person is not None and person not in done:
            if person in on_chain:
                return [*chain[chain.index(person):], person]
            chain.append(person)
            on_chain.add(person)
            person = managers.get(person)
        done.update(chain)
    return None


def build_directory(ruleset: Ruleset, lookup: LookupTable | None = None) -> Directory:
    """The directory of a ruleset (``lookup``: the lookup file, already read)."""
    managers: dict[str, str] = dict(lookup.managers) if lookup is not None else {}
    teams: dict[str, tuple[str, ...]] = {}
    team_of: dict[str, str] = {}
    for team in ruleset.teams:
        teams.setdefault(team.name, team.members)
        for member in team.members:
            team_of.setdefault(member, team.name)
            if team.manager is not None and member != team.manager:
                managers[member] = team.manager
    for person in ruleset.people:
        if person.manager is not None:
            managers[person.name] = person.manager
    routing = ruleset.routing
    routes = {code: tuple(r.name for r in refs) for code, refs in routing.notify} \
        if routing is not None else {}
    if ruleset.pauses is not None and ruleset.pauses.roles:
        routes.setdefault("pause-too-long", tuple(r.name for r in ruleset.pauses.roles))
    # Everyone the ruleset names is a person a role may name: declared people, team members,
    # the managers of teams and people.
    people = {p.name for p in ruleset.people} | set(team_of) | {
        m for m in (*(t.manager for t in ruleset.teams), *(p.manager for p in ruleset.people))
        if m is not None}
    return Directory(routing is not None, managers, teams, team_of, frozenset(people),
                     routing.lookup.file if routing is not None and routing.lookup else None,
                     routes, dict(lookup.loads) if lookup is not None else {})
