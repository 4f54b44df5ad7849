"""The compiled ruleset: the model with every value parsed, ready for the machine and evaluator.

Compiling parses what the model keeps as text — the time zone, calendars, durations, the cron
schedule, conditions — and expands moves declared ``from: "*"``. It is done once per ruleset; the
machine and the evaluator share the result. A ruleset whose values do not parse cannot be
compiled (:class:`CompileError`); lint reports the same problems with positions.

The result is immutable plain data: it holds no caches (what is worth remembering per deal lives
on an evaluation run), so any number of threads share it, and it pickles — its conditions are
small frozen objects and its plugins are pickled by reference — so worker processes can be sent
the compiled ruleset instead of compiling it again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from pipeline_rules.ruleset.conditions import (
    CompiledCondition,
    HasFields,
    compile_conditions,
)
from pipeline_rules.ruleset.graph import StageGraph, build_graph
from pipeline_rules.ruleset.model import Ruleset, StartDef, TransitionDef
from pipeline_rules.ruleset.plugins import NO_PLUGINS, PluginError, Plugins, load_plugins
from pipeline_rules.ruleset.routing import (
    Directory,
    LookupFileError,
    build_directory,
    lookup_path,
    read_lookup,
)
from pipeline_rules.time.calendars import BusinessCalendar, CalendarError, build_calendar
from pipeline_rules.time.durations import Duration, DurationError, parse_duration
from pipeline_rules.time.now import NowError, parse_now
from pipeline_rules.time.schedules import CronError, CronSchedule, parse_cron
from pipeline_rules.time.timezones import TimezoneError, get_zone


class CompileError(ValueError):
    """A ruleset value that does not parse (run ``pipeline-rules lint`` for positions)."""


@dataclass(frozen=True)
class Start:
    """A start definition: deals its conditions match begin their cycle in ``stage``."""

    id: str
    stage: str
    when: tuple[CompiledCondition, ...]
    definition: StartDef


@dataclass(frozen=True)
class Move:
    """One declared move from one stage to another, with its guards."""

    source: str
    target: str
    require: tuple[str, ...]
    when: tuple[CompiledCondition, ...]
    unless: tuple[CompiledCondition, ...]
    definition: TransitionDef


@dataclass(frozen=True)
class CompiledRuleset:
    """A ruleset with its values parsed, shared by the machine and the evaluator."""

    ruleset: Ruleset
    zone: ZoneInfo
    graph: StageGraph
    starts: tuple[Start, ...]
    moves: tuple[Move, ...]
    calendars: Mapping[str, BusinessCalendar]
    schedule: CronSchedule | None
    plugins: Plugins = NO_PLUGINS
    #: Every duration the ruleset writes, by its text, parsed once at compile time.
    durations: Mapping[str, Duration] = field(default_factory=dict)
    #: When this version takes effect (None: the ruleset is not kept in versions).
    effective: datetime | None = None
    #: Teams, people and managers, with the lookup file read (see :mod:`.routing`).
    directory: Directory = field(default_factory=Directory)

    @property
    def revision(self) -> str | None:
        """The version's revision label (None: the ruleset is not kept in versions)."""
        return self.ruleset.revision

    @property
    def id(self) -> str:
        """The ruleset's id."""
        return self.ruleset.id

    def start_for(self, deal: HasFields) -> Start | None:
        """The first start definition whose conditions the deal matches."""
        for start in self.starts:  # loops, not matches(): replays ask this for every deal
            for condition in start.when:
                if not condition.holds(deal):
                    break
            else:
                return start
        return None

    def calendar(self, name: str | None) -> BusinessCalendar | None:
        """The calendar called ``name`` (None for wall-clock time)."""
        return None if name is None else self.calendars.get(name)

    def duration(self, text: str) -> Duration:
        """A duration from the ruleset (parsed at compile time; other text is parsed now)."""
        found = self.durations.get(text)
        return found if found is not None else parse_duration(text)


def compile_ruleset(ruleset: Ruleset, plugins: Plugins | None = None) -> CompiledRuleset:
    """Parse every value of ``ruleset`` and load the plugins it enables (or use ``plugins``);
    raise :class:`CompileError` for the first bad value or missing plugin."""
    try:
        if plugins is None:
            plugins = load_plugins(ruleset.plugins)
    except PluginError as err:
        raise CompileError(f"ruleset '{ruleset.id}': {err}") from None
    operators = plugins.conditions
    try:
        zone = get_zone(ruleset.timezone)
        calendars = {c.name: build_calendar(c.name, c.spec, zone) for c in ruleset.calendars}
        schedule = (parse_cron(ruleset.schedule.evaluate, zone)
                    if ruleset.schedule is not None and ruleset.schedule.evaluate is not None
                    else None)
        durations = {site.text: parse_duration(site.text) for site in ruleset.duration_sites()}
        effective = (parse_now(ruleset.effective, zone, "/effective")
                     if ruleset.effective is not None else None)
    except (TimezoneError, CalendarError, CronError, DurationError, NowError) as err:
        raise CompileError(f"ruleset '{ruleset.id}': {err}") from None
    lookup = None
    if ruleset.routing is not None and ruleset.routing.lookup is not None:
        try:
            lookup = read_lookup(lookup_path(ruleset, ruleset.routing.lookup),
                                 ruleset.routing.lookup)
        except LookupFileError as err:
            raise CompileError(f"ruleset '{ruleset.id}': {err}") from None
    graph = build_graph(ruleset)
    starts = tuple(Start(s.id, s.stage.name, compile_conditions(s.when, operators), s)
                   for s in ruleset.starts if s.stage.name in graph.index)
    moves: list[Move] = []
    for move in ruleset.transitions:
        target = move.target.name
        sources = ([s for s in graph.order if graph.is_open(s)] if move.any_source
                   else [r.name for r in move.sources])
        when = compile_conditions(move.when, operators)
        unless = compile_conditions(move.unless, operators)
        moves.extend(Move(source, target, move.require, when, unless, move)
                     for source in sources
                     if source != target and source in graph.index and target in graph.index)
    return CompiledRuleset(ruleset, zone, graph, starts, tuple(moves), calendars, schedule,
                           plugins, durations, effective, build_directory(ruleset, lookup))

