"""The compact hash set answers membership exactly, across buffer flushes and run merges."""

from __future__ import annotations

import random

from pipeline_rules import idset
from pipeline_rules.idset import HashSet


def test_membership_matches_a_python_set(monkeypatch: object) -> None:
    idset.BUFFER = 64  # small buffers exercise flushing and merging
    try:
        rng = random.Random(1)
        compact, reference = HashSet(), set()
        for _ in range(5000):
            value = rng.randrange(-2**63, 2**63) if rng.random() < 0.7 else rng.randrange(500)
            assert (value in compact) == (value in reference)
            compact.add(value)
            reference.add(value)
        assert len(compact) == len(reference)
        assert all(v in compact for v in reference)
        assert len(compact._runs) <= 20
        assert "text" not in compact
    finally:
        idset.BUFFER = 1 << 16
