"""Time, the bottom layer: what the rest of the package counts time with.

:mod:`.durations` (durations as rulesets write them), :mod:`.timezones`, :mod:`.schedules` (cron),
:mod:`.calendars` (business calendar specs: working days, hours, holidays), :mod:`.working`
(working time on a calendar, and ``shift``: a duration to an instant), :mod:`.clock` (the SLA
clock and timers, with pauses) and :mod:`.now` (reading times, and the evaluation time).
"""
