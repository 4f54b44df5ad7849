"""Time: durations, time zones, cron schedules, business calendars and the arithmetic on them."""
