"""SLA rules: do the timers agree with each other and with the task rules?"""

from __future__ import annotations

from collections.abc import Iterator

from pipeline_rules.ruleset.checks.context import CheckContext
from pipeline_rules.ruleset.checks.registry import rule
from pipeline_rules.ruleset.model import CYCLE_END, CYCLE_START, Ref, SlaDef
from pipeline_rules.ruleset.problems import Problem, Severity
from pipeline_rules.ruleset.source import join
from pipeline_rules.time.calendars import BusinessCalendar, CalendarError, build_calendar
from pipeline_rules.time.durations import Duration, DurationError, parse_duration
from pipeline_rules.time.timezones import TimezoneError, get_zone


class _Lengths:
    """Rough calendar lengths of durations for one check run: each calendar is built once and
    each (duration, calendar) measured once, however many SLAs repeat them."""

    def __init__(self, ctx: CheckContext) -> None:
        self._ctx = ctx
        self._specs = {c.name: c.spec for c in reversed(ctx.ruleset.calendars)}
        self._calendars: dict[str | None, BusinessCalendar | None] = {}
        self._lengths: dict[tuple[str, str | None], float | None] = {}

    def _calendar(self, given: Ref | None) -> BusinessCalendar | None:
        name = self._ctx.ruleset.calendar_name(given)
        if name not in self._calendars:
            spec = self._specs.get(name) if name is not None else None
            try:
                self._calendars[name] = None if name is None or spec is None else build_calendar(
                    name, spec, get_zone(self._ctx.ruleset.timezone))
            except (CalendarError, TimezoneError):
                self._calendars[name] = None
        return self._calendars[name]

    def __call__(self, text: str, calendar: Ref | None) -> float | None:
        """Rough calendar length of a duration, or None when it does not parse."""
        key = (text, self._ctx.ruleset.calendar_name(calendar))
        if key not in self._lengths:
            self._lengths[key] = self._measure(text, calendar)
        return self._lengths[key]

    def _measure(self, text: str, calendar: Ref | None) -> float | None:
        try:
            duration: Duration = parse_duration(text)
        except DurationError:
            return None
        found = self._calendar(calendar) if duration.is_business else None
        if found is None:
            return duration.nominal_seconds()
        return duration.nominal_seconds(found.workdays_per_week,
                                        found.working_seconds_per_week)


def _is_cycle(sla: SlaDef) -> bool:
    return (sla.span_from is not None and sla.span_from.name == CYCLE_START
            and sla.span_to is not None and sla.span_to.name == CYCLE_END)


@rule("inconsistent-sla", Severity.WARNING)
def inconsistent_sla(ctx: CheckContext) -> Iterator[Problem]:
    """Timers that contradict each other or cannot matter.

    ## What it finds
    * `warn` thresholds that do not strictly increase;
    * a stage SLA longer than the whole-cycle SLA (`from: start`, `to: end`; with several, the
      shortest one);
    * a task gap (`tasks.max_gap` for a stage, or `default` for a stage without its own) longer
      than that stage's SLA;
    * an SLA on a won or lost stage (closed deals are not timed).

    Durations of different kinds are compared by their nominal length: N business days count as
    N × 7 / (working days a week) days, business hours as their share of the working week.

    ## Why it matters
    A stage limit longer than the whole cycle can never be the one that fires; a next task
    allowed further away than the stage limit lets the stage breach before anyone has to act.

    ## Example
    ```yaml
    sla:
      - {id: proposal-decision, stage: proposal, limit: 60d, warn: [80, 50]}
      - {id: whole-cycle, from: start, to: end, limit: 45d}
    ```

    ## Use instead
    ```yaml
    sla:
      - {id: proposal-decision, stage: proposal, limit: 5 business days, warn: [50, 80]}
      - {id: whole-cycle, from: start, to: end, limit: 45d}
    ```
    """
    rs = ctx.ruleset
    for sla in rs.slas:
        for i in range(1, len(sla.warn)):
            if sla.warn[i] <= sla.warn[i - 1]:
                yield Problem("inconsistent-sla.warn", {"sla": sla.id},
                              path=join(sla.path, "warn", i))
                break
        if sla.stage is not None and sla.stage.name in ctx.graph.terminal:
            yield Problem("inconsistent-sla.terminal", {"sla": sla.id, "stage": sla.stage.name},
                          path=sla.stage.path)
    nominal = _Lengths(ctx)
    stage_slas = [s for s in rs.slas if s.stage is not None]
    cycles = [(length, s) for s in rs.slas if _is_cycle(s)
              if (length := nominal(s.limit, s.calendar)) is not None]
    if cycles:
        # Against the shortest whole-cycle SLA only (the first of equals): a stage SLA longer
        # than it is reported once, not once per whole-cycle SLA.
        cycle_length, cycle = min(cycles, key=lambda found: found[0])
        for sla in stage_slas:
            length = nominal(sla.limit, sla.calendar)
            if length is not None and length > cycle_length:
                yield Problem("inconsistent-sla.longer-than-cycle",
                              {"sla": sla.id, "limit": sla.limit, "cycle": cycle.id,
                               "cycle_limit": cycle.limit}, path=sla.limit_path)
    if rs.tasks is None:
        return
    gaps = {g.stage: g for g in rs.tasks.max_gap}
    for sla in stage_slas:
        assert sla.stage is not None
        gap = gaps.get(sla.stage.name) or gaps.get("default")
        if gap is None:
            continue
        gap_length = nominal(gap.duration, rs.tasks.calendar)
        limit = nominal(sla.limit, sla.calendar)
        if gap_length is not None and limit is not None and gap_length > limit:
            yield Problem("inconsistent-sla.gap", {"stage": sla.stage.name, "gap": gap.duration,
                                                   "sla": sla.id, "limit": sla.limit},
                          path=gap.path)
