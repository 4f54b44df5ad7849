"""The compact key set answers membership exactly, across buffer flushes, run merges and its
bit filter (a tiny filter forces false positives, so its full search is exercised too), and a
digest collision never makes two deal ids one."""

from __future__ import annotations

import random

import pytest

from pipeline_rules.evaluate import idset
from pipeline_rules.evaluate.idset import DealIds, KeySet


def random_key(rng: random.Random) -> bytes:
    if rng.random() < 0.7:
        return rng.randbytes(rng.randrange(0, 12))
    if rng.random() < 0.02:
        return b"long " * 60 + str(rng.randrange(5)).encode()  # the 4-byte length form
    return str(rng.randrange(500)).encode()


@pytest.mark.parametrize("filter_bits", [1 << 26, 64])
@pytest.mark.parametrize("digest", [idset.crc_digest, lambda key: len(key) % 3],
                         ids=["crc32", "tiny"])
def test_membership_matches_a_python_set(monkeypatch: pytest.MonkeyPatch,
                                         filter_bits: int, digest: idset.Digest) -> None:
    monkeypatch.setattr(idset, "BUFFER", 64)  # small buffers exercise flushing and merging
    monkeypatch.setattr(idset, "FILTER_BITS", filter_bits)
    rng = random.Random(1)
    compact, reference = KeySet(digest), set()
    for _ in range(5000):
        value = random_key(rng)
        assert (value in compact) == (value in reference)
        assert compact.add(value) == (value not in reference)
        reference.add(value)
    assert len(compact) == len(reference)
    assert all(v in compact for v in reference)
    assert len(compact._runs) <= 20
    assert compact._bits is not None and len(compact._bits) == filter_bits // 8
    assert "text" not in compact


def test_small_sets_never_build_the_filter() -> None:
    small = KeySet()
    for value in range(1000):
        small.add(str(value).encode())
    assert small._bits is None and b"999" in small and b"1000" not in small


def test_a_forced_digest_collision_is_not_a_duplicate(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every key gets the same one-bit digest: only the keys themselves tell deals apart."""
    monkeypatch.setattr(idset, "BUFFER", 4)
    seen = DealIds(KeySet(lambda key: 1))
    assert seen.first("acme", "D-1") and seen.first("acme", "D-2")
    for number in range(3, 40):  # past several flushes and merges
        assert seen.first("acme", f"D-{number}")
    assert seen.first("b2b-sales", "D-1")  # another ruleset's deal 1
    assert not seen.first("acme", "D-1") and not seen.first("acme", "D-39")
    assert not seen.first("b2b-sales", "D-1")
    assert len(seen) == 40


def test_ruleset_and_deal_never_run_together() -> None:
    seen = DealIds()
    for ruleset in map(str, range(12)):
        seen.first(ruleset, "x")
    assert seen.first("1", "2:x") and seen.first("12", "x")
    assert not seen.first("11", "x")
