"""Business calendars: the spec of a calendar, which days work, and what working time is.

A calendar spec (one entry under `calendars:` in a ruleset)::

    week: [mon, tue, wed, thu, fri]        # default mon..fri
    hours: ["09:00-13:00", "14:00-18:00"]  # default ["09:00-18:00"]; "24:00" allowed as an end
    holidays: {country: RU, subdiv: null, dates: [2026-12-31]}
    extra_working_days: [2026-11-07]       # working days although the week says otherwise

Semantics:

* A date is a working day when it is not a holiday and either its weekday is in `week`, or it
  is listed in `extra_working_days`, or the `holidays` package lists it among the country's
  transferred working weekends (`weekend_workdays`). Holidays are the package's dates for the
  country/subdivision plus the explicit `dates`; a holiday is never a working day, even if it
  is also listed as an extra working day.
* Every working day has the same working periods, the `hours` ranges, read as local wall-clock
  times in the calendar's zone. Periods are half-open: 13:00 is not inside "09:00-13:00".
  So every working day holds the same working time, and "N business days" is N times it.
* Working time is measured on the local wall clock, not by elapsed physical time: a period
  "00:00-06:00" holds six working hours even on the nights the clocks change. On a
  spring-forward night the skipped clock hour is counted although no physical time passes
  (the clock jumps over it); on a fall-back night the repeated hour is counted once, for its
  first pass, and the clock is treated as standing still during the second pass.
* All datetime inputs must be timezone-aware (naive ones raise ValueError); results are aware
  datetimes in the calendar's zone.

This module parses and validates specs and answers questions about days (is a date a working
day, how many working days lie between two dates, which is the n-th working day after or before
one). Adding and measuring working time on the clock is :mod:`pipeline_rules.time.working`.

Cost: counting working days between two dates is arithmetic over whole weeks plus one bisect
per calendar year touched into the sorted exceptions (holidays on working weekdays, extra
working days); finding the n-th working day binary-searches the day offset with that count.
Nothing loops over days. Holiday years are loaded from the `holidays` package on first use.
"""

from __future__ import annotations

import bisect
import difflib
import functools
import importlib.util
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from types import ModuleType
from zoneinfo import ZoneInfo

__all__ = [
    "BusinessCalendar",
    "CalendarError",
    "build_calendar",
    "calendar_problems",
    "require_aware",
]

_US_PER_MINUTE = 60_000_000
_WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_WEEKDAY_NAMES = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)
_WEEKDAYS = {
    name: i for names in (_WEEKDAY_NAMES, _FULL_WEEKDAY_NAMES) for i, name in enumerate(names)
}
_DEFAULT_WEEK = ("mon", "tue", "wed", "thu", "fri")
_DEFAULT_HOURS = ("09:00-18:00",)
_SPEC_KEYS = ("week", "hours", "holidays", "extra_working_days")
_HOLIDAY_KEYS = ("country", "subdiv", "dates")
_RANGE_RE = re.compile(r"\s*([0-9]{1,2}):([0-9]{2})\s*-\s*([0-9]{1,2}):([0-9]{2})\s*")
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Searching further than this for a working day means the calendar has none left.
_MAX_SEARCH_DAYS = 400 * 366
# Days remembered per calendar: a few decades, a few hundred KB at most.
_DAY_CACHE = 20_000


class CalendarError(ValueError):
    """A problem in a calendar spec; `key` is its relative path, e.g. "hours/1" ("" = whole)."""

    def __init__(self, message: str, key: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.key = key


# --------------------------------------------------------------------------- spec validation


@dataclass(frozen=True)
class _Spec:
    week: frozenset[int]
    periods: tuple[tuple[int, int], ...]
    country: str | None
    subdiv: str | None
    holiday_dates: frozenset[date]
    extra_working_days: frozenset[date]


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _parse_week(value: object, problems: list[CalendarError]) -> frozenset[int]:
    if not isinstance(value, list):
        problems.append(CalendarError("'week' must be a list of days such as [mon, tue]", "week"))
        return frozenset()
    days: set[int] = set()
    for i, item in enumerate(value):
        key = f"week/{i}"
        if not isinstance(item, str):
            problems.append(CalendarError(f"expected a day name like 'mon', got {item!r}", key))
            continue
        day = _WEEKDAYS.get(item.strip().lower())
        if day is None:
            hint = _did_you_mean(item.strip().lower(), _WEEKDAYS)
            problems.append(CalendarError(f"unknown day of the week '{item}'{hint}", key))
        elif day in days:
            problems.append(CalendarError(f"day '{item}' is listed twice", key))
        else:
            days.add(day)
    if not value:
        problems.append(CalendarError("'week' lists no working days", "week"))
    return frozenset(days)


def _clock_us(hours: str, minutes: str) -> int:
    return (int(hours) * 60 + int(minutes)) * _US_PER_MINUTE


def _parse_range(item: object, key: str, problems: list[CalendarError]) -> tuple[int, int] | None:
    match = _RANGE_RE.fullmatch(item) if isinstance(item, str) else None
    if match is None:
        problems.append(CalendarError(f"expected a range like '09:00-18:00', got {item!r}", key))
        return None
    sh, sm, eh, em = match.groups()
    if int(sh) > 23 or int(sm) > 59:
        problems.append(CalendarError(f"'{sh}:{sm}' is not a valid HH:MM time", key))
        return None
    if int(em) > 59 or int(eh) > 24 or (int(eh) == 24 and int(em) != 0):
        problems.append(CalendarError(f"'{eh}:{em}' is not a valid HH:MM time", key))
        return None
    start, end = _clock_us(sh, sm), _clock_us(eh, em)
    if end <= start:
        problems.append(
            CalendarError(f"range '{item}' ends before it starts; split ranges at 24:00", key)
        )
        return None
    return start, end


def _parse_hours(value: object, problems: list[CalendarError]) -> tuple[tuple[int, int], ...]:
    if not isinstance(value, list) or not value:
        problems.append(
            CalendarError("'hours' must be a non-empty list like ['09:00-18:00']", "hours")
        )
        return ()
    periods: list[tuple[int, int]] = []
    for i, item in enumerate(value):
        period = _parse_range(item, f"hours/{i}", problems)
        if period is None:
            continue
        if periods and period[0] < periods[-1][1]:
            why = "comes before" if period[0] < periods[-1][0] else "overlaps"
            problems.append(
                CalendarError(
                    f"range '{item}' {why} the previous range; list ranges in order "
                    "without overlaps",
                    f"hours/{i}",
                )
            )
            continue
        periods.append(period)
    return tuple(periods)


def _parse_dates(value: object, key: str, problems: list[CalendarError]) -> frozenset[date]:
    if value is None:
        return frozenset()
    if not isinstance(value, list):
        problems.append(CalendarError("expected a list of dates like [2026-12-31]", key))
        return frozenset()
    dates: set[date] = set()
    for i, item in enumerate(value):
        # YAML turns bare 2026-12-31 into a date; a datetime is a date subclass but not a day.
        if isinstance(item, date) and not isinstance(item, datetime):
            dates.add(item)
            continue
        if not (isinstance(item, str) and _DATE_RE.fullmatch(item.strip())):
            problems.append(
                CalendarError(f"expected a date YYYY-MM-DD, got {item!r}", f"{key}/{i}")
            )
            continue
        try:
            dates.add(date.fromisoformat(item.strip()))
        except ValueError:
            problems.append(CalendarError(f"'{item.strip()}' is not a real date", f"{key}/{i}"))
    return frozenset(dates)


def _country_hint(code: str, supported: Mapping[str, object]) -> str:
    registry = getattr(_holidays(), "registry", None)
    countries = getattr(registry, "COUNTRIES", {})
    # Let people who wrote the country's name ("Russia") find its code.
    by_name = {str(entry[0]).lower(): str(entry[1]) for entry in countries.values()}
    named = by_name.get(code.replace(" ", "").lower())
    if named:
        return f" (did you mean '{named}'?)"
    close = difflib.get_close_matches(code.lower(), list(by_name), n=1, cutoff=0.75)
    if close:
        return f" (did you mean '{by_name[close[0]]}'?)"
    return _did_you_mean(code, supported)


def _holidays() -> ModuleType:
    """The holidays package, imported on first use (~60 ms: most runs never need it)."""
    import holidays

    return holidays


@functools.cache
def _listed_codes() -> frozenset[str]:
    """Country codes read from the holidays package's registry table without importing it.

    Only ever used to accept a code quickly (a lint run then skips the package's ~60 ms
    import); a code not found here is checked against the imported package before it is
    refused, so a change in that file's layout can only cost time, never a false error.
    """
    spec = importlib.util.find_spec("holidays")
    if spec is None or spec.origin is None:
        return frozenset()
    try:
        text = (Path(spec.origin).parent / "registry.py").read_text(encoding="utf-8")
    except OSError:
        return frozenset()
    pairs = re.findall(r'^\s*"\w+":\s*\("[^"]*",\s*"([A-Z]{2})",\s*"([A-Z]{3})"', text,
                       re.MULTILINE)
    return frozenset(code for pair in pairs for code in pair)


def _country_supported(code: str) -> bool:
    """Whether the holidays package has a calendar for this country code."""
    return code in _listed_codes() or code in _country_codes()


@functools.cache
def _country_codes() -> frozenset[str]:
    """Country codes the holidays package supports.

    Read from its registry table: asking the package itself (list_supported_countries, or
    building any country's holidays) imports all five hundred country modules, ~0.15 s that a
    lint run does not need.
    """
    registry = getattr(_holidays(), "registry", None)
    countries = getattr(registry, "COUNTRIES", None)
    if isinstance(countries, dict) and countries:
        return frozenset(str(code) for entry in countries.values() for code in entry[1:3])
    return frozenset(_holidays().list_supported_countries())


def _parse_country(
    value: Mapping[str, object], problems: list[CalendarError]
) -> tuple[str | None, str | None]:
    country, subdiv = value.get("country"), value.get("subdiv")
    if country is None:
        if subdiv is not None:
            problems.append(CalendarError("'subdiv' needs a 'country'", "holidays/subdiv"))
        return None, None
    if not isinstance(country, str):
        problems.append(
            CalendarError(f"expected a country code like 'RU', got {country!r}", "holidays/country")
        )
        return None, None
    code = country.strip().upper()
    if not _country_supported(code):
        hint = _country_hint(country.strip(), _holidays().list_supported_countries())
        problems.append(
            CalendarError(
                f"country '{country}' is not supported by the holidays package{hint}",
                "holidays/country",
            )
        )
        return None, None
    if subdiv is None:
        return code, None
    if not isinstance(subdiv, str):
        problems.append(
            CalendarError(f"expected a subdivision code, got {subdiv!r}", "holidays/subdiv")
        )
        return code, None
    try:
        _holidays().country_holidays(code, subdiv=subdiv)
    except NotImplementedError:
        base = _holidays().country_holidays(code)
        known = [*base.subdivisions, *getattr(base, "subdivisions_aliases", {})]
        hint = _did_you_mean(subdiv, known) if known else f"; '{code}' has no subdivisions"
        problems.append(
            CalendarError(f"unknown subdivision '{subdiv}' of '{code}'{hint}", "holidays/subdiv")
        )
        return code, None
    return code, subdiv


def _unknown_keys(
    value: Mapping[str, object],
    allowed: tuple[str, ...],
    prefix: str,
    problems: list[CalendarError],
) -> None:
    for name in value:
        if name not in allowed:
            hint = _did_you_mean(str(name), allowed)
            problems.append(
                CalendarError(
                    f"unknown key '{name}'{hint}; expected one of {', '.join(allowed)}",
                    f"{prefix}{name}",
                )
            )


def _parse_spec(spec: object) -> tuple[_Spec | None, list[CalendarError]]:
    problems: list[CalendarError] = []
    if not isinstance(spec, Mapping):
        problems.append(CalendarError(f"a calendar must be a mapping, got {spec!r}"))
        return None, problems
    _unknown_keys(spec, _SPEC_KEYS, "", problems)
    week_value = spec.get("week")
    week = _parse_week(list(_DEFAULT_WEEK) if week_value is None else week_value, problems)
    hours_value = spec.get("hours")
    periods = _parse_hours(list(_DEFAULT_HOURS) if hours_value is None else hours_value, problems)
    country: str | None = None
    subdiv: str | None = None
    holiday_dates: frozenset[date] = frozenset()
    holidays_value = spec.get("holidays")
    if isinstance(holidays_value, Mapping):
        _unknown_keys(holidays_value, _HOLIDAY_KEYS, "holidays/", problems)
        country, subdiv = _parse_country(holidays_value, problems)
        holiday_dates = _parse_dates(holidays_value.get("dates"), "holidays/dates", problems)
    elif holidays_value is not None:
        problems.append(
            CalendarError(
                "'holidays' must be a mapping with 'country', 'subdiv' and/or 'dates'", "holidays"
            )
        )
    extra = _parse_dates(spec.get("extra_working_days"), "extra_working_days", problems)
    if problems:
        return None, problems
    return _Spec(week, periods, country, subdiv, holiday_dates, extra), problems


def calendar_problems(spec: Mapping[str, object]) -> list[CalendarError]:
    """Return every problem in a calendar spec (empty when it is valid), for the linter."""
    return _parse_spec(spec)[1]


def build_calendar(name: str, spec: Mapping[str, object], tz: ZoneInfo) -> BusinessCalendar:
    """Validate a calendar spec and build it; raise CalendarError for the first problem."""
    parsed, problems = _parse_spec(spec)
    if parsed is None:
        raise problems[0]
    return BusinessCalendar(
        name=name,
        tz=tz,
        week=parsed.week,
        periods=parsed.periods,
        country=parsed.country,
        subdiv=parsed.subdiv,
        holiday_dates=parsed.holiday_dates,
        extra_working_days=parsed.extra_working_days,
    )


# --------------------------------------------------------------------------- holiday years


@functools.lru_cache(maxsize=2048)
def _package_year(
    country: str, subdiv: str | None, year: int
) -> tuple[frozenset[date], frozenset[date]]:
    """Return (holidays, transferred working weekends) the package lists for one year."""
    table = _holidays().country_holidays(country, subdiv=subdiv, years=year)
    return frozenset(table.keys()), frozenset(getattr(table, "weekend_workdays", ()))


@dataclass(frozen=True)
class _YearIndex:
    """The days of one year whose status differs from what the week says, with running sums."""

    ordinals: tuple[int, ...]
    running: tuple[int, ...]  # running[i] = sum of the +1/-1 flips of ordinals[:i]

    def flips_between(self, lo: int, hi: int) -> int:
        """Net working days added by exceptions with lo <= ordinal < hi."""
        i = bisect.bisect_left(self.ordinals, lo)
        j = bisect.bisect_left(self.ordinals, hi)
        return self.running[j] - self.running[i]

    def is_exception(self, ordinal: int) -> bool:
        """True when this day's status is the opposite of its weekday's."""
        i = bisect.bisect_left(self.ordinals, ordinal)
        return i < len(self.ordinals) and self.ordinals[i] == ordinal


# --------------------------------------------------------------------------- the calendar


def require_aware(t: datetime) -> None:
    """Raise ValueError for a naive datetime: calendar arithmetic needs instants."""
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware datetime, got naive {t.isoformat()}")


@dataclass(frozen=True)
class BusinessCalendar:
    """Working days and hours in one zone; see the module docstring for the semantics."""

    name: str
    tz: ZoneInfo
    week: frozenset[int]  # weekday numbers, Monday = 0
    periods: tuple[tuple[int, int], ...]  # [start, end) in microseconds after local midnight
    country: str | None = None
    subdiv: str | None = None
    holiday_dates: frozenset[date] = frozenset()
    extra_working_days: frozenset[date] = frozenset()
    #: Working microseconds in one working day (every working day has the same hours).
    day_us: int = field(init=False, repr=False, compare=False)
    # _week_prefix[k] = how many of the weekdays 0..k-1 (over two weeks, mod 7) are in `week`.
    _week_prefix: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _years: dict[int, _YearIndex] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    # ordinal -> working days in [base, ordinal) (negative before the base): a per-day cache, so
    # an evaluation run pays the year-index lookups once per distinct day, not once per deal.
    _before: dict[int, int] = field(init=False, repr=False, compare=False, default_factory=dict)
    _working: dict[int, bool] = field(init=False, repr=False, compare=False, default_factory=dict)
    # (ordinal, n) -> the n-th working day after that day (n < 0: the -n-th before it).
    _nth: dict[tuple[int, int], date] = field(init=False, repr=False, compare=False,
                                              default_factory=dict)

    def __post_init__(self) -> None:
        if not self.week or not self.periods:
            raise ValueError("a business calendar needs working weekdays and working hours")
        object.__setattr__(self, "day_us", sum(end - start for start, end in self.periods))
        prefix = [0]
        for k in range(14):
            prefix.append(prefix[-1] + (k % 7 in self.week))
        object.__setattr__(self, "_week_prefix", tuple(prefix))

    # ----------------------------------------------------------------- sizes

    @property
    def workdays_per_week(self) -> int:
        """Number of working weekdays in an ordinary week."""
        return len(self.week)

    @property
    def working_seconds_per_day(self) -> int:
        """Working seconds in one working day."""
        return self.day_us // 1_000_000

    @property
    def working_seconds_per_week(self) -> int:
        """Working seconds in an ordinary week without holidays."""
        return self.working_seconds_per_day * len(self.week)

    # ----------------------------------------------------------------- working days

    def _year(self, year: int) -> _YearIndex:
        index = self._years.get(year)
        if index is None:
            index = self._build_year(year)
            self._years[year] = index
        return index

    def _build_year(self, year: int) -> _YearIndex:
        package_holidays: set[date] = set()
        package_workdays: set[date] = set()
        if self.country is not None:
            # Observed days can spill across New Year, so neighbours are consulted too.
            for y in (year - 1, year, year + 1):
                if date.min.year <= y <= date.max.year:
                    listed_off, listed_working = _package_year(self.country, self.subdiv, y)
                    package_holidays.update(d for d in listed_off if d.year == year)
                    package_workdays.update(d for d in listed_working if d.year == year)
        days_off = package_holidays | {d for d in self.holiday_dates if d.year == year}
        extra = package_workdays | {d for d in self.extra_working_days if d.year == year}
        ordinals: list[int] = []
        running = [0]
        for day in sorted(days_off | extra):
            in_week = day.weekday() in self.week
            working = day not in days_off and (in_week or day in extra)
            if working != in_week:
                ordinals.append(day.toordinal())
                running.append(running[-1] + (1 if working else -1))
        return _YearIndex(tuple(ordinals), tuple(running))

    def is_working_day(self, day: date) -> bool:
        """True if `day` (a local date; an aware datetime is read in the calendar's zone) works."""
        if isinstance(day, datetime):
            require_aware(day)
            day = day.astimezone(self.tz).date()
        ordinal = day.toordinal()
        found = self._working.get(ordinal)
        if found is None:
            in_week = day.weekday() in self.week
            found = in_week != self._year(day.year).is_exception(ordinal)
            if len(self._working) < _DAY_CACHE:
                self._working[ordinal] = found
        return found

    def days_before(self, ordinal: int) -> int:
        """Working days from a fixed base day up to (not including) day ``ordinal``.

        Only differences mean anything: ``days_before(b) - days_before(a)`` is the number of
        working days in [a, b).
        """
        found = self._before.get(ordinal)
        if found is None:
            if not self._before:
                self._before[ordinal] = 0  # the first day asked is the base
                return 0
            base = next(iter(self._before))
            if ordinal >= base:
                found = self._count_working_days(date.fromordinal(base), date.fromordinal(ordinal))
            else:
                found = -self._count_working_days(date.fromordinal(ordinal),
                                                  date.fromordinal(base))
            if len(self._before) < _DAY_CACHE:
                self._before[ordinal] = found
        return found

    def _count_working_days(self, first: date, stop: date) -> int:
        """Working days in [first, stop)."""
        n = (stop - first).days
        if n <= 0:
            return 0
        weeks, rest = divmod(n, 7)
        wd = first.weekday()
        count = weeks * len(self.week) + self._week_prefix[wd + rest] - self._week_prefix[wd]
        lo, hi = first.toordinal(), stop.toordinal()
        last = stop - timedelta(days=1)
        for year in range(first.year, last.year + 1):
            count += self._year(year).flips_between(lo, hi)
        return count

    def working_day_after(self, day: date, n: int) -> date:
        """The n-th (n >= 1) working day strictly after `day`."""
        return self._nth_working_day(day, n)

    def working_day_before(self, day: date, n: int) -> date:
        """The n-th (n >= 1) working day strictly before `day`."""
        return self._nth_working_day(day, -n)

    def _nth_working_day(self, day: date, n: int) -> date:
        # Deadlines of a run start on a few dozen distinct days: remember each answer.
        key = (day.toordinal(), n)
        found = self._nth.get(key)
        if found is None:
            found = self._search_working_day(day, n)
            if len(self._nth) < _DAY_CACHE:
                self._nth[key] = found
        return found

    def _search_working_day(self, day: date, n: int) -> date:
        """The n-th working day after `day` (n > 0), or the -n-th before it (n < 0)."""
        step, wanted = (1, n) if n > 0 else (-1, -n)
        # Days are looked at from `near` on, away from `day`: count(span) is the number of
        # working days among the `span` days nearest `day` on that side.
        near = day.toordinal() + step
        if step > 0:
            origin = self.days_before(near)

            def count(span: int) -> int:
                return self.days_before(near + span) - origin
        else:
            origin = self.days_before(near + 1)

            def count(span: int) -> int:
                return origin - self.days_before(near + 1 - span)
        # Exponential then binary search for the smallest span holding n working days.
        span = wanted * 7 // len(self.week) + 7
        while count(span) < wanted:
            span *= 2
            if span > _MAX_SEARCH_DAYS:
                side = "after" if step > 0 else "before"
                raise ValueError(
                    f"calendar '{self.name}' has no {wanted} working days {side} {day}")
        lo, hi = 0, span  # count(lo) < n <= count(hi)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if count(mid) >= wanted:
                hi = mid
            else:
                lo = mid
        return date.fromordinal(near + step * (hi - 1))
