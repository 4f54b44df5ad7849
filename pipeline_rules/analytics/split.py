"""Before and after a regulation change: the deals whose cycle started before a date against
those that started on or after it — cycle length, win rate, dwell and share over SLA per stage —
with bootstrap confidence intervals and a plain verdict, so a team can keep a change that helps
and revert one that does not.

The intervals are percentile bootstrap intervals of the difference (after minus before): the
deals of each side are resampled with replacement ``RESAMPLES`` times from a seeded generator
(the same figures every run), each side at most ``SAMPLE`` values (a seeded subsample beyond
that, which keeps a run over millions of deals to seconds). Per-stage figures are shown without
intervals.

Deals whose cycle is still open count for the win rate only when closed, and for the cycle only
when closed: the more recent side has had less time to close its long cycles, so a cut close to
the end of the data favours it — compare periods of like length that have had time to close.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime
from statistics import median

#: Bootstrap resamples, the generator's seed, and the largest sample resampled per side.
RESAMPLES = 1000
SEED = 14
SAMPLE = 2000
#: Fewer closed deals than this on a side: too few to tell.
MINIMUM = 5
DAY = 86400.0


@dataclass(frozen=True)
class Interval:
    """An estimate of after minus before and its 95 % interval."""

    estimate: float
    low: float
    high: float


@dataclass(frozen=True)
class Side:
    """One side of the split: its deals, closed deals, won deals, win rate and median cycle."""

    deals: int
    closed: int
    won: int
    win_rate: float | None
    cycle_median: float | None  # seconds, closed deals


@dataclass(frozen=True)
class StageSplit:
    """One stage before and after: median dwell of completed visits and share over its SLA."""

    stage: str
    dwell_before: float | None
    dwell_after: float | None
    over_sla_before: float | None
    over_sla_after: float | None


@dataclass(frozen=True)
class Split:
    """The comparison, ready for text, JSON and HTML."""

    at: str
    before: Side
    after: Side
    cycle: Interval | None
    win_rate: Interval | None
    stages: tuple[StageSplit, ...]
    verdict: tuple[str, ...]
    resamples: int = RESAMPLES
    seed: int = SEED


@dataclass
class SideValues:
    """The raw figures of one side while the analysis streams."""

    deals: int = 0
    cycles: list[float] = field(default_factory=list)
    outcomes: list[bool] = field(default_factory=list)  # closed deals: won?
    dwell: dict[str, list[float]] = field(default_factory=dict)
    timed: dict[str, list[bool]] = field(default_factory=dict)  # visits judged: over the SLA?


class Splitter:
    """The two sides' raw figures while the analysis streams (memory: a float a closed deal
    and a completed visit)."""

    def __init__(self, at: datetime) -> None:
        self.at = at
        self.sides = (SideValues(), SideValues())

    def side(self, start: datetime) -> SideValues:
        """The side of a deal whose cycle started at ``start``."""
        return self.sides[start >= self.at]

    def result(self, stages: list[str], shown_at: str) -> Split:
        """The comparison of the two sides."""
        before, after = self.sides
        rng = random.Random(SEED)
        cycle = None
        if len(before.cycles) >= MINIMUM and len(after.cycles) >= MINIMUM:
            cycle = _interval(_sample(before.cycles, rng), _sample(after.cycles, rng), median,
                              rng)
        rate = None
        if len(before.outcomes) >= MINIMUM and len(after.outcomes) >= MINIMUM:
            rate = _interval(_sample([float(o) for o in before.outcomes], rng),
                             _sample([float(o) for o in after.outcomes], rng), _mean, rng)
        rows = tuple(StageSplit(
            stage, _median(before.dwell.get(stage)), _median(after.dwell.get(stage)),
            _share(before.timed.get(stage)), _share(after.timed.get(stage)))
            for stage in stages if before.dwell.get(stage) or after.dwell.get(stage))
        return Split(shown_at, _side(before), _side(after), cycle, rate, rows,
                     verdict(cycle, rate))


def _side(side: SideValues) -> Side:
    won = sum(side.outcomes)
    closed = len(side.outcomes)
    return Side(side.deals, closed, won, won / closed if closed else None,
                _median(side.cycles))


def _median(values: list[float] | None) -> float | None:
    return median(values) if values else None


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _share(flags: list[bool] | None) -> float | None:
    return sum(flags) / len(flags) if flags else None


def _sample(values: list[float], rng: random.Random) -> list[float]:
    return values if len(values) <= SAMPLE else rng.sample(values, SAMPLE)


def _interval(before: list[float], after: list[float], statistic: object,
              rng: random.Random) -> Interval:
    """The percentile bootstrap 95 % interval of statistic(after) - statistic(before)."""
    assert callable(statistic)
    differences = sorted(
        statistic(rng.choices(after, k=len(after))) - statistic(rng.choices(before,
                                                                             k=len(before)))
        for _ in range(RESAMPLES))
    low = differences[int(0.025 * RESAMPLES)]
    high = differences[int(0.975 * RESAMPLES) - 1]
    return Interval(statistic(after) - statistic(before), low, high)


def _days(seconds: float) -> str:
    days = abs(seconds) / DAY
    return f"{days:.0f}" if days >= 10 else f"{days:.1f}".rstrip("0").rstrip(".")


def verdict(cycle: Interval | None, rate: Interval | None) -> tuple[str, ...]:
    """The comparison in plain words, one line a measure."""
    lines = []
    if cycle is None:
        lines.append("cycle length: too few closed deals on a side to tell")
    elif cycle.high < 0:
        lines.append(f"cycle shorter by {_days(cycle.high)}–{_days(cycle.low)} days, 95 %")
    elif cycle.low > 0:
        lines.append(f"cycle longer by {_days(cycle.low)}–{_days(cycle.high)} days, 95 %")
    else:
        lines.append(f"cycle length: no clear change ({_signed(cycle.low)} to "
                     f"{_signed(cycle.high)} days, 95 %)")
    if rate is None:
        lines.append("win rate: too few closed deals on a side to tell")
    elif rate.low > 0:
        lines.append(f"win rate up by {rate.low * 100:.0f}–{rate.high * 100:.0f} points, 95 %")
    elif rate.high < 0:
        lines.append(f"win rate down by {-rate.high * 100:.0f}–{-rate.low * 100:.0f} points, "
                     "95 %")
    else:
        lines.append(f"win rate: no clear change ({_points(rate.low)} to "
                     f"{_points(rate.high)} points, 95 %)")
    return tuple(lines)


def _points(share: float) -> str:
    points = round(share * 100)
    return ("+" if points >= 0 else "−") + str(abs(points))


def _signed(seconds: float) -> str:
    return ("+" if seconds >= 0 else "−") + _days(seconds)


__all__ = ["RESAMPLES", "SAMPLE", "SEED", "Interval", "Side", "SideValues", "Split", "Splitter",
           "StageSplit", "verdict"]
