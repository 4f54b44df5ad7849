"""Cron schedules (five-field crontab syntax) evaluated by croniter in a ruleset's zone.

Validation uses croniter's strict mode, so day/month pairs that can never fire ("0 0 31 2 *")
are refused, and then looks for the first run in the :data:`SEARCH_YEARS` years after a fixed
instant (:data:`SEARCH_FROM`), so an expression strict mode lets through but that never fires
("0 0 1 1 5#5": the first of January is never a month's fifth Friday) is refused as well, at a
bounded cost. The next run after an evaluation time is looked for within the same bound; one
not found there is a :class:`CronError`, never croniter's own exception. Only the classic five
fields are accepted: croniter's optional sixth (seconds) and seventh (year) fields and
`@daily`-style shorthands are not part of the ruleset format.

Daylight-saving behaviour is croniter's (7.x, measured on Europe/Berlin):

* spring forward: a run whose local time is skipped fires at the first valid time after
  the jump ("30 2 * * *" fires at 03:00+02:00 on the last Sunday of March);
* fall back: a run whose local time occurs twice fires twice, once for each offset
  ("30 2 * * *" fires at 02:30+02:00 and again at 02:30+01:00).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from croniter import CroniterError, croniter

__all__ = ["SEARCH_FROM", "SEARCH_YEARS", "CronError", "CronSchedule", "NoRunError",
           "parse_cron"]

#: Where the search for an expression's first run starts (a fixed instant: a ruleset is valid
#: or not whatever the day it is checked).
SEARCH_FROM = datetime(2000, 1, 1, tzinfo=UTC)
#: How many years after an instant a run is looked for. Every calendar pattern a five-field
#: expression can name (a weekday on a date, the fifth Friday of February) recurs within 28
#: years, bar the Gregorian leap-year exceptions; 50 years covers those too.
SEARCH_YEARS = 50

_FIELD_NAMES = ("minute", "hour", "day-of-month", "month", "day-of-week")


class CronError(ValueError):
    """A cron expression that is malformed or can never fire; ``reason`` says why."""

    def __init__(self, expr: object, reason: str) -> None:
        super().__init__(f"invalid cron expression {expr!r}: {reason}")
        self.reason = reason


class NoRunError(CronError):
    """A cron expression with no run in the :data:`SEARCH_YEARS` years after ``since``."""

    def __init__(self, expr: object, since: datetime) -> None:
        super().__init__(expr, f"it has no run in the {SEARCH_YEARS} years after "
                               f"{since.isoformat()}")
        self.since = since


@dataclass(frozen=True)
class CronSchedule:
    """A validated five-field cron expression (as written) read in the zone `tz`."""

    expr: str
    tz: ZoneInfo

    def next_run(self, after: datetime, cursor: croniter | None = None) -> datetime:
        """Return the first run strictly after `after` (aware), as an aware datetime in tz;
        raise :class:`NoRunError` if there is none in the :data:`SEARCH_YEARS` years after it
        (or before the end of the calendar, year 9999). ``cursor``: a croniter of this
        schedule to reuse, as for :meth:`previous_run` (croniter's bound is the same 50
        years)."""
        if after.tzinfo is None or after.utcoffset() is None:
            raise ValueError(f"expected a timezone-aware datetime, got naive {after.isoformat()}")
        try:
            # croniter reads the start in its own zone, so the start must carry ours.
            if cursor is None:
                runs = croniter(self.expr, after.astimezone(self.tz),
                                max_years_between_matches=SEARCH_YEARS)
            else:
                runs = cursor
                runs.set_current(after.astimezone(self.tz), force=True)
            result: datetime = runs.get_next(datetime)
            return result.astimezone(self.tz)
        except (CroniterError, OverflowError):
            raise NoRunError(self.expr, after) from None

    def previous_run(self, before: datetime, cursor: croniter | None = None) -> datetime:
        """Return the last run strictly before `before` (aware), as an aware datetime in tz.

        ``cursor`` is a croniter of this schedule to reuse (one parse of the expression for
        many look-ups; see :meth:`cursor`)."""
        if before.tzinfo is None or before.utcoffset() is None:
            raise ValueError(f"expected a timezone-aware datetime, got naive {before.isoformat()}")
        if cursor is None:
            cursor = self.cursor()
        cursor.set_current(before.astimezone(self.tz), force=True)
        result: datetime = cursor.get_prev(datetime)
        return result.astimezone(self.tz)

    def cursor(self) -> croniter:
        """A croniter of this schedule, for :meth:`previous_run` to move around (not shared
        between threads: it holds a position)."""
        return croniter(self.expr, datetime.now(self.tz))


def _reason(expr: str, exc: CroniterError) -> str:
    lines = str(exc).strip().splitlines()
    # croniter wraps unexpected ValueErrors with the whole traceback; the last line says why.
    text = lines[-1] if lines else ""
    if "hash_id" in text:
        return "hashed 'H' values are not supported"
    for echo in (f"[{expr}]", expr):
        text = text.replace(echo, "")
    text = text.strip(" ,.:").removeprefix("is not acceptable").strip(" ,.:")
    text = text.removeprefix("is ")
    if "can never occur" in text:
        return f"it can never fire ({text})"
    return text or "not acceptable"


def _culprit(fields: list[str]) -> str:
    """Explain the first field that is invalid on its own, when there is one."""
    for i, value in enumerate(fields):
        alone = " ".join(value if j == i else "*" for j in range(len(fields)))
        try:
            croniter.expand(alone, strict=True)
        except CroniterError as exc:
            return f"the {_FIELD_NAMES[i]} field '{value}' is invalid: {_reason(alone, exc)}"
    return ""


def parse_cron(expr: object, tz: ZoneInfo) -> CronSchedule:
    """Validate a five-field cron expression and return its schedule in tz; raise CronError."""
    if not isinstance(expr, str):
        raise CronError(expr, "expected a cron expression string like '*/15 9-18 * * mon-fri'")
    fields = expr.split()
    if len(fields) != 5:
        extra = "; seconds and year fields are not supported" if len(fields) in (6, 7) else ""
        raise CronError(
            expr,
            f"expected 5 fields (minute hour day-of-month month day-of-week), "
            f"got {len(fields)}{extra}",
        )
    normal = " ".join(fields)
    try:
        croniter.expand(normal, strict=True)
    except CroniterError as exc:
        detail = _culprit(fields) or _reason(normal, exc)
        raise CronError(expr, detail) from None
    schedule = CronSchedule(expr, tz)
    schedule.next_run(SEARCH_FROM)  # NoRunError if it has no run in the years searched
    return schedule
