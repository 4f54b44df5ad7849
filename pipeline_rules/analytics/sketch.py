"""A quantile sketch with a bounded relative error, in constant memory.

Values are counted in logarithmic buckets: bucket ``i`` holds values in
``(gamma^(i-1), gamma^i]`` with ``gamma = (1 + a) / (1 - a)``, and a quantile is answered with
the bucket's midpoint ``2 gamma^i / (gamma + 1)``, which is within a relative error ``a`` of
every value in the bucket — so of the exact quantile too (the scheme of DDSketch, Masson et al.,
VLDB 2019). With ``a = 0.5 %`` a dwell time of 7 days is reported to within about 50 minutes;
a year of seconds needs under 2,000 buckets, whatever the number of values. Zeros are counted
apart.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

ACCURACY = 0.005


@dataclass
class QuantileSketch:
    """Counts non-negative values; answers quantiles within ``accuracy`` relative error."""

    accuracy: float = ACCURACY
    count: int = 0
    zeros: int = 0
    buckets: Counter[int] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._gamma = (1 + self.accuracy) / (1 - self.accuracy)
        self._log_gamma = math.log(self._gamma)

    def add(self, value: float) -> None:
        """Count one value (negative values count as zero)."""
        self.count += 1
        if value <= 0:
            self.zeros += 1
        else:
            self.buckets[math.ceil(math.log(value) / self._log_gamma)] += 1

    def merge(self, other: QuantileSketch) -> None:
        """Add another sketch's counts (same accuracy)."""
        self.count += other.count
        self.zeros += other.zeros
        self.buckets.update(other.buckets)

    def quantile(self, q: float) -> float | None:
        """The ``q``-quantile (0..1) of the values counted, or None when there are none.

        The rank is the nearest-rank definition: the smallest value with at least ``q`` of the
        values at or below it.
        """
        if self.count == 0:
            return None
        rank = max(1, math.ceil(q * self.count))
        if rank <= self.zeros:
            return 0.0
        seen = self.zeros
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen >= rank:
                return 2 * self._gamma ** index / (self._gamma + 1)
        raise AssertionError("counts do not add up")  # pragma: no cover
