"""The analysis and backtest reports: plain frozen data, serialisable to JSON.

Durations are in seconds (floats); a ``Quantiles`` holds the median, p75, p80 and p90 of a
distribution and how many values it has. Everything the text, JSON and HTML outputs show comes
from these objects, so the three cannot disagree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from pipeline_rules.analytics.split import Split
from pipeline_rules.time.durations import format_seconds, format_working


@dataclass(frozen=True)
class Quantiles:
    """A distribution of durations (seconds): count and quantiles (None when empty)."""

    count: int = 0
    median: float | None = None
    p75: float | None = None
    p80: float | None = None
    p90: float | None = None


@dataclass(frozen=True)
class StageStats:
    """What happened to deals in one stage."""

    stage: str
    title: str
    entered: int  # entries into the stage (a deal re-entering counts again)
    moved_on: int  # left forward (to a later stage, including won)
    went_back: int  # left to an earlier stage or sideways
    lost: int  # left to a lost stage
    still_there: int  # open deals in the stage now
    dwell_wall: Quantiles  # completed visits, wall-clock time
    dwell_working: Quantiles | None  # completed visits, working time (None without calendar)
    age_wall: Quantiles  # how long the deals still there have been there
    sla_id: str | None = None
    sla_limit: str | None = None
    breached: int = 0  # visits (completed or ongoing) that went over the SLA
    breach_share: float | None = None
    suggested_limit: str | None = None  # the p80 dwell, rounded for people
    suggested_seconds: float | None = None
    suggested_basis: str | None = None  # "wall" or "working"
    #: Working seconds in one business day of the calendar ``dwell_working`` is measured on:
    #: working time is shown in business days of that length, not in 24-hour days.
    working_day_seconds: float | None = None

    def working(self, seconds: float | None) -> str:
        """Working seconds of this stage as business days and hours (a dash for none)."""
        if seconds is None:
            return "—"
        if not self.working_day_seconds:
            return format_seconds(seconds)
        return format_working(seconds, self.working_day_seconds)

    @property
    def loss_share(self) -> float:
        """Share of the deals that left the stage that were lost there."""
        left = self.moved_on + self.went_back + self.lost
        return self.lost / left if left else 0.0


@dataclass(frozen=True)
class Stall:
    """A stage's place in the stall ranking, with the figures that put it there."""

    stage: str
    rank: int
    score: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class GroupStats:
    """Deals grouped by start definition or by owner."""

    key: str
    deals: int
    won: int
    lost: int
    open: int
    win_rate: float | None  # won / (won + lost)
    cycle_won: Quantiles  # first entry to the won stage, wall-clock
    cycle_closed: Quantiles  # first entry to won or lost


@dataclass(frozen=True)
class Report:
    """The analysis of a set of deal histories against a ruleset."""

    ruleset: str
    title: str
    now: str
    calendar: str | None
    deals: int
    bad_records: int
    stages: tuple[StageStats, ...]
    stalls: tuple[Stall, ...]
    by_start: tuple[GroupStats, ...]
    by_owner: tuple[GroupStats, ...]
    notes: tuple[str, ...] = ()
    by: str | None = None  # the field of ``by_field`` (analyze --by)
    by_field: tuple[GroupStats, ...] = ()
    by_month: tuple[GroupStats, ...] = ()  # keyed YYYY-MM: the month the cycle started
    cycle_limit: str | None = None  # the p80 of closed deals' cycles, rounded up
    cycle_limit_seconds: float | None = None
    split: Split | None = None  # analyze --split: before and after a date

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data = asdict(self)
        for stage, source in zip(data["stages"], self.stages, strict=True):
            stage["loss_share"] = source.loss_share
        return data


@dataclass(frozen=True)
class Tally:
    """Alerts counted by code, by stage, by owner and by week (the week's Monday)."""

    by_code: dict[str, int] = field(default_factory=dict)
    by_stage: dict[str, dict[str, int]] = field(default_factory=dict)
    by_owner: dict[str, dict[str, int]] = field(default_factory=dict)
    by_week: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """All alerts."""
        return sum(self.by_code.values())


@dataclass(frozen=True)
class Change:
    """How many alerts of one code and rule a compared ruleset adds or removes."""

    code: str
    rule: str | None
    added: int
    removed: int
    examples_added: tuple[str, ...] = ()  # "deal D-17 at 2026-11-03 12:00"
    examples_removed: tuple[str, ...] = ()


@dataclass(frozen=True)
class Backtest:
    """What a regulation would have raised over a past period, evaluated every ``every``."""

    ruleset: str
    title: str
    start: str
    end: str
    every: str
    points: int
    deals: int
    bad_records: int
    tally: Tally
    compare_ruleset: str | None = None
    compare_tally: Tally | None = None
    changes: tuple[Change, ...] = ()
    notes: tuple[str, ...] = ()
    #: Alerts already open at the start (due before it), by code: the backlog, kept out of
    #: ``tally`` so the period's first week shows only what the period raised.
    backlog: dict[str, int] = field(default_factory=dict)
    compare_backlog: dict[str, int] | None = None

    @property
    def net(self) -> int:
        """Alerts the compared ruleset raises in the period, less those it no longer raises."""
        return sum(c.added - c.removed for c in self.changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)
