"""The compact hash set answers membership exactly, across buffer flushes, run merges and its
bit filter (a tiny filter forces false positives, so its full search is exercised too)."""

from __future__ import annotations

import random

import pytest

from pipeline_rules.evaluate import idset
from pipeline_rules.evaluate.idset import HashSet


@pytest.mark.parametrize("filter_bits", [1 << 26, 64])
def test_membership_matches_a_python_set(monkeypatch: pytest.MonkeyPatch,
                                         filter_bits: int) -> None:
    monkeypatch.setattr(idset, "BUFFER", 64)  # small buffers exercise flushing and merging
    monkeypatch.setattr(idset, "FILTER_BITS", filter_bits)
    rng = random.Random(1)
    compact, reference = HashSet(), set()
    for _ in range(5000):
        value = rng.randrange(-2**63, 2**63) if rng.random() < 0.7 else rng.randrange(500)
        assert (value in compact) == (value in reference)
        assert compact.add(value) == (value not in reference)
        reference.add(value)
    assert len(compact) == len(reference)
    assert all(v in compact for v in reference)
    assert len(compact._runs) <= 20
    assert compact._bits is not None and len(compact._bits) == filter_bits // 8
    assert "text" not in compact


def test_small_sets_never_build_the_filter() -> None:
    small = HashSet()
    for value in range(1000):
        small.add(value)
    assert small._bits is None and 999 in small and 1000 not in small
