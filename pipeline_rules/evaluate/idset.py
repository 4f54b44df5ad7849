"""A compact, exact set of byte strings: how a stream of records remembers the deals it has seen.

A Python ``set`` of a million short byte strings costs about 80 bytes an entry; this one keeps at
most ``BUFFER`` recent keys in a set and the rest written one after another in an arena (a
length byte, then the key), indexed by sorted runs of 64-bit entries (``array('Q')``): a 28-bit
digest of the key above the 36-bit offset of the key in the arena. Runs are merged so there are
never more than a few dozen. A million deal ids of ten characters take about 20 MB.

Membership is exact: an entry whose digest matches is confirmed against the key in the arena,
so two keys never count as one, whatever their digests. The digest only decides where to look;
it is CRC-32, stable across processes and runs, and cheap.

Almost every key a run meets is new, so once there are runs to search, a bit filter (one bit per
digest slot, 8 MB, built at the first flush) answers "certainly not seen" before any search: an
add then costs a digest, a bit test and a set insertion instead of a binary search per run.
"""

from __future__ import annotations

import zlib
from array import array
from bisect import bisect_left
from collections.abc import Callable

BUFFER = 1 << 16
#: Bits of the filter: 2**26 (8 MB); a million keys leave 1.5 % of new keys to a full search.
FILTER_BITS = 1 << 26
#: An index entry: the digest's top bits above the key's offset in the arena (64 GiB of keys).
OFFSET_BITS = 36
_OFFSETS = (1 << OFFSET_BITS) - 1
_DIGEST_SHIFT = 32 - (64 - OFFSET_BITS)
_DIGESTS = (1 << (64 - OFFSET_BITS)) - 1
#: Keys this long and longer have their length written in four bytes after a 255.
_LONG = 255

Digest = Callable[[bytes], int]


def crc_digest(key: bytes) -> int:
    """Where a key is looked for: its CRC-32 (an unsigned 32-bit value)."""
    return zlib.crc32(key)


class KeySet:
    """An exact set of byte strings, optimised for memory; supports ``add`` and ``in``.

    ``digest`` maps a key to an unsigned 32-bit value; any function will do for correctness
    (tests give one that makes every key collide), a well-spread one for speed.
    """

    def __init__(self, digest: Digest = crc_digest) -> None:
        self._digest = digest
        self._recent: set[bytes] = set()
        self._runs: list[array[int]] = []
        self._arena = bytearray()
        self._bits: bytearray | None = None  # the filter, once there are runs

    def __len__(self) -> int:
        return len(self._recent) + sum(len(run) for run in self._runs)

    def __contains__(self, key: object) -> bool:
        if key in self._recent:
            return True
        if not self._runs or not isinstance(key, bytes):
            return False
        value = self._digest(key)
        return self._maybe(value) and self._stored(key, value)

    def add(self, key: bytes) -> bool:
        """Remember ``key``; False if it was already there."""
        recent = self._recent
        if key in recent:
            return False
        if self._runs:
            value = self._digest(key)
            if self._maybe(value) and self._stored(key, value):
                return False
        recent.add(key)
        if len(recent) >= BUFFER:
            self._flush()
        return True

    def _maybe(self, value: int) -> bool:
        """Whether the filter lets a key of digest ``value`` be in the runs."""
        bits = self._bits
        slot = value & (FILTER_BITS - 1)
        return bits is None or bool(bits[slot >> 3] & (1 << (slot & 7)))

    def _stored(self, key: bytes, value: int) -> bool:
        """Whether ``key`` (of digest ``value``) is in the runs."""
        low = ((value >> _DIGEST_SHIFT) & _DIGESTS) << OFFSET_BITS
        high = low + (1 << OFFSET_BITS)
        for run in self._runs:
            i = bisect_left(run, low)
            while i < len(run) and run[i] < high:
                if self._key_at(run[i] & _OFFSETS) == key:
                    return True
                i += 1
        return False

    def _key_at(self, offset: int) -> bytearray:
        arena = self._arena
        length = arena[offset]
        start = offset + 1
        if length == _LONG:
            length = int.from_bytes(arena[start:start + 4], "little")
            start += 4
        return arena[start:start + length]

    def _flush(self) -> None:
        if self._bits is None:
            # Small inputs never get here and never pay for the filter.
            self._bits = bytearray(FILTER_BITS // 8)
        bits, arena, digest = self._bits, self._arena, self._digest
        entries = []
        for key in self._recent:
            value = digest(key)  # again: keeping each recent key's digest costs more memory
            slot = value & (FILTER_BITS - 1)
            bits[slot >> 3] |= 1 << (slot & 7)
            entries.append((((value >> _DIGEST_SHIFT) & _DIGESTS) << OFFSET_BITS) | len(arena))
            size = len(key)
            if size < _LONG:
                arena.append(size)
            else:
                arena.append(_LONG)
                arena.extend(size.to_bytes(4, "little"))
            arena.extend(key)
        if len(arena) > _OFFSETS:
            raise OverflowError("more than 64 GiB of deal ids in one run")
        self._recent = set()
        run = array("Q", sorted(entries))
        # Merge while the newest run is at least as long as the one before it (a binary
        # counter): each entry is merged O(log n) times and there are O(log n) runs.
        while self._runs and len(self._runs[-1]) <= len(run):
            run = array("Q", sorted(self._runs.pop() + run))
        self._runs.append(run)


class DealIds:
    """The (ruleset, deal id) pairs a stream of records has seen: the first record of a deal is
    judged, a later one with the same pair is a ``bad-record``. Two rulesets may both have deal
    17. About 20 bytes a deal (see :class:`KeySet`)."""

    def __init__(self, keys: KeySet | None = None) -> None:
        self._keys = keys if keys is not None else KeySet()
        self._prefixes: dict[str, bytes] = {}

    def first(self, ruleset: str, deal: str) -> bool:
        """Whether this is the first time ``deal`` comes under ``ruleset`` (and remember it)."""
        prefix = self._prefixes.get(ruleset)
        if prefix is None:
            # The ruleset's number and a colon: no two (ruleset, deal) pairs give one key.
            prefix = self._prefixes[ruleset] = f"{len(self._prefixes)}:".encode()
        return self._keys.add(prefix + deal.encode("utf-8", "surrogatepass"))

    def __len__(self) -> int:
        return len(self._keys)
