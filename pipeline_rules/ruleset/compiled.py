"""The compiled ruleset: the model with every value parsed, ready for the machine and evaluator.

Compiling parses what the model keeps as text — the time zone, calendars, durations, the cron
schedule, conditions — and expands moves declared ``from: "*"``. It is done once per ruleset; the
machine and the evaluator share the result. A ruleset whose values do not parse cannot be
compiled (:class:`CompileError`); lint reports the same problems with positions.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from zoneinfo import ZoneInfo

from pipeline_rules.ruleset.conditions import (
    CompiledCondition,
    HasFields,
    compile_conditions,
    field_value,
    matches,
)
from pipeline_rules.ruleset.graph import StageGraph, build_graph
from pipeline_rules.ruleset.model import Ruleset, StartDef, TransitionDef
from pipeline_rules.ruleset.plugins import NO_PLUGINS, PluginError, Plugins, load_plugins
from pipeline_rules.time.calendars import BusinessCalendar, CalendarError, build_calendar
from pipeline_rules.time.durations import Duration, DurationError, parse_duration
from pipeline_rules.time.schedules import CronError, CronSchedule, parse_cron
from pipeline_rules.time.timezones import TimezoneError, get_zone

_MEMO_LIMIT = 4096


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
    #: Every duration the ruleset writes, by its text, parsed when it was compiled.
    durations: Mapping[str, Duration] = field(default_factory=dict)
    _start_memo: dict[tuple[object, ...], Start | None] = field(
        default_factory=dict, init=False, repr=False, compare=False)
    _durations: dict[str, Duration] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    @cached_property
    def _start_fields(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.field for s in self.starts for c in s.when))

    @property
    def id(self) -> str:
        """The ruleset's id."""
        return self.ruleset.id

    def start_for(self, deal: HasFields) -> Start | None:
        """The first start definition whose conditions the deal matches."""
        # Memoised by the values the start conditions read (usually just the lead source):
        # replaying a million histories asks this a million times for a handful of sources.
        try:
            key = tuple([field_value(deal, f) for f in self._start_fields])
            return self._start_memo[key]
        except (KeyError, TypeError):
            pass
        found = next((s for s in self.starts if matches(s.when, deal)), None)
        with contextlib.suppress(TypeError):
            if len(self._start_memo) < _MEMO_LIMIT:
                self._start_memo[key] = found
        return found

    def calendar(self, name: str | None) -> BusinessCalendar | None:
        """The calendar called ``name`` (None for wall-clock time)."""
        return None if name is None else self.calendars.get(name)

    def duration(self, text: str) -> Duration:
        """A duration from the ruleset, as parsed when it was compiled."""
        compiled = self.durations.get(text)
        if compiled is not None:
            return compiled
        found = self._durations.get(text)
        if found is None:
            found = self._durations[text] = parse_duration(text)
        return found


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
    except (TimezoneError, CalendarError, CronError, DurationError) as err:
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
                           plugins, durations)

