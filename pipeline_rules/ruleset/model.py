"""The ruleset model: frozen dataclasses built from a schema-valid document.

Values that need parsing (durations, cron, time zones, calendars) are kept as written here; the
linter reports the ones that do not parse, and the compiled ruleset holds their parsed form. Each
element keeps the JSON pointer of its node, so anything said about it can point at the YAML.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pipeline_rules.ruleset.loader import Document
from pipeline_rules.ruleset.source import Source, SourceMap, join

ANY_STAGE = "*"
CYCLE_START = "start"
CYCLE_END = "end"

Terminal = Literal["won", "lost"]


@dataclass(frozen=True)
class Ref:
    """A name given in the YAML (a stage, action or calendar) and where it was given."""

    name: str
    path: str


@dataclass(frozen=True)
class EntryAction:
    """An action taken when a deal enters a stage (``on_enter``) or ends (``end.on_won`` /
    ``end.on_lost``): ``create_task``, ``assign`` or ``notify``."""

    kind: str
    path: str
    #: ``create_task``: the task's title and how long after the entry it is due.
    title: str | None = None
    due: str | None = None
    #: ``assign``: a fixed person, or a team and how a member is chosen.
    assignee: str | None = None
    team: Ref | None = None
    strategy: str = "fixed"
    #: ``notify``: who is told (roles, see :class:`AlertLevel`).
    roles: tuple[Ref, ...] = ()
    channel: str | None = None


@dataclass(frozen=True)
class Stage:
    """One stage of the pipeline."""

    id: str
    title: str
    description: str
    terminal: Terminal | None
    path: str
    on_enter: tuple[EntryAction, ...] = ()


@dataclass(frozen=True)
class Condition:
    """One test on a deal field: ``field op value`` (``op`` as in the YAML operator object)."""

    field: str
    op: str
    value: object
    path: str


@dataclass(frozen=True)
class StartDef:
    """Where a new deal's cycle starts, for the deals its conditions match."""

    id: str
    stage: Ref
    when: tuple[Condition, ...]
    path: str


@dataclass(frozen=True)
class TransitionDef:
    """A declared move; ``sources`` is empty when it was declared ``from: "*"``."""

    sources: tuple[Ref, ...]
    any_source: bool
    target: Ref
    require: tuple[str, ...]
    when: tuple[Condition, ...]
    unless: tuple[Condition, ...]
    path: str


@dataclass(frozen=True)
class SlaDef:
    """A timer: time in one stage, or a span between two points of the cycle."""

    id: str
    stage: Ref | None
    span_from: Ref | None
    span_to: Ref | None
    limit: str
    calendar: Ref | None
    warn: tuple[float, ...]
    on_breach: tuple[Ref, ...]
    pausable: bool
    path: str
    #: Warning levels in the routed form (``{at: 50%, notify: owner}``), plain numbers included
    #: (without roles), in written order.
    warn_levels: tuple[AlertLevel, ...] = ()
    #: Escalation levels in the routed form (``{after: 2 business days, notify: manager}``).
    breach_levels: tuple[AlertLevel, ...] = ()

    @property
    def limit_path(self) -> str:
        """Pointer of the ``limit`` value."""
        return join(self.path, "limit")


@dataclass(frozen=True)
class AlertLevel:
    """One level of an alert: at a share of a limit (``at``, percent) or some time after a
    breach (``after``), the roles told and how.

    A role is ``owner``, ``manager``, ``client``, a team or person declared in the ruleset, a
    deal field (``fields.<name>``, or a bare name no team or person uses)."""

    at: float | None
    after: str | None
    roles: tuple[Ref, ...]
    channel: str | None
    path: str


@dataclass(frozen=True)
class TeamDef:
    """A team: its members and the manager they answer to."""

    name: str
    members: tuple[str, ...]
    manager: str | None
    path: str


@dataclass(frozen=True)
class PersonDef:
    """A person the ruleset names, with the manager they answer to."""

    name: str
    manager: str | None
    path: str


@dataclass(frozen=True)
class LookupDef:
    """A table file (CSV, as a CRM exports it) mapping each owner to their manager."""

    file: str
    owner_column: str
    manager_column: str
    path: str
    #: A column of each owner's load (open deals), for ``assign: {by: least-loaded}``.
    load_column: str | None = None


@dataclass(frozen=True)
class RoutingDef:
    """The ``routing:`` block: who hears of each kind of violation, where managers are found,
    and how long after an entry its actions are still emitted."""

    notify: tuple[tuple[str, tuple[Ref, ...]], ...]
    lookup: LookupDef | None
    entry_window: str | None
    path: str


@dataclass(frozen=True)
class PausePolicy:
    """The ``pauses:`` block: the longest a pause may stay open, and who hears of it."""

    max: str | None
    calendar: Ref | None
    roles: tuple[Ref, ...]
    path: str


@dataclass(frozen=True)
class GapLimit:
    """The longest allowed gap to the next task, for one stage or by ``default``."""

    stage: str
    duration: str
    path: str


@dataclass(frozen=True)
class TaskPolicy:
    """Task control: a next task required, how far away it may be, grace for overdue tasks."""

    require_next: bool
    max_gap: tuple[GapLimit, ...]
    overdue_grace: str | None
    calendar: Ref | None
    path: str
    require_due: bool = False


@dataclass(frozen=True)
class ReminderDef:
    """Remind someone a fixed time before a deal event."""

    id: str
    event: str
    before: str
    notify: str
    channel: str | None
    stages: tuple[Ref, ...]
    calendar: Ref | None
    path: str


@dataclass(frozen=True)
class ActionDef:
    """A named action that SLA breaches trigger."""

    name: str
    notify: str | None
    channel: str | None
    path: str


@dataclass(frozen=True)
class CalendarDef:
    """A named business calendar, its spec kept as written."""

    name: str
    spec: Mapping[str, Any]
    path: str


@dataclass(frozen=True)
class ScheduleDef:
    """When the evaluator runs (a cron expression)."""

    evaluate: str | None
    path: str


@dataclass(frozen=True)
class LintSettings:
    """Per-ruleset lint configuration (the ``lint:`` block)."""

    rules: Mapping[str, str] = field(default_factory=dict)
    gap_vocabulary: tuple[str, ...] = ()
    path: str = "/lint"


@dataclass(frozen=True)
class Ruleset:
    """A regulation as written: stages, moves, timers, task rules, reminders and actions."""

    version: int
    id: str
    title: str
    description: str
    timezone: str
    calendars: tuple[CalendarDef, ...]
    stages: tuple[Stage, ...]
    starts: tuple[StartDef, ...]
    won: tuple[Ref, ...]
    lost: tuple[Ref, ...]
    transitions: tuple[TransitionDef, ...]
    slas: tuple[SlaDef, ...]
    tasks: TaskPolicy | None
    reminders: tuple[ReminderDef, ...]
    actions: tuple[ActionDef, ...]
    schedule: ScheduleDef | None
    lint: LintSettings
    plugins: tuple[str, ...]
    source: Source
    positions: SourceMap
    #: The revision label of one version of a ruleset kept in versions (None: not versioned).
    revision: str | None = None
    #: When that version takes effect, as written (parsed when compiled).
    effective: str | None = None
    teams: tuple[TeamDef, ...] = ()
    people: tuple[PersonDef, ...] = ()
    routing: RoutingDef | None = None
    pauses: PausePolicy | None = None
    on_won: tuple[EntryAction, ...] = ()
    on_lost: tuple[EntryAction, ...] = ()

    def entry_actions(self) -> Iterator[EntryAction]:
        """Every stage-entry and end action, in document order."""
        for stage in self.stages:
            yield from stage.on_enter
        yield from self.on_won
        yield from self.on_lost

    def calendar_name(self, given: Ref | None) -> str | None:
        """The calendar business time is measured on: the one named, else the only one defined."""
        if given is not None:
            return given.name
        if len(self.calendars) == 1:
            return self.calendars[0].name
        return None

    def duration_sites(self) -> Iterator[DurationSite]:
        """Every duration written in the ruleset, in document order of its section."""
        for sla in self.slas:
            yield DurationSite(sla.limit, sla.limit_path, False, sla.calendar)
        if self.tasks is not None:
            for gap in self.tasks.max_gap:
                yield DurationSite(gap.duration, gap.path, False, self.tasks.calendar)
            if self.tasks.overdue_grace is not None:
                yield DurationSite(self.tasks.overdue_grace, "/tasks/overdue_grace", True,
                                   self.tasks.calendar)
        for reminder in self.reminders:
            yield DurationSite(reminder.before, join(reminder.path, "before"), False,
                               reminder.calendar)
        for sla in self.slas:
            for level in sla.breach_levels:
                if level.after is not None:
                    yield DurationSite(level.after, join(level.path, "after"), True,
                                       sla.calendar)
        for entry in self.entry_actions():
            if entry.due is not None:
                yield DurationSite(entry.due, join(entry.path, "create_task", "due"), True,
                                   None)
        if self.routing is not None and self.routing.entry_window is not None:
            yield DurationSite(self.routing.entry_window, join(self.routing.path, "entry_window"),
                               False, None)
        if self.pauses is not None and self.pauses.max is not None:
            yield DurationSite(self.pauses.max, join(self.pauses.path, "max"), False,
                               self.pauses.calendar)


@dataclass(frozen=True)
class DurationSite:
    """Where a duration is written: its text, its pointer, whether zero may be meant (a grace
    may be none; a limit, gap or lead time must pass) and the calendar it is measured on."""

    text: str
    path: str
    zero_ok: bool
    calendar: Ref | None


def build_ruleset(document: Document) -> Ruleset:
    """Build the model from a document that passed the ruleset schema."""
    data = _mapping(document.data)
    lint = _mapping(data.get("lint"))
    return Ruleset(
        version=int(data.get("version", 1)),
        id=str(data.get("id", "")),
        title=str(data.get("title", "")),
        description=str(data.get("description", "")),
        timezone=str(data.get("timezone", "UTC")),
        calendars=tuple(CalendarDef(str(name), _mapping(spec), join("/calendars", name))
                        for name, spec in _mapping(data.get("calendars")).items()),
        stages=tuple(_stage(item, join("/stages", i))
                     for i, item in enumerate(_list(data.get("stages")))),
        starts=tuple(_start(item, join("/start", i))
                     for i, item in enumerate(_list(data.get("start")))),
        won=_refs(_mapping(data.get("end")).get("won"), "/end/won"),
        lost=_refs(_mapping(data.get("end")).get("lost"), "/end/lost"),
        transitions=tuple(_transition(item, join("/transitions", i))
                          for i, item in enumerate(_list(data.get("transitions")))),
        slas=tuple(_sla(item, join("/sla", i)) for i, item in enumerate(_list(data.get("sla")))),
        tasks=_tasks(data["tasks"]) if isinstance(data.get("tasks"), dict) else None,
        reminders=tuple(_reminder(item, join("/reminders", i))
                        for i, item in enumerate(_list(data.get("reminders")))),
        actions=tuple(_action(str(name), _mapping(spec), join("/actions", name))
                      for name, spec in _mapping(data.get("actions")).items()),
        schedule=(ScheduleDef(_opt_str(_mapping(data["schedule"]).get("evaluate")), "/schedule")
                  if isinstance(data.get("schedule"), dict) else None),
        lint=LintSettings(
            rules={str(k): str(v) for k, v in _mapping(lint.get("rules")).items()},
            gap_vocabulary=tuple(str(w) for w in _list(lint.get("gap_vocabulary"))),
        ),
        plugins=tuple(str(p) for p in _list(data.get("plugins"))),
        source=document.source,
        positions=document.positions,
        revision=_opt_str(data.get("revision")),
        effective=_opt_str(data.get("effective")),
        teams=tuple(TeamDef(str(name), tuple(str(m) for m in _list(_mapping(spec).get("members"))),
                            _opt_str(_mapping(spec).get("manager")), join("/teams", name))
                    for name, spec in _mapping(data.get("teams")).items()),
        people=tuple(PersonDef(str(name), _opt_str(_mapping(spec).get("manager")),
                               join("/people", name))
                     for name, spec in _mapping(data.get("people")).items()),
        routing=_routing(data["routing"]) if isinstance(data.get("routing"), dict) else None,
        pauses=_pauses(data["pauses"]) if isinstance(data.get("pauses"), dict) else None,
        on_won=_entry_actions(_mapping(data.get("end")).get("on_won"), "/end/on_won"),
        on_lost=_entry_actions(_mapping(data.get("end")).get("on_lost"), "/end/on_lost"),
    )


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)


def _refs(value: object, path: str) -> tuple[Ref, ...]:
    if isinstance(value, list):
        return tuple(Ref(str(v), join(path, i)) for i, v in enumerate(value))
    if value is None:
        return ()
    return (Ref(str(value), path),)


def _ref(item: Mapping[str, Any], key: str, path: str) -> Ref | None:
    value = item.get(key)
    return None if value is None else Ref(str(value), join(path, key))


def _stage(item: Mapping[str, Any], path: str) -> Stage:
    terminal = item.get("terminal")
    return Stage(
        id=str(item.get("id", "")),
        title=str(item.get("title") or item.get("id", "")),
        description=str(item.get("description", "")),
        terminal=terminal if terminal in ("won", "lost") else None,
        path=path,
        on_enter=_entry_actions(item.get("on_enter"), join(path, "on_enter")),
    )


def roles(value: object, path: str) -> tuple[Ref, ...]:
    """Roles as written: one name or a list of names."""
    return _refs(value, path)


def _percent(value: object) -> float:
    text = str(value).strip().removesuffix("%")
    try:
        return float(text)
    except ValueError:
        return 0.0  # the schema admits only numbers and "N%"


def _warn_level(item: object, path: str) -> AlertLevel:
    if isinstance(item, dict):
        return AlertLevel(_percent(item.get("at")), None,
                          roles(item.get("notify"), join(path, "notify")),
                          _opt_str(item.get("channel")), path)
    return AlertLevel(_percent(item), None, (), None, path)


def _breach_level(item: Mapping[str, Any], path: str) -> AlertLevel:
    return AlertLevel(None, _opt_str(item.get("after")),
                      roles(item.get("notify"), join(path, "notify")),
                      _opt_str(item.get("channel")), path)


def _entry_actions(value: object, path: str) -> tuple[EntryAction, ...]:
    result = []
    for i, item in enumerate(_list(value)):
        at = join(path, i)
        spec = _mapping(item)
        channel = _opt_str(spec.get("channel"))
        if "create_task" in spec:
            task = _mapping(spec["create_task"])
            result.append(EntryAction("create_task", at, title=str(task.get("title", "")),
                                      due=_opt_str(task.get("due")) or "0m", channel=channel))
        elif "assign" in spec:
            assign = spec["assign"]
            if isinstance(assign, dict):
                team = _ref(assign, "team", join(at, "assign"))
                result.append(EntryAction(
                    "assign", at, assignee=_opt_str(assign.get("to")), team=team,
                    strategy=str(assign.get("by", "round-robin" if team else "fixed")),
                    channel=channel))
            else:
                result.append(EntryAction("assign", at, assignee=str(assign), channel=channel))
        elif "notify" in spec:
            result.append(EntryAction("notify", at, roles=roles(spec["notify"], join(at, "notify")),
                                      channel=channel))
    return tuple(result)


def _routing(item: Mapping[str, Any]) -> RoutingDef:
    lookup = item.get("lookup")
    found: LookupDef | None = None
    if isinstance(lookup, str):
        found = LookupDef(lookup, "owner", "manager", "/routing/lookup")
    elif isinstance(lookup, dict):
        found = LookupDef(str(lookup.get("file", "")), str(lookup.get("owner", "owner")),
                          str(lookup.get("manager", "manager")), "/routing/lookup",
                          _opt_str(lookup.get("load")))
    notify = tuple((str(code), roles(value, join("/routing/notify", code)))
                   for code, value in _mapping(item.get("notify")).items())
    return RoutingDef(notify, found, _opt_str(item.get("entry_window")), "/routing")


def _pauses(item: Mapping[str, Any]) -> PausePolicy:
    return PausePolicy(_opt_str(item.get("max")), _ref(item, "calendar", "/pauses"),
                       roles(item.get("notify"), "/pauses/notify"), "/pauses")


def conditions(value: object, path: str) -> tuple[Condition, ...]:
    """Normalise a ``when``/``unless`` map: a scalar means ``eq``, a list means ``in``."""
    result: list[Condition] = []
    for name, test in _mapping(value).items():
        at = join(path, name)
        if isinstance(test, dict):
            result.extend(Condition(str(name), str(op), arg, join(at, op))
                          for op, arg in test.items())
        elif isinstance(test, list):
            result.append(Condition(str(name), "in", tuple(test), at))
        else:
            result.append(Condition(str(name), "eq", test, at))
    return tuple(result)


def _start(item: Mapping[str, Any], path: str) -> StartDef:
    stage = _ref(item, "stage", path) or Ref("", path)
    return StartDef(
        id=str(item.get("id") or stage.name),
        stage=stage,
        when=conditions(item.get("when"), join(path, "when")),
        path=path,
    )


def _transition(item: Mapping[str, Any], path: str) -> TransitionDef:
    source = item.get("from")
    any_source = source == ANY_STAGE
    return TransitionDef(
        sources=() if any_source else _refs(source, join(path, "from")),
        any_source=any_source,
        target=_ref(item, "to", path) or Ref("", path),
        require=tuple(str(f) for f in _list(item.get("require"))),
        when=conditions(item.get("when"), join(path, "when")),
        unless=conditions(item.get("unless"), join(path, "unless")),
        path=path,
    )


def _sla(item: Mapping[str, Any], path: str) -> SlaDef:
    warn_levels = tuple(_warn_level(w, join(path, "warn", i))
                        for i, w in enumerate(_list(item.get("warn"))))
    on_breach = item.get("on_breach")
    breach = on_breach if isinstance(on_breach, list) else \
        ([] if on_breach is None else [on_breach])
    return SlaDef(
        id=str(item.get("id", "")),
        stage=_ref(item, "stage", path),
        span_from=_ref(item, "from", path),
        span_to=_ref(item, "to", path),
        limit=str(item.get("limit", "")),
        calendar=_ref(item, "calendar", path),
        warn=tuple(level.at or 0.0 for level in warn_levels),
        on_breach=tuple(Ref(str(v), join(path, "on_breach", i))
                        for i, v in enumerate(breach) if not isinstance(v, dict)),
        pausable=bool(item.get("pausable", False)),
        path=path,
        warn_levels=warn_levels,
        breach_levels=tuple(_breach_level(v, join(path, "on_breach", i))
                            for i, v in enumerate(breach) if isinstance(v, dict)),
    )


def _tasks(item: Mapping[str, Any]) -> TaskPolicy:
    gaps = _mapping(item.get("max_gap"))
    return TaskPolicy(
        require_next=bool(item.get("require_next", False)),
        max_gap=tuple(GapLimit(str(stage), str(value), join("/tasks/max_gap", stage))
                      for stage, value in gaps.items()),
        overdue_grace=_opt_str(item.get("overdue_grace")),
        calendar=_ref(item, "calendar", "/tasks"),
        path="/tasks",
        require_due=bool(item.get("require_due", False)),
    )


def _reminder(item: Mapping[str, Any], path: str) -> ReminderDef:
    return ReminderDef(
        id=str(item.get("id", "")),
        event=str(item.get("event", "")),
        before=str(item.get("before", "")),
        notify=str(item.get("notify", "owner")),
        channel=_opt_str(item.get("channel")),
        stages=_refs(item.get("stages"), join(path, "stages")),
        calendar=_ref(item, "calendar", path),
        path=path,
    )


def _action(name: str, spec: Mapping[str, Any], path: str) -> ActionDef:
    return ActionDef(name, _opt_str(spec.get("notify")), _opt_str(spec.get("channel")), path)
