"""Durations written in rulesets: wall-clock (`1d12h`) and business time (`5 business days`).

Grammar (case-insensitive, surrounding spaces ignored):

* wall-clock: one or more `<int><unit>` parts, units `w d h m s` in that order, each at most
  once, optionally separated by spaces: `30m`, `2h`, `1w`, `1d12h`, `1d 12h`, `90m`; or one
  spelled-out unit: `7 days`, `2 hours`, `1 week`, `30 minutes`, `7 дней`, `2 часа`;
* business days: `5 business days`, `1 business day`, `5 рабочих дней`, `1 рабочий день`;
* business time: `8 business hours`, `30 business minutes`, `8 рабочих часов`,
  `30 рабочих минут`.

Zero is accepted (`0m`); whether zero makes sense is the caller's decision. Anything longer
than a hundred years is refused as a probable typo.
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass
from datetime import timedelta

from pipeline_rules import i18n

__all__ = ["Duration", "DurationError", "DurationKind", "format_seconds", "format_working",
           "parse_duration"]

_MINUTE = 60
_HOUR = 3600
_DAY = 86400
_WEEK = 7 * _DAY
_MAX_SECONDS = 36525 * _DAY  # a hundred years
_MAX_DIGITS = 12  # longer numbers are over the limit anyway; also keeps int() cheap

ACCEPTED_FORMS = (
    "'30m', '2h', '7d', '1w', '1d12h', '5 business days', '8 business hours', "
    "'5 рабочих дней', '8 рабочих часов'"
)

_WALL_RE = re.compile(
    r"(?:(?P<w>[0-9]+)w)?\s*(?:(?P<d>[0-9]+)d)?\s*(?:(?P<h>[0-9]+)h)?\s*"
    r"(?:(?P<m>[0-9]+)m)?\s*(?:(?P<s>[0-9]+)s)?",
    re.IGNORECASE,
)
_WALL_UNITS = {"w": _WEEK, "d": _DAY, "h": _HOUR, "m": _MINUTE, "s": 1}

_BUSINESS_RE = re.compile(
    r"(?P<n>[0-9]+)\s+(?:business\s+(?P<en>days?|hours?|minutes?)"
    r"|рабоч(?:ий|их|его)\s+(?P<ru>день|дня|дней|час|часа|часов|минута|минуты|минут))",
    re.IGNORECASE,
)


# One spelled-out unit: "7 days", "2 hours", "1 неделя", "30 минут".
_SPELLED_RE = re.compile(
    r"(?P<n>[0-9]+)\s+(?P<unit>weeks?|days?|hours?|minutes?|seconds?"
    r"|недел[яиь]|день|дня|дней|час|часа|часов|минута|минуты|минут|секунд[аы]?)",
    re.IGNORECASE,
)
_SPELLED_UNITS = {
    **dict.fromkeys(("week", "weeks", "неделя", "недели", "недель"), _WEEK),
    **dict.fromkeys(("day", "days", "день", "дня", "дней"), _DAY),
    **dict.fromkeys(("hour", "hours", "час", "часа", "часов"), _HOUR),
    **dict.fromkeys(("minute", "minutes", "минута", "минуты", "минут"), _MINUTE),
    **dict.fromkeys(("second", "seconds", "секунда", "секунды", "секунд"), 1),
}


class DurationError(ValueError):
    """A duration text that does not follow the grammar."""


class DurationKind(enum.Enum):
    """How a duration is measured: on the wall clock or on a business calendar."""

    WALL = "wall"
    BUSINESS_DAYS = "business_days"
    BUSINESS_TIME = "business_time"


# Singular, plural and the Russian case forms all mean the same unit.
_BUSINESS_UNITS: dict[str, tuple[DurationKind, int]] = {
    "day": (DurationKind.BUSINESS_DAYS, 1),
    "days": (DurationKind.BUSINESS_DAYS, 1),
    "день": (DurationKind.BUSINESS_DAYS, 1),
    "дня": (DurationKind.BUSINESS_DAYS, 1),
    "дней": (DurationKind.BUSINESS_DAYS, 1),
    "hour": (DurationKind.BUSINESS_TIME, _HOUR),
    "hours": (DurationKind.BUSINESS_TIME, _HOUR),
    "час": (DurationKind.BUSINESS_TIME, _HOUR),
    "часа": (DurationKind.BUSINESS_TIME, _HOUR),
    "часов": (DurationKind.BUSINESS_TIME, _HOUR),
    "minute": (DurationKind.BUSINESS_TIME, _MINUTE),
    "minutes": (DurationKind.BUSINESS_TIME, _MINUTE),
    "минута": (DurationKind.BUSINESS_TIME, _MINUTE),
    "минуты": (DurationKind.BUSINESS_TIME, _MINUTE),
    "минут": (DurationKind.BUSINESS_TIME, _MINUTE),
}


@dataclass(frozen=True)
class Duration:
    """A parsed duration; `amount` is seconds (WALL), working days, or working seconds."""

    kind: DurationKind
    amount: int
    text: str

    @property
    def is_business(self) -> bool:
        """True when the duration is measured on a business calendar."""
        return self.kind is not DurationKind.WALL

    def nominal_seconds(
        self, workdays_per_week: int = 5, working_seconds_per_week: int = 40 * _HOUR
    ) -> float:
        """Estimate the calendar length in seconds, for comparing durations of different kinds.

        Exact for wall-clock durations. Business durations are spread evenly over the week
        (N business days ~ N * 7 / workdays_per_week days; business time ~ its share of
        the working week), ignoring holidays and where in the week they start.
        """
        if self.kind is DurationKind.WALL:
            return float(self.amount)
        if self.kind is DurationKind.BUSINESS_DAYS:
            if workdays_per_week <= 0:
                raise ValueError("workdays_per_week must be positive")
            return self.amount * 7 / workdays_per_week * _DAY
        if working_seconds_per_week <= 0:
            raise ValueError("working_seconds_per_week must be positive")
        return self.amount / working_seconds_per_week * _WEEK

    def as_timedelta(self) -> timedelta:
        """Return wall-clock or working time as a timedelta; business days have no fixed length."""
        if self.kind is DurationKind.BUSINESS_DAYS:
            raise ValueError(f"'{self.text}' counts business days, not a length of time")
        return timedelta(seconds=self.amount)


def _error(text: str, empty: bool = False) -> DurationError:
    return DurationError(i18n.Message("duration.empty" if empty else "duration.invalid",
                                      {"text": text, "forms": ACCEPTED_FORMS}))


def _too_long(text: str) -> DurationError:
    return DurationError(i18n.Message("duration.too-long", {"text": text}))


def _number(digits: str, text: str) -> int:
    if len(digits) > _MAX_DIGITS:
        raise _too_long(text)
    return int(digits)


def parse_duration(text: object) -> Duration:
    """Parse a duration string such as '1d12h' or '5 business days'; raise DurationError."""
    if not isinstance(text, str):
        raise DurationError(i18n.Message("duration.not-a-string", {"got": repr(text)}))
    body = text.strip()
    if not body:
        raise _error(text, empty=True)

    business = _BUSINESS_RE.fullmatch(body)
    if business is not None:
        unit_word = (business["en"] or business["ru"]).lower()
        kind, unit = _BUSINESS_UNITS[unit_word]
        amount = _number(business["n"], text)
        # Even the shortest reading (a business day is at least a calendar day, a business hour
        # at least an hour) is bounded by the same hundred years.
        reach = amount * (_DAY if kind is DurationKind.BUSINESS_DAYS else unit)
        if reach > _MAX_SECONDS:
            raise _too_long(text)
        return Duration(kind, amount if kind is DurationKind.BUSINESS_DAYS else reach, text)

    spelled = _SPELLED_RE.fullmatch(body)
    if spelled is not None:
        seconds = _number(spelled["n"], text) * _SPELLED_UNITS[spelled["unit"].lower()]
        if seconds > _MAX_SECONDS:
            raise _too_long(text)
        return Duration(DurationKind.WALL, seconds, text)

    wall = _WALL_RE.fullmatch(body)
    if wall is None or not any(wall.groupdict().values()):
        raise _error(text)
    seconds = sum(
        _number(value, text) * _WALL_UNITS[unit]
        for unit, value in wall.groupdict().items()
        if value is not None
    )
    if seconds > _MAX_SECONDS:
        raise _too_long(text)
    return Duration(DurationKind.WALL, seconds, text)


def _round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


#: The short units of :func:`format_seconds` and :func:`format_working` per language.
_SHORT = {"en": {"w": "w", "d": "d", "h": "h", "m": "m", "hour": "h", "min": "min"},
          "ru": {"w": "н", "d": "д", "h": "ч", "m": "мин", "hour": "ч", "min": "мин"}}


def format_working(seconds: float, day: float, lang: str = "en") -> str:
    """Working seconds as people count them: business days of ``day`` working seconds and
    hours, e.g. '31 business days 2 h' (a working day of 8 hours is not 24 hours); the words
    in ``lang``."""
    if not math.isfinite(seconds) or day <= 0:
        raise ValueError(f"cannot format {seconds!r} working seconds with days of {day!r}")
    if seconds < 0:
        return "-" + format_working(-seconds, day, lang)
    short = _SHORT.get(lang, _SHORT["en"])
    hour, minute = short["hour"], short["min"]
    days, rest = divmod(seconds, day)
    hours = _round_half_up(rest / _HOUR)
    if hours * _HOUR >= day:  # rounding carried into a whole day
        days, hours = days + 1, 0
    whole = int(days)
    if not whole:
        if rest >= _HOUR:
            return f"{hours} {hour}"
        minutes = _round_half_up(rest / _MINUTE)
        if minutes == 60:
            return f"1 {hour}"
        return f"{minutes} {minute}" if minutes else (
            f"0 {hour}" if rest == 0 else f"<1 {minute}")
    if lang in _SHORT and lang != "en":

        text = i18n.plural(whole, "business-day", lang)
    else:
        text = f"{whole} business day{'' if whole == 1 else 's'}"
    return f"{text} {hours} {hour}" if hours else text


def format_seconds(seconds: float, lang: str = "en") -> str:
    """Render seconds compactly for people, e.g. 93784 -> '1d2h', 5400 -> '1h30m' (in Russian
    '1д2ч', '1ч30мин').

    At most the two largest non-zero units of d/h/m, rounded to the smaller one shown;
    weeks only for exact multiples of a week; '<1m' for less than half a minute but not zero.
    """
    if not math.isfinite(seconds):
        raise ValueError(f"cannot format {seconds!r} seconds")
    if seconds < 0:
        return "-" + format_seconds(-seconds, lang)
    short = _SHORT.get(lang, _SHORT["en"])
    if seconds == 0:
        return "0" + short["m"]
    if seconds % _WEEK == 0:
        return f"{int(seconds // _WEEK)}{short['w']}"
    minutes = _round_half_up(seconds / _MINUTE)
    if minutes == 0:
        return "<1" + short["m"]
    units = ((1440, short["d"]), (60, short["h"]), (1, short["m"]))
    top = next(i for i, (size, _) in enumerate(units) if minutes >= size)
    if top + 1 < len(units):
        step = units[top + 1][0]
        minutes = _round_half_up(minutes / step) * step
    # Rounding can carry into a larger unit (23h59m30s -> 1d), so split afresh.
    parts: list[str] = []
    for size, name in units:
        count, minutes = divmod(minutes, size)
        if count:
            parts.append(f"{count}{name}")
    return "".join(parts[:2])


def spoken(duration: Duration, lang: str) -> str:
    """A duration in words of ``lang`` (``5 рабочих дней``, ``1 день 12 часов``); in English,
    as the ruleset writes it."""

    if lang == i18n.DEFAULT:
        return duration.text
    if duration.kind is DurationKind.BUSINESS_DAYS:
        return i18n.plural(duration.amount, "business-day", lang)
    seconds = duration.amount
    parts = []
    units: tuple[tuple[int, str], ...] = (
        (_DAY, "day"), (_HOUR, "hour"), (_MINUTE, "minute"), (1, "second"))
    if duration.kind is DurationKind.BUSINESS_TIME:
        units = ((_HOUR, "business-hour"), (_MINUTE, "minute"), (1, "second"))
    for size, key in units:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(i18n.plural(count, key, lang))
    return " ".join(parts) or i18n.plural(0, "minute", lang)
