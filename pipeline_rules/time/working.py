"""Working time on a business calendar: measuring it, adding it, taking it away, and turning a
duration into an instant.

What working time is — which days work, the working hours, how the clocks changing counts — is
the calendar's spec (:mod:`pipeline_rules.time.calendars`). On it:

* `working_time(cal, start, end)` is the working time in [start, end), zero when end <= start.
* `add_working_time(cal, start, amount)` returns start unchanged for a zero amount; otherwise
  the earliest instant at which `amount` of working time has elapsed since start. An amount that
  is used up exactly at the end of a period returns that end (13:00, not 14:00 after lunch).
  When that wall-clock time does not exist (the skipped hour of a spring-forward night) the
  result is the first instant after the jump.
* `subtract_working_time(cal, end, amount)` is its mirror: end unchanged for a zero amount,
  otherwise the latest instant from which `amount` of working time remains until end. An amount
  that reaches back exactly to the start of a period returns that start (14:00, not 13:00 before
  lunch). When that wall-clock time does not exist, the result is the last instant before the
  jump (one microsecond before it), where the clock still reads earlier.
* `add_business_days(cal, start, n)`: a start outside the working periods counts from the next
  working instant (13:30 counts from 14:00, Saturday from Monday's first period); the deadline
  is the same wall-clock time on the n-th working day after that. If that time is not inside a
  working period on that day, the next working instant after it is used. n = 0 returns the
  normalised start. The working time from start to the result is n working days' worth.
* `next_working_instant(cal, t)` is t itself when t is inside a working period, otherwise the
  start of the next one.
* `counted_seconds(duration, cal)` is how many seconds a duration counts on its clock: wall
  seconds, working seconds, or for N business days N times a working day's seconds
  (`business_days_seconds`, the one place that rule is written).
* `shift(cal, moment, amount)` is the one way a duration (or a number of counted seconds)
  becomes an instant: SLA deadlines, warnings, task gaps and grace, reminder lead times.

Cost: a day's working time is a sum over its few periods, the days in between come from the
calendar's working-day count, and the n-th working day from its search: nothing loops over days
or minutes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo

from pipeline_rules.time.calendars import BusinessCalendar, require_aware
from pipeline_rules.time.durations import Duration, DurationKind

__all__ = [
    "add_business_days",
    "add_working_time",
    "business_days_seconds",
    "civil_instant",
    "civil_seconds",
    "counted_seconds",
    "next_working_instant",
    "shift",
    "subtract_working_time",
    "working_time",
]

_US = timedelta(microseconds=1)


def _us(delta: timedelta) -> int:
    return delta // _US


# --------------------------------------------------------------------------- the local clock


def _first_with_offset_of(cal: BusinessCalendar, before: datetime, after: datetime) -> datetime:
    """The first instant in (before, after] whose UTC offset is that of `after`."""
    target = after.astimezone(cal.tz).utcoffset()
    while after - before > _US:
        mid = before + (after - before) // 2
        if mid.astimezone(cal.tz).utcoffset() == target:
            after = mid
        else:
            before = mid
    return after.astimezone(cal.tz)


def _repeat_switch(cal: BusinessCalendar, local: datetime) -> tuple[datetime, timedelta] | None:
    """For an instant in the second pass of a repeated hour: the fall-back and its size."""
    if not local.fold:
        return None
    offset, first_offset = local.utcoffset(), local.replace(fold=0).utcoffset()
    if offset is None or first_offset is None or first_offset == offset:
        return None  # fold=1 on a time that is not repeated means nothing
    shift = first_offset - offset
    now = local.astimezone(UTC)
    return _first_with_offset_of(cal, now - shift, now), shift


def _position(cal: BusinessCalendar, t: datetime) -> tuple[date, int]:
    """Local date and microseconds after midnight of `t` on the calendar's working clock."""
    require_aware(t)
    local = t.astimezone(cal.tz)
    if not local.fold:
        # The common case, read straight off the local time (no repeated hour to mend).
        return local.date(), (((local.hour * 60 + local.minute) * 60 + local.second)
                              * 1_000_000 + local.microsecond)
    wall = local.replace(tzinfo=None)
    repeat = _repeat_switch(cal, local)
    if repeat is not None:
        # Second pass of a repeated (fall-back) hour: the clock stands where the first
        # pass ended, so working time never runs backwards or counts an hour twice.
        switch, shift = repeat
        wall = switch.replace(tzinfo=None) + shift
    return wall.date(), _us(wall - datetime.combine(wall.date(), time()))


def _read_wall(cal: BusinessCalendar, wall: datetime) -> tuple[datetime, datetime]:
    """A wall-clock time read in the calendar's zone with fold=0, and the instant that names
    in the zone (whose wall time differs only when a spring-forward jump skipped `wall`)."""
    aware = wall.replace(tzinfo=cal.tz)  # fold=0: the first of two repeated times
    return aware, aware.astimezone(UTC).astimezone(cal.tz)


def _jump_over(cal: BusinessCalendar, wall: datetime, aware: datetime) -> datetime:
    """The instant of the spring-forward jump that skipped the wall-clock time `wall`."""
    skipped_after = wall.replace(tzinfo=cal.tz, fold=1).astimezone(UTC)
    return _first_with_offset_of(cal, skipped_after, aware.astimezone(UTC))


def _instant(cal: BusinessCalendar, day: date, us: int) -> datetime:
    """The earliest instant whose working-clock position is (day, us)."""
    wall = datetime.combine(day, time()) + timedelta(microseconds=us)
    aware, real = _read_wall(cal, wall)
    if real.replace(tzinfo=None) != wall:
        # `wall` was skipped by a spring-forward jump: answer the instant of the jump.
        return _jump_over(cal, wall, aware)
    # When `wall` is where a repeated hour ends, the clock already stood there during
    # the whole second pass, which began at the fall-back.
    repeat = _repeat_switch(cal, (real.astimezone(UTC) - _US).astimezone(cal.tz))
    return real if repeat is None else repeat[0]


def _last_instant(cal: BusinessCalendar, day: date, us: int) -> datetime:
    """The latest instant whose working-clock position is at most (day, us)."""
    wall = datetime.combine(day, time()) + timedelta(microseconds=us)
    aware, real = _read_wall(cal, wall)
    if real.replace(tzinfo=None) != wall:
        # Skipped by a spring-forward jump: the clock reads earlier until the jump, later after.
        return (_jump_over(cal, wall, aware).astimezone(UTC) - _US).astimezone(cal.tz)
    # A repeated time's first pass is the only one at that position (during the second pass
    # the clock stands at the hour's end), and the end of a repeated hour is read once more
    # when the second pass ends, which is what fold=0 names there.
    return real


def _worked_before(cal: BusinessCalendar, us: int) -> int:
    """Working microseconds of a working day before clock position `us`."""
    total = 0
    for start, end in cal.periods:
        if us <= start:
            break
        total += min(us, end) - start
    return total


def _clock_after_working(cal: BusinessCalendar, amount: int) -> int:
    """Earliest clock position of a working day by which `amount` (> 0) us have been worked."""
    for start, end in cal.periods:
        if amount <= end - start:
            return start + amount
        amount -= end - start
    raise AssertionError("amount exceeds a working day")  # callers never ask for more


def _clock_before_working(cal: BusinessCalendar, amount: int) -> int:
    """Latest clock position of a working day before which at most `amount` (< a day) us have
    been worked."""
    for start, end in cal.periods:
        if amount < end - start:
            return start + amount
        amount -= end - start
    raise AssertionError("amount is a whole working day")  # callers never ask for that


# --------------------------------------------------------------------------- arithmetic


def next_working_instant(cal: BusinessCalendar, t: datetime) -> datetime:
    """Return t if it is inside a working period, else the start of the next period."""
    day, us = _position(cal, t)
    if cal.is_working_day(day):
        for start, end in cal.periods:
            if us < end:
                return t.astimezone(cal.tz) if us >= start else _instant(cal, day, start)
    following = cal.working_day_after(day, 1)
    return _instant(cal, following, cal.periods[0][0])


def working_time(cal: BusinessCalendar, start: datetime, end: datetime) -> timedelta:
    """Working time in [start, end); zero if end <= start."""
    require_aware(start)
    require_aware(end)
    # Compared as instants: aware datetimes sharing a tzinfo compare by wall clock.
    if end.timestamp() <= start.timestamp():
        return timedelta(0)
    first_day, first_us = _position(cal, start)
    last_day, last_us = _position(cal, end)
    if first_day == last_day:
        if not cal.is_working_day(first_day):
            return timedelta(0)
        worked = _worked_before(cal, last_us) - _worked_before(cal, first_us)
        return timedelta(microseconds=worked)
    worked = 0
    if cal.is_working_day(first_day):
        worked += cal.day_us - _worked_before(cal, first_us)
    between = cal.days_before(last_day.toordinal()) - cal.days_before(first_day.toordinal() + 1)
    worked += between * cal.day_us
    if cal.is_working_day(last_day):
        worked += _worked_before(cal, last_us)
    return timedelta(microseconds=worked)


def add_working_time(cal: BusinessCalendar, start: datetime, amount: timedelta) -> datetime:
    """Return the instant when `amount` of working time has elapsed since start."""
    require_aware(start)
    if amount < timedelta(0):
        raise ValueError(f"cannot add a negative working time ({amount})")
    if not amount:
        return start.astimezone(cal.tz)
    needed = _us(amount)
    day, us = _position(cal, start)
    if cal.is_working_day(day):
        done = _worked_before(cal, us)
        if needed <= cal.day_us - done:
            return _instant(cal, day, _clock_after_working(cal, done + needed))
        needed -= cal.day_us - done
    whole_days, rest = divmod(needed, cal.day_us)
    if rest == 0:
        # Used up exactly at the close of a day: the end of its last period.
        final = cal.working_day_after(day, whole_days)
        return _instant(cal, final, _clock_after_working(cal, cal.day_us))
    final = cal.working_day_after(day, whole_days + 1)
    return _instant(cal, final, _clock_after_working(cal, rest))


def subtract_working_time(cal: BusinessCalendar, end: datetime, amount: timedelta) -> datetime:
    """Return the latest instant from which `amount` of working time remains until end."""
    require_aware(end)
    if amount < timedelta(0):
        raise ValueError(f"cannot subtract a negative working time ({amount})")
    if not amount:
        return end.astimezone(cal.tz)
    needed = _us(amount)
    day, us = _position(cal, end)
    if cal.is_working_day(day):
        done = _worked_before(cal, us)
        if needed <= done:
            return _last_instant(cal, day, _clock_before_working(cal, done - needed))
        needed -= done
    whole_days, rest = divmod(needed, cal.day_us)
    if rest == 0:
        # Reaches back exactly to the opening of a day: the start of its first period.
        first = cal.working_day_before(day, whole_days)
        return _last_instant(cal, first, cal.periods[0][0])
    first = cal.working_day_before(day, whole_days + 1)
    return _last_instant(cal, first, _clock_before_working(cal, cal.day_us - rest))


def add_business_days(cal: BusinessCalendar, start: datetime, days: int) -> datetime:
    """Return the same working-clock time `days` working days after the normalised start."""
    if days < 0:
        raise ValueError(f"cannot add a negative number of business days ({days})")
    begin = next_working_instant(cal, start)
    if days == 0:
        return begin
    day, us = _position(cal, begin)
    target = cal.working_day_after(day, days)
    return next_working_instant(cal, _instant(cal, target, us))


# --------------------------------------------------------------------------- durations


def business_days_seconds(days: int, cal: BusinessCalendar) -> int:
    """Working seconds in ``days`` business days: every working day holds the same hours."""
    return days * cal.working_seconds_per_day


def counted_seconds(duration: Duration, cal: BusinessCalendar | None) -> float:
    """Seconds a duration counts on its clock: wall or working seconds, or for N business days
    N working days' worth; raise ValueError for business days without a calendar."""
    if duration.kind is not DurationKind.BUSINESS_DAYS:
        return float(duration.amount)
    if cal is None:
        raise ValueError(f"'{duration.text}' needs a business calendar")
    return float(business_days_seconds(duration.amount, cal))


def civil_instant(local: datetime, zone: tzinfo) -> datetime:
    """The instant a clock in ``zone`` shows as naive ``local`` (the first of two in a DST
    fold; a reading in a DST gap is read with the offset before the change), in UTC."""
    return local.replace(tzinfo=zone).astimezone(UTC)


def civil_seconds(start: datetime, end: datetime, zone: tzinfo) -> float:
    """Seconds between two instants on the clock face of ``zone`` (DST changes not counted)."""
    return (end.astimezone(zone).replace(tzinfo=None)
            - start.astimezone(zone).replace(tzinfo=None)).total_seconds()


def shift(cal: BusinessCalendar | None, moment: datetime, amount: Duration | float,
          back: bool = False, civil: tzinfo | None = None) -> datetime:
    """``moment`` plus ``amount`` (``back``: minus) on the calendar's clock or the wall clock.

    A :class:`Duration` counts on its own kind of clock: wall-clock durations (and any duration
    without a calendar) in elapsed seconds, business time in working time. Forward, N business
    days end at the same working-clock time on the N-th working day (`add_business_days`);
    backward, they are N working days' worth of working time, so the result is the latest
    instant from which that much remains until ``moment``. A plain number is seconds counted on
    the calendar's working clock, or on the wall clock without a calendar.

    With ``civil`` (a zone), wall-clock time is that zone's civil time: the clocks' own reading,
    so a day is 24 hours of the clock face whatever a DST change does. Times that are dates
    (midnights) then stay midnights: 60 days from a date is a date.
    """
    if isinstance(amount, Duration):
        if amount.kind is DurationKind.WALL or cal is None:
            cal, delta = None, timedelta(seconds=amount.amount)
        elif amount.kind is DurationKind.BUSINESS_DAYS and not back:
            return add_business_days(cal, moment, amount.amount)
        else:
            delta = timedelta(seconds=counted_seconds(amount, cal))
    else:
        delta = timedelta(seconds=amount)
    if cal is None:
        if civil is not None:
            local = moment.astimezone(civil).replace(tzinfo=None)
            return civil_instant(local - delta if back else local + delta, civil)
        return moment.astimezone(UTC) - delta if back else moment.astimezone(UTC) + delta
    return subtract_working_time(cal, moment, delta) if back else \
        add_working_time(cal, moment, delta)
