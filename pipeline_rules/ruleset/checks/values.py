"""Value rules: do durations, cron expressions, time zones and calendars parse?"""

from __future__ import annotations

from collections.abc import Iterator

from pipeline_rules.ruleset.checks.context import CheckContext
from pipeline_rules.ruleset.checks.registry import rule
from pipeline_rules.ruleset.problems import Problem, Severity
from pipeline_rules.ruleset.routing import (
    LookupFileError,
    lookup_path,
    manager_cycle,
    read_lookup,
)
from pipeline_rules.ruleset.source import join
from pipeline_rules.time.calendars import calendar_problems
from pipeline_rules.time.durations import DurationError, parse_duration
from pipeline_rules.time.now import NowError, parse_now
from pipeline_rules.time.schedules import SEARCH_YEARS, CronError, NoRunError, parse_cron
from pipeline_rules.time.timezones import TimezoneError, get_zone


@rule("invalid-duration", Severity.ERROR, blocks_use=True)
def invalid_duration(ctx: CheckContext) -> Iterator[Problem]:
    """A duration that does not parse, is zero where time must pass, or has no calendar.

    ## What it finds
    SLA limits, task gaps, the overdue grace and reminder lead times that are not durations:
    `30m`, `2h`, `7d`, `1w`, `1d12h`, `7 days`, `2 hours`, `5 business days`,
    `8 business hours` (also `7 дней`, `5 рабочих дней`, `8 рабочих часов`). Limits, gaps
    and lead times must be longer than zero.
    Business time needs a calendar: the `calendar` of the SLA, of `tasks` or of the reminder,
    or the ruleset's only calendar when exactly one is defined.

    ## Why it matters
    A limit that does not parse is a timer that never fires; business days without a calendar
    cannot tell Saturday from Monday.

    ## Example
    ```yaml
    sla:
      - {id: meeting-stall, stage: meeting, limit: a week}
      # two calendars are defined and this SLA names neither:
      - {id: proposal-decision, stage: proposal, limit: 5 business days}
    ```

    ## Use instead
    ```yaml
    sla:
      - {id: meeting-stall, stage: meeting, limit: 7d}
      - {id: proposal-decision, stage: proposal, limit: 5 business days, calendar: workdays}
    ```
    """
    rs = ctx.ruleset
    for site in rs.duration_sites():
        try:
            duration = parse_duration(site.text)
        except DurationError:
            yield Problem("invalid-duration", {"value": site.text}, path=site.path)
            continue
        if duration.amount == 0 and not site.zero_ok:
            yield Problem("invalid-duration.zero", {"value": site.text}, path=site.path)
        elif duration.is_business and rs.calendar_name(site.calendar) is None:
            key = "invalid-duration.no-calendars" if not rs.calendars \
                else "invalid-duration.which-calendar"
            yield Problem(key, {"value": site.text}, path=site.path)


@rule("invalid-cron", Severity.ERROR, blocks_use=True)
def invalid_cron(ctx: CheckContext) -> Iterator[Problem]:
    """A `schedule.evaluate` cron expression that does not parse or never fires.

    ## What it finds
    Expressions croniter rejects, expressions with other than five fields (minute, hour, day of
    month, month, day of week), dates that never come (`0 0 31 2 *`), and expressions with no
    run in the 50 years after 2000-01-01 (`0 0 1 1 5#5`: the first of January is never the
    fifth Friday of a month).

    ## Why it matters
    The schedule decides when reminders are emitted: an action due before the next run is sent by
    the run before it. A schedule that never fires sends nothing.

    ## Example
    ```yaml
    schedule:
      evaluate: "*/15 8-19 * *"
    ```

    ## Use instead
    ```yaml
    schedule:
      evaluate: "*/15 8-19 * * mon-fri"
    ```
    """
    schedule = ctx.ruleset.schedule
    if schedule is None or schedule.evaluate is None:
        return
    try:
        zone = get_zone(ctx.ruleset.timezone)
    except TimezoneError:
        zone = get_zone("UTC")
    try:
        parse_cron(schedule.evaluate, zone)
    except NoRunError as err:
        yield Problem("invalid-cron.never", {"value": schedule.evaluate, "years": SEARCH_YEARS,
                                             "since": err.since.date().isoformat()},
                      path=join(schedule.path, "evaluate"))
    except CronError as err:
        yield Problem("invalid-cron", {"value": schedule.evaluate, "detail": err.reason},
                      path=join(schedule.path, "evaluate"))


@rule("invalid-timezone", Severity.ERROR, blocks_use=True)
def invalid_timezone(ctx: CheckContext) -> Iterator[Problem]:
    """A `timezone` that is not an IANA time zone name.

    ## What it finds
    Names the IANA database does not know (`Europe/Moskow`, `MSK`, `+03:00`), with the nearest
    name suggested.

    ## Why it matters
    Every local time in the regulation — working hours, holidays, the schedule, "2 hours before
    the meeting" — is read in this zone. A fixed offset would be wrong for half the year in
    countries with daylight saving time.

    ## Example
    ```yaml
    timezone: "+03:00"
    ```

    ## Use instead
    ```yaml
    timezone: Europe/Moscow
    ```
    """
    if not ctx.ruleset.positions.has("/timezone"):
        return
    try:
        get_zone(ctx.ruleset.timezone)
    except TimezoneError as err:
        yield Problem("invalid-timezone", {"value": ctx.ruleset.timezone, "detail": err.message},
                      path="/timezone")


@rule("invalid-calendar", Severity.ERROR, blocks_use=True)
def invalid_calendar(ctx: CheckContext) -> Iterator[Problem]:
    """A business calendar with a bad hour range, holiday country or date.

    ## What it finds
    Hour ranges that are not `HH:MM-HH:MM`, that end before they start or overlap; an empty
    week; a country or subdivision the `holidays` package does not know (a country's name gets
    its code suggested); dates that are not `YYYY-MM-DD` or do not exist (`2026-02-30`).
    (Misspelt week days are already reported by `schema`.)

    ## Why it matters
    Business-day SLAs and task gaps are counted on the calendar; a wrong one silently counts
    weekends or holidays as working time.

    ## Example
    ```yaml
    calendars:
      workdays:
        week: [mon, tue, wed, thu, fri]
        hours: ["09:00-13:00", "12:00-18:00"]
        holidays: {country: Russia}
    ```

    ## Use instead
    ```yaml
    calendars:
      workdays:
        week: [mon, tue, wed, thu, fri]
        hours: ["09:00-13:00", "14:00-18:00"]
        holidays: {country: RU}
    ```
    """
    for calendar in ctx.ruleset.calendars:
        for error in calendar_problems(calendar.spec):
            path = join(calendar.path, *error.key.split("/")) if error.key else calendar.path
            yield Problem("invalid-calendar", {"calendar": calendar.name, "detail": error.message},
                          path=path)


@rule("invalid-version", Severity.ERROR, blocks_use=True)
def invalid_version(ctx: CheckContext) -> Iterator[Problem]:
    """A version of a ruleset without its effective instant, or with one that is not a time.

    ## What it finds
    A `revision` without an `effective` instant, an `effective` without a `revision`, and an
    `effective` that is not an ISO 8601 time (`2026-12-01T00:00:00+03:00`, or a date, read as
    midnight in the ruleset's zone).

    ## Why it matters
    A deal is judged by the version in force when what is timed began (docs/versions.md). A
    version that does not say when it takes effect cannot be placed among the others, so deals
    would be judged by the wrong one.

    ## Example
    ```yaml
    revision: 2
    effective: first of December
    ```

    ## Use instead
    ```yaml
    revision: 2
    effective: 2026-12-01T00:00:00+03:00
    ```

    ## Known limits
    Checks across the versions of a folder (two with one instant, a changed id) are made when
    the folder is read; see docs/versions.md.
    """
    rs = ctx.ruleset
    if rs.revision is not None and rs.effective is None:
        yield Problem("invalid-version.no-effective", {"revision": rs.revision}, path="/revision",
                      at_key=True)
    if rs.effective is None:
        return
    if rs.revision is None:
        yield Problem("invalid-version.no-revision", {}, path="/effective", at_key=True)
    try:
        zone = get_zone(rs.timezone)
    except TimezoneError:
        zone = get_zone("UTC")
    try:
        parse_now(rs.effective, zone, "effective")
    except NowError as err:
        yield Problem("invalid-version", {"value": rs.effective, "detail": err.message},
                      path="/effective")


@rule("invalid-routing", Severity.ERROR, blocks_use=True)
def invalid_routing(ctx: CheckContext) -> Iterator[Problem]:
    """Routing that cannot work: a bad lookup file, a manager cycle, an empty team, a bad level.

    ## What it finds
    * `routing.lookup`: a file that is missing, unreadable, lacks the owner or manager column,
      or lists one owner twice with different managers (the message names the line);
    * a chain of managers (`people:`, `teams:` and the lookup file together) that comes back to
      where it began: `anna → boris → anna`;
    * `assign: {team: ...}` naming a team `teams:` does not declare, or a team without members;
      `by: least-loaded` without a `load` column in the lookup file;
    * a warning level `at:` that is not a percent above 0 and below 100 (`50%`, `80`).

    ## Why it matters
    Every alert must reach a person. A lookup file that cannot be read routes nothing; a manager
    cycle escalates in a circle; an assignment over an empty team leaves the deal with no owner.

    ## Example
    ```yaml
    people:
      anna: {manager: boris}
      boris: {manager: anna}
    stages:
      - {id: request, on_enter: [{assign: {team: inbound}}]}   # no team 'inbound'
    ```

    ## Use instead
    ```yaml
    people:
      anna: {manager: boris}
      boris: {}
    teams:
      inbound: {members: [olga, sergey], manager: anna}
    ```

    ## Known limits
    A ruleset given as text (over HTTP) has no folder: its lookup file is read relative to the
    server's working directory.
    """
    rs = ctx.ruleset
    managers: dict[str, str] = {}
    loads = False
    if rs.routing is not None and rs.routing.lookup is not None:
        try:
            table = read_lookup(lookup_path(rs, rs.routing.lookup), rs.routing.lookup)
            managers, loads = dict(table.managers), rs.routing.lookup.load_column is not None
        except LookupFileError as err:
            yield Problem(err.message, err.key_args, path=rs.routing.lookup.path)
    where: dict[str, str] = {}
    for team in rs.teams:
        for member in team.members:
            if team.manager is not None and member != team.manager:
                managers[member] = team.manager
                where[member] = team.path
    for person in rs.people:
        if person.manager is not None:
            managers[person.name] = person.manager
            where[person.name] = person.path
    cycle = manager_cycle(managers)
    if cycle is not None:
        path = next((where[p] for p in cycle if p in where), rs.routing.lookup.path
                    if rs.routing is not None and rs.routing.lookup is not None else "")
        yield Problem("invalid-routing.cycle", {"chain": " → ".join(cycle)}, path=path)
    teams = {t.name: t for t in rs.teams}
    for entry in rs.entry_actions():
        if entry.team is None:
            continue
        found = teams.get(entry.team.name)
        if found is None:
            yield Problem("invalid-routing.unknown-team", {"team": entry.team.name},
                          path=entry.team.path)
        elif not found.members:
            yield Problem("invalid-routing.empty-team", {"team": entry.team.name},
                          path=entry.team.path)
        elif entry.strategy == "least-loaded" and not loads:
            yield Problem("invalid-routing.no-loads", {"team": entry.team.name},
                          path=entry.team.path)
    for sla in rs.slas:
        for level in sla.warn_levels:
            if level.at is None or not 0 < level.at < 100:
                at = join(level.path, "at")
                yield Problem("invalid-routing.percent", {"sla": sla.id},
                              path=at if rs.positions.has(at) else level.path)
