"""Raw JSON lines take the decoder (msgspec straight to deals); parsed records take the general
way. Both must give the same findings, byte for byte, bad records included."""

from __future__ import annotations

import random
import sys
from datetime import datetime
from typing import Any

import orjson
import pytest
from helpers import ROOT

from pipeline_rules.deals.readers.jsonl import Block
from pipeline_rules.evaluate.engine import judge_batch
from pipeline_rules.evaluate.judge import Judge, Runs
from pipeline_rules.ruleset.catalog import load_file

sys.path.insert(0, str(ROOT / "benchmarks"))
from generate_deals import deals as generated_deals

NOW = datetime.fromisoformat("2026-11-20T09:05:00+03:00")


def _mutate(record: dict[str, Any], rng: random.Random) -> bytes:
    """The record as one JSON line, sometimes broken or unusual the way CRM exports are."""
    history = record["history"]
    roll = rng.randrange(20)
    if roll == 0:
        return b"{not json"
    if roll == 1:
        record.pop("id")
    elif roll == 2:
        record["id"] = int(record["id"][2:])
    elif roll == 3:
        record["id"] = "D-0000001"  # seen before
    elif roll == 4:
        history[0]["at"] = history[0]["at"][:19]  # no offset: the ruleset's zone
    elif roll == 5 and len(history) > 1:
        history[0], history[1] = history[1], history[0]  # out of time order
    elif roll == 6:
        record["stage"] = "negotiation"  # not a stage of the ruleset
    elif roll == 7:
        history[-1]["at"] = history[-1]["at"][:16]  # to the minute, no offset
    elif roll == 8:
        record["pauses"] = [{"from": history[0]["at"], "to": None, "reason": "client asked"}]
    elif roll == 9:
        record["tasks"] = [{"due": None}, {"id": 5, "due": "2026-11-21", "done": False}]
    elif roll == 10:
        record["history"] = []
    elif roll == 11:
        history[0]["stage"] = ""
    elif roll == 12:
        record["events"] = [{"type": "meeting", "at": "2026-11-20T12:00:00+03:00"},
                            {"type": "meeting", "at": "2026-11-21 10:00"}]
    elif roll == 13:
        record["fields"] = [1]
    elif roll == 14:
        history[0]["at"] = "1899-12-31T23:00:00+00:00"
    elif roll == 15:
        history.append({"stage": record["stage"], "at": "2026-11-19T10:00:00+01:00",
                        "override": "the director agreed"})
    elif roll in (16, 17):  # read alike whether or not the deal is paused (they once were not)
        record["pauses"] = [{"from": history[0]["at"], "to": None, "reason": "client asked"}]
        if roll == 16:
            record["events"] = {}
        else:
            history[-1]["override"] = ""
    return orjson.dumps(record)


@pytest.mark.parametrize("name", ["b2b_sales", "inbound_only", "manufacturing"])
def test_the_decoder_and_the_general_path_agree(name: str) -> None:
    rng = random.Random(3)
    lines = [_mutate(r, rng) + b"\n" for r in generated_deals(1500, seed=5)]
    lines[100:100] = [b"\n", b"   \n"]
    judge = Judge.of(load_file(ROOT / "rulesets" / f"{name}.yaml"))
    runs = Runs(NOW)
    decoded = judge_batch(judge, runs, Block("deals.jsonl", 1, lines))
    general = judge_batch(judge, runs, [(f"deals.jsonl:{n}", line)
                                        for n, line in enumerate(lines, start=1)
                                        if line.strip()])
    assert decoded.deals == general.deals
    assert decoded.chunks == general.chunks
    assert sum(chunk.count(b'"bad-record"') for chunk in decoded.chunks) > 100
