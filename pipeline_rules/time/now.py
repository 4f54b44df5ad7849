"""Reading times: ISO 8601 text as instants, and the one reader of an evaluation time (`now`).

Accepted forms (`parse_now`, and every time in a deal record):

* any ISO 8601 text ``datetime.fromisoformat`` reads (``2026-11-20T09:05:00+03:00``,
  ``2026-11-20 09:05``, ``2026-11-20``), or RFC 3339 as msgspec reads it; surrounding spaces
  are ignored;
* the years 1900-2999 only, read on the text as written: a date of year 1 or 9999 is a typo, and
  schedule and calendar arithmetic on it would overflow Python's datetime range;
* a time without an offset is read in the given zone (a bare date is midnight there) and
  carried in UTC; a written offset is kept.

The command line's ``--now``, ``--from`` and ``--to``, runs over many rulesets and the HTTP
service's ``now`` all read their time with :func:`parse_now`; they differ only in the zone they
pass and in how they report a :class:`NowError`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo

import msgspec

__all__ = ["MAX_YEAR", "MIN_YEAR", "NowError", "in_zone", "parse_iso", "parse_now"]

#: Times outside these years are refused (see the module docstring).
MIN_YEAR, MAX_YEAR = 1900, 2999
#: What every "not a time" message shows as the form to write.
EXAMPLE = "2026-11-20T09:05:00+03:00"

_FROM_ISO = datetime.fromisoformat
_LONG_FRACTION = re.compile(r"\.\d{7}")


class NowError(ValueError):
    """A time that cannot be read; ``where`` names the option or field it came from."""

    def __init__(self, message: str, where: str, key: str | None = None,
                 args: dict[str, object] | None = None) -> None:
        super().__init__(f"{where}: {message}")
        self.message = message
        self.where = where
        #: The message as a catalog entry, for other languages.
        self.key = key
        self.key_args = args or {}


def parse_iso(text: str) -> datetime:
    """An ISO 8601 text as a datetime: RFC 3339 as msgspec reads it, any other ISO 8601 form
    as ``datetime.fromisoformat`` does; raise ValueError if neither can.

    The two agree on every text both read but one: fractions of a second beyond six digits,
    which msgspec rounds and fromisoformat cuts. The fast deal reader has msgspec decode
    RFC 3339 times, so every reader follows msgspec there.
    """
    try:
        parsed = _FROM_ISO(text)
    except ValueError:
        return msgspec.convert(text, datetime)
    if "." in text and _LONG_FRACTION.search(text):
        try:
            return msgspec.convert(text, datetime)
        except msgspec.ValidationError:
            pass  # not RFC 3339: fromisoformat's reading stands
    return parsed


def in_zone(parsed: datetime, zone: tzinfo) -> datetime:
    """``parsed`` as an aware instant: without an offset, read in ``zone`` and carried in UTC."""
    # Python subtracts and compares two datetimes that share a ZoneInfo by their wall clocks,
    # which is wrong across a DST change; UTC is not. A written offset is fixed, so it is safe
    # to keep (times are shown in the ruleset's zone later anyway).
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        return parsed.replace(tzinfo=zone).astimezone(UTC)
    return parsed


def parse_now(text: str | None, zone: tzinfo, where: str) -> datetime:
    """The time ``text`` names (None: the current time), as an aware datetime; no offset: read
    in ``zone``. Raise :class:`NowError` naming ``where`` if it is not a time we accept."""
    if text is None:
        return datetime.now(zone)
    try:
        parsed = parse_iso(text.strip())
    except ValueError:
        raise NowError(f"'{text}' is not an ISO 8601 time (e.g. {EXAMPLE})", where,
                       "deal.not-iso", {"value": text, "example": EXAMPLE}) from None
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise NowError(f"'{text}' is outside the years {MIN_YEAR}-{MAX_YEAR}", where,
                       "deal.years", {"value": text, "low": MIN_YEAR, "high": MAX_YEAR})
    return in_zone(parsed, zone)
