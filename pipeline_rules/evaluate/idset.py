"""A compact set of 64-bit hashes: how a stream of records remembers which deal ids it has seen.

A Python ``set`` of ints costs about 64 bytes an entry; this keeps at most ``BUFFER`` recent
hashes in a set and the rest in sorted runs of machine integers (``array('q')``), 8 bytes each,
merged so there are never more than a few dozen runs. Membership is a set lookup plus a binary
search per run. A million ids take about 8 MB instead of 64 MB.

Almost every id a run meets is new, so once there are runs to search, a bit filter (one bit per
hash slot, 8 MB, built at the first flush) answers "certainly not seen" before any search: an
add then costs a bit test and a set insertion instead of a binary search per run.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left

BUFFER = 1 << 16
#: Bits of the filter: 2**26 (8 MB); a million ids leave 1.5 % of new ids to a full search.
FILTER_BITS = 1 << 26


class HashSet:
    """Set of 64-bit signed integers optimised for memory; supports ``add`` and ``in``."""

    def __init__(self) -> None:
        self._recent: set[int] = set()
        self._runs: list[array[int]] = []
        self._bits: bytearray | None = None  # the filter, once there are runs

    def __len__(self) -> int:
        return len(self._recent) + sum(len(run) for run in self._runs)

    def __contains__(self, value: object) -> bool:
        if value in self._recent:
            return True
        if not self._runs or not isinstance(value, int):
            return False
        bits = self._bits
        if bits is not None:
            slot = value & (FILTER_BITS - 1)
            if not bits[slot >> 3] & (1 << (slot & 7)):
                return False
        for run in self._runs:
            i = bisect_left(run, value)
            if i < len(run) and run[i] == value:
                return True
        return False

    def add(self, value: int) -> bool:
        """Remember ``value`` (a 64-bit signed int such as ``hash(text)``); False if it was
        already there."""
        if value in self:
            return False
        self._recent.add(value)
        if self._bits is not None:
            _mark(self._bits, value)
        if len(self._recent) >= BUFFER:
            self._flush()
        return True

    def _flush(self) -> None:
        if self._bits is None:
            # Small inputs never get here and never pay for the filter.
            bits = self._bits = bytearray(FILTER_BITS // 8)
            for value in self._recent:
                _mark(bits, value)
        run = array("q", sorted(self._recent))
        self._recent = set()
        # Merge while the newest run is at least as long as the one before it (a binary
        # counter): each value is merged O(log n) times and there are O(log n) runs.
        while self._runs and len(self._runs[-1]) <= len(run):
            run = array("q", sorted(self._runs.pop() + run))
        self._runs.append(run)


def _mark(bits: bytearray, value: int) -> None:
    """Set ``value``'s bit in the filter (:meth:`HashSet.__contains__` tests it)."""
    slot = value & (FILTER_BITS - 1)
    bits[slot >> 3] |= 1 << (slot & 7)
