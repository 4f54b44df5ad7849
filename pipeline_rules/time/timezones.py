"""IANA time zones by name, with readable errors and did-you-mean suggestions."""

from __future__ import annotations

import difflib
import functools
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pipeline_rules.i18n import Message

__all__ = ["TimezoneError", "get_zone"]

# IANA names are '/'-separated components of letters, digits and `_+-`; anything else
# (paths, spaces, offsets like "+03:00") is refused before the file system is touched.
_NAME_RE = re.compile(r"[A-Za-z0-9_+-]+(?:/[A-Za-z0-9_+-]+)*")


class TimezoneError(ValueError):
    """A time zone name that is not a known IANA zone (its message a catalog entry:
    :attr:`message`)."""

    @property
    def message(self) -> str:
        """Why, as a message that can be said in any language."""
        first = self.args[0] if self.args else ""
        return first if isinstance(first, Message) else str(self)


@functools.cache
def _known_zones() -> frozenset[str]:
    # Scanning tzdata costs ~20 ms, so it is done once and only when needed.
    return frozenset(available_timezones())


@functools.cache
def _lowercase_index() -> dict[str, str]:
    return {name.lower(): name for name in _known_zones()}


def _suggestion(name: str) -> str | None:
    exact = _lowercase_index().get(name.lower())
    if exact is not None:
        return exact
    close = difflib.get_close_matches(name, sorted(_known_zones()), n=1, cutoff=0.75)
    return close[0] if close else None


def _unknown(name: str) -> TimezoneError:
    hint = _suggestion(name)
    if hint:
        return TimezoneError(Message("timezone.unknown-hint", {"name": name, "hint": hint}))
    return TimezoneError(Message("timezone.unknown", {"name": name}))


def get_zone(name: str) -> ZoneInfo:
    """Return the ZoneInfo for an IANA name such as 'Europe/Moscow', or raise TimezoneError."""
    # Checked before the cache because YAML can hand us lists, which are unhashable.
    if not isinstance(name, str):
        raise TimezoneError(Message("timezone.not-a-name", {"got": repr(name)}))
    return _load(name)


@functools.lru_cache(maxsize=256)
def _load(name: str) -> ZoneInfo:
    if not name.strip():
        raise TimezoneError(Message("timezone.empty", {}))
    if not _NAME_RE.fullmatch(name):
        raise _unknown(name)
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # OSError covers directory names such as "Europe" that zoneinfo tries to open.
        raise _unknown(name) from None
    # Case-insensitive file systems would accept "europe/moscow"; insist on the canonical key.
    if name not in _known_zones():
        raise _unknown(name)
    return zone
