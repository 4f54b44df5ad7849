"""The runtime killed with SIGKILL in the middle of its work, then run again, with real
processes: nothing committed is lost, nothing is half-written, and a delivery repeated after a
crash carries the same payload under the same key."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import orjson
from helpers import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
from generate_deals import NOW, deals

B2B = str(ROOT / "rulesets" / "b2b_sales.yaml")
CLI = [sys.executable, "-m", "pipeline_rules"]


def write_deals(path: Path, count: int) -> None:
    with path.open("wb") as out:
        for deal in deals(count, seed=11, now=NOW):
            out.write(orjson.dumps(deal) + b"\n")


def count(store: Path, sql: str) -> int:
    if not store.exists():
        return 0
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5)
    try:
        return int(db.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:
        return 0  # not created yet
    finally:
        db.close()


def run_until(args: list[str], ready: object, deadline: float = 60) -> int | None:
    """Start the command, wait until ``ready()`` is true, then SIGKILL it; None when it
    finished by itself first (its exit code otherwise... as the return)."""
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    start = time.monotonic()
    while time.monotonic() - start < deadline:
        if process.poll() is not None:
            assert process.returncode == 0, process.stderr.read() if process.stderr else ""
            return process.returncode
        if ready():  # type: ignore[operator]
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            return None
        time.sleep(0.01)
    process.kill()
    raise AssertionError("the command neither finished nor got ready in time")


def snapshot(store: Path) -> tuple[set[tuple[str, str]], Counter[tuple[str, str | None, str]]]:
    db = sqlite3.connect(store)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        alerts = set(db.execute("SELECT key, status FROM alerts"))
        trail = Counter(db.execute("SELECT key, before, after FROM transitions"))
        return alerts, trail
    finally:
        db.close()


def test_ingest_killed_mid_way_then_run_again_loses_and_doubles_nothing(
        tmp_path: Path) -> None:
    source = tmp_path / "deals.jsonl"
    write_deals(source, 6000)
    killed, clean = tmp_path / "killed.db", tmp_path / "clean.db"
    ingest = [*CLI, "ingest", B2B, str(source), "--now", NOW.isoformat(), "--store"]
    partial = []
    for round_ in range(3):
        before = count(killed, "SELECT count(*) FROM deals")
        finished = run_until([*ingest, str(killed)], lambda b=before: count(
            killed, "SELECT count(*) FROM deals") > b)
        if finished is not None:
            break
        partial.append(count(killed, "SELECT count(*) FROM deals"))
        assert round_ < 2 or partial
    subprocess.run([*ingest, str(killed)], check=True, capture_output=True)
    subprocess.run([*ingest, str(clean)], check=True, capture_output=True)
    assert partial and min(partial) < 6000  # at least one kill came mid-way
    assert count(killed, "SELECT count(*) FROM deals") == 6000
    assert snapshot(killed) == snapshot(clean)


def test_delivery_killed_mid_way_delivers_everything_with_one_payload_per_key(
        tmp_path: Path) -> None:
    source = tmp_path / "deals.jsonl"
    write_deals(source, 1500)
    store, out = tmp_path / "s.db", tmp_path / "out.jsonl"
    subprocess.run([*CLI, "ingest", B2B, str(source), "--now", NOW.isoformat(), "--store",
                    str(store)], check=True, capture_output=True)
    queued = count(store, "SELECT count(*) FROM deliveries")
    assert queued > 100
    tick = [*CLI, "tick", "--store", str(store), "--now", "2026-11-21T10:00:00+03:00",
            "--sink", str(out)]
    kills = 0
    for _ in range(6):
        seen = len(out.read_bytes().splitlines()) if out.exists() else 0
        finished = run_until(tick, lambda s=seen: out.exists() and len(
            out.read_bytes().splitlines()) > s + 20)
        if finished is not None:
            break
        kills += 1
    else:
        subprocess.run(tick, check=True, capture_output=True)
    assert kills >= 1
    lines = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    payloads: dict[tuple[str, str], bytes] = {}
    for line in lines:
        frozen = orjson.dumps(line, option=orjson.OPT_SORT_KEYS)
        assert payloads.setdefault((line["key"], line["event"]), frozen) == frozen
    done = count(store, "SELECT count(*) FROM deliveries WHERE status = 'done'")
    assert count(store, "SELECT count(*) FROM deliveries WHERE status = 'pending'") == 0
    assert len(payloads) == done
    # Duplicates only for deliveries in flight at a kill: at most one per kill.
    assert len(lines) - len(payloads) <= kills
    assert count(store, "SELECT count(*) FROM alerts WHERE status = 'due'") == 0


def test_tick_killed_mid_way_then_run_again_ends_as_an_uninterrupted_tick(
        tmp_path: Path) -> None:
    source = tmp_path / "deals.jsonl"
    write_deals(source, 1500)
    killed, clean = tmp_path / "killed.db", tmp_path / "clean.db"
    subprocess.run([*CLI, "ingest", B2B, str(source), "--now", NOW.isoformat(), "--store",
                    str(killed)], check=True, capture_output=True)
    shutil.copy(killed, clean)
    later = (NOW + timedelta(days=20)).isoformat()
    tick = [*CLI, "tick", "--now", later, "--store"]
    start = count(killed, "SELECT count(*) FROM transitions")
    kills = []
    for _ in range(3):
        before = count(killed, "SELECT count(*) FROM transitions")
        finished = run_until([*tick, str(killed)], lambda b=before: count(
            killed, "SELECT count(*) FROM transitions") > b)
        if finished is not None:
            break
        kills.append(count(killed, "SELECT count(*) FROM transitions"))
    subprocess.run([*tick, str(killed)], check=True, capture_output=True)
    subprocess.run([*tick, str(clean)], check=True, capture_output=True)
    final = count(clean, "SELECT count(*) FROM transitions")
    assert kills and start < min(kills) < final  # at least one kill came mid-way
    assert snapshot(killed) == snapshot(clean)
