"""The runtime on a real PostgreSQL: a throwaway cluster made with initdb and pg_ctl in a
temporary directory (skipped, saying why, where the binaries or psycopg are absent)."""

from __future__ import annotations

import glob
import os
import pwd
import random
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from helpers import ROOT, meeting_deal

from pipeline_rules.deals.model import Record
from pipeline_rules.evaluate.judge import Judge
from pipeline_rules.ruleset.catalog import load_catalog
from pipeline_rules.runtime.postgres import PostgresStore
from pipeline_rules.runtime.service import Runtime
from pipeline_rules.runtime.sql import SqlStore
from pipeline_rules.runtime.sqlite import SqliteStore
from pipeline_rules.runtime.store import (
    Alert,
    Changes,
    Store,
    StoredDeal,
    StoreError,
    open_store,
    to_us,
)

sys.path.insert(0, str(ROOT / "benchmarks"))
from generate_deals import deals as generated_deals

NOW = datetime.fromisoformat("2026-11-20T09:05:00+03:00")


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _as_postgres_user() -> tuple[Callable[[], None] | None, int | None]:
    """PostgreSQL refuses to run as root: there, its processes run as ``nobody``."""
    if os.geteuid() != 0:
        return None, None
    nobody = pwd.getpwnam("nobody")

    def drop() -> None:
        os.setgid(nobody.pw_gid)
        os.setuid(nobody.pw_uid)

    return drop, nobody.pw_uid


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL's initdb and pg_ctl are not installed (Debian: postgresql)")
    pytest.importorskip("psycopg", reason="psycopg 3 is not installed (the postgresql extra)")
    # Not under pytest's own temporary folder: the server's user must be able to reach it.
    base = Path(tempfile.mkdtemp(prefix="pipeline-rules-pg-"))
    try:
        yield from _cluster(base, initdb, pg_ctl)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _cluster(base: Path, initdb: str, pg_ctl: str) -> Iterator[str]:
    data, sockets = base / "data", base / "run"
    sockets.mkdir()
    drop, uid = _as_postgres_user()
    if uid is not None:
        for path in (base, sockets):
            os.chown(path, uid, -1)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    subprocess.run([initdb, "-D", str(data), "-U", "runtime", "--auth=trust", "-E", "UTF8",
                    "--no-sync"], check=True, capture_output=True, preexec_fn=drop, cwd=base)
    options = f"-p {port} -k {sockets} -c listen_addresses='' -c fsync=off"
    subprocess.run([pg_ctl, "-D", str(data), "-o", options, "-l", str(base / "log"), "-w",
                    "start"], check=True, capture_output=True, preexec_fn=drop, cwd=base)
    try:
        yield f"postgresql://runtime@/postgres?host={sockets}&port={port}"
    finally:
        subprocess.run([pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
                       check=False, capture_output=True, preexec_fn=drop, cwd=base)


def fresh(url: str, name: str) -> str:
    """A new empty database on the cluster, by URL."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{name}"')
        db.execute(f'CREATE DATABASE "{name}"')
    return url.replace("/postgres?", f"/{name}?")


def state(store: Store, ids: list[str]) -> tuple[Any, ...]:
    alerts = sorted((a.key, a.status, a.due, a.payload) for a in store.alerts(limit=100_000))
    trail = [(t.key, t.before, t.after, t.at, t.note) for deal in ids
             for t in store.transitions("b2b-sales", deal)]
    deals = sorted((d.deal, d.findings, d.wake) for d in store.waking(2**62, 100_000))
    return alerts, trail, deals, store.count_deals()


def test_postgresql_and_sqlite_stores_end_in_the_same_state(postgres: str,
                                                            tmp_path: Path) -> None:
    sample = list(generated_deals(200, seed=3, now=NOW))
    ids = [str(d["id"]) for d in sample]
    judge = Judge.of(load_catalog(ROOT / "rulesets" / "b2b_sales.yaml"))
    results = []
    for store in (SqliteStore(str(tmp_path / "s.db")), open_store(fresh(postgres, "same"))):
        runtime = Runtime(judge, store)
        runtime.ingest([Record(f"d{n}", d) for n, d in enumerate(sample)], NOW)
        runtime.tick(NOW + timedelta(days=9))
        results.append(state(store, ids))
        store.close()
    assert results[0] == results[1]
    assert len(results[0][1]) > 200


def test_a_postgresql_store_from_a_newer_version_is_refused(postgres: str) -> None:
    import psycopg

    url = fresh(postgres, "newer")
    open_store(url).close()
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("INSERT INTO schema_version VALUES (99)")
    with pytest.raises(StoreError, match="newer"):
        open_store(url)


def test_an_unreachable_postgresql_is_a_clear_error(tmp_path: Path) -> None:
    pytest.importorskip("psycopg", reason="psycopg 3 is not installed (the postgresql extra)")
    with pytest.raises(StoreError, match="cannot open the PostgreSQL store"):
        open_store(f"postgresql://nobody@/postgres?host={tmp_path}&port=1")


def test_two_processes_share_one_postgresql_store_without_doing_anything_twice(
        postgres: str, tmp_path: Path) -> None:
    """Two ``tick`` processes at once on one database lease disjoint deals and deliveries:
    every delivery is made once, by one of them, and the store ends as one process leaves
    it."""
    import orjson

    source = tmp_path / "deals.jsonl"
    source.write_bytes(b"".join(orjson.dumps(d) + b"\n"
                                for d in generated_deals(800, seed=9, now=NOW)))
    cli = [sys.executable, "-m", "pipeline_rules"]
    b2b = str(ROOT / "rulesets" / "b2b_sales.yaml")
    later = (NOW + timedelta(days=12)).isoformat()
    shared, alone = fresh(postgres, "shared"), fresh(postgres, "alone")
    for url in (shared, alone):
        subprocess.run([*cli, "ingest", b2b, str(source), "--now", NOW.isoformat(),
                        "--store", url], check=True, capture_output=True)
    sinks = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    both = [subprocess.Popen([*cli, "tick", b2b, "--store", shared, "--now", later,
                              "--sink", str(sink)], stderr=subprocess.PIPE) for sink in sinks]
    for process in both:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
    subprocess.run([*cli, "tick", b2b, "--store", alone, "--now", later, "--sink",
                    str(tmp_path / "alone.jsonl")], check=True, capture_output=True)
    sent = [orjson.loads(line) for sink in sinks if sink.exists()
            for line in sink.read_bytes().splitlines()]
    keys = [(s["key"], s["event"]) for s in sent]
    assert len(keys) == len(set(keys)) > 100
    alone_sent = {(s["key"], s["event"]) for s in (
        orjson.loads(line) for line in (tmp_path / "alone.jsonl").read_bytes().splitlines())}
    assert set(keys) == alone_sent
    ids = [str(d["id"]) for d in generated_deals(800, seed=9, now=NOW)]
    stores = [open_store(shared), open_store(alone)]
    try:
        # Delivery times differ between runs; the rest of the state must not.
        views = [(sorted(((a.key, a.status, a.due, a.payload) for a in s.alerts(limit=10**6)),
                         key=repr),
                  sorted(((t.key, t.before, t.after, t.note) for d in ids
                          for t in s.transitions("b2b-sales", d) if t.after != "delivered"),
                         key=repr),
                  sorted((d.deal, d.findings, d.wake) for d in s.waking(2**62, 10**6)))
                 for s in stores]
        assert views[0] == views[1]
    finally:
        for store in stores:
            store.close()


def test_two_serve_processes_share_a_postgresql_store_and_one_killed_loses_nothing(
        postgres: str, tmp_path: Path) -> None:
    """Two real ``serve --store postgresql://…`` processes catch a store up to the clock and
    deliver what falls due to one webhook receiver (a slow one: 20 ms a request); one is killed
    with SIGKILL once it has delivered something. The other finishes the work: every delivery
    of the store is made, none under two payloads, and only one made twice at most (the one in
    flight at the kill)."""
    import http.server
    import signal
    import threading
    import time

    import orjson
    from test_server import start_server, stop_server

    from pipeline_rules.runtime.store import to_us

    received: list[tuple[str, str, bytes]] = []  # (path: which server, idempotency key, body)

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(0.02)
            received.append((self.path, self.headers["Idempotency-Key"], body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    source = tmp_path / "deals.jsonl"
    source.write_bytes(b"".join(orjson.dumps(d) + b"\n"
                                for d in generated_deals(400, seed=11, now=NOW)))
    url = fresh(postgres, "serve_two")
    subprocess.run([sys.executable, "-m", "pipeline_rules", "ingest",
                    str(ROOT / "rulesets" / "b2b_sales.yaml"), str(source), "--now",
                    NOW.isoformat(), "--store", url], check=True, capture_output=True)
    servers = []
    for name in "ab":
        (tmp_path / name).mkdir()
        servers.append(start_server(tmp_path / name, "--store", url, "--sink",
                                    f"{hook}/{name}", "--tick", "0.2"))
    store = open_store(url)
    try:
        deadline = time.monotonic() + 180
        # Both at work, then one killed.
        while len({path for path, _, _ in received}) < 2:
            assert time.monotonic() < deadline, "the two servers did not both deliver"
            time.sleep(0.01)
        servers[0].process.send_signal(signal.SIGKILL)
        servers[0].process.wait(timeout=30)
        # The survivor catches up: nothing left to wake before the kill, nothing to deliver.
        killed = to_us(datetime.now(NOW.tzinfo))

        def left() -> int:
            # Counted without the leases (which skip the rows the survivor holds): a delivery
            # or a deal in the survivor's hands is still to do until it commits.
            return int(store._rows(  # type: ignore[attr-defined]
                "SELECT (SELECT count(*) FROM deliveries WHERE status = 'pending') + "
                "(SELECT count(*) FROM deals WHERE wake <= ?)", (killed,))[0][0])

        while left():
            assert time.monotonic() < deadline, "the surviving server did not finish"
            time.sleep(0.2)
        rows = store._rows(  # type: ignore[attr-defined]
            "SELECT key, event, payload FROM deliveries WHERE status = 'done'")
        done = {f"{key}:{event}": payload for key, event, payload in rows}
    finally:
        store.close()
        stop_server(servers[1])
        if servers[0].process.poll() is None:
            servers[0].process.kill()
        receiver.shutdown()
    keys = [key for _, key, _ in received]
    assert len(done) > 50
    assert set(keys) == set(done)  # every delivery made, and nothing the store does not know
    assert len(keys) - len(set(keys)) <= 1  # a repeat only for the one in flight at the kill
    for _, key, body in received:
        assert orjson.loads(body) == orjson.loads(done[key])  # one payload per key


# ---------------------------------------------------------------- a unit's writes at once
# PostgreSQL writes each table's rows of a unit with one statement; SQLite, row by row, is the
# reference: the same unit must leave both stores with the same rows.

TABLES = {"deals": "ruleset, deal", "alerts": "key", "transitions": "seq",
          "deliveries": "seq", "rejected": "seq"}


def tables(store: SqlStore) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table the runtime writes."""
    return {name: [tuple(row) for row in store._rows(f"SELECT * FROM {name} ORDER BY {order}")]
            for name, order in TABLES.items()}


def both(postgres: str, tmp_path: Path, name: str) -> list[SqlStore]:
    return [SqliteStore(str(tmp_path / f"{name}.db")), PostgresStore(fresh(postgres, name))]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_a_deal_sent_twice_in_one_batch_is_stored_as_the_later_record(
        postgres: str, tmp_path: Path) -> None:
    judge = Judge.of(load_catalog(ROOT / "rulesets" / "b2b_sales.yaml"))
    first, later = meeting_deal("2026-11-23T11:00:00+03:00"), meeting_deal(
        "2026-11-23T11:30:00+03:00")
    other = meeting_deal("2026-11-23T12:00:00+03:00", "M-2")
    ends = []
    for store in both(postgres, tmp_path, "twice"):
        runtime = Runtime(judge, store)
        counts = runtime.ingest([Record("a", first), Record("b", other), Record("c", later)],
                                at("2026-11-23T09:10:00+03:00"))
        assert (counts.stored, counts.rejected) == (3, 0)
        stored = store.get_deal("b2b-sales", "M-1")
        assert stored is not None and stored.origin == "c"
        assert orjson.loads(stored.record)["events"] == later["events"]
        ends.append(tables(store))
        store.close()
    assert ends[0] == ends[1]
    assert len(ends[0]["deals"]) == 2
    # The first record's reminder was queued, then cancelled when the later one moved it.
    assert [(row[2], row[4]) for row in ends[0]["deliveries"]].count(
        ("delivered", "cancelled")) >= 1


def test_an_alert_opened_and_made_due_in_one_tick_is_one_row_with_its_whole_trail(
        postgres: str, tmp_path: Path) -> None:
    """Friday evening the reminder of Monday's meeting opens; a tick from Friday to Monday
    07:30 judges the deal at both wakes in one unit: the alert is written twice."""
    judge = Judge.of(load_catalog(ROOT / "rulesets" / "b2b_sales.yaml"))
    ends = []
    for store in both(postgres, tmp_path, "opened_due"):
        runtime = Runtime(judge, store)
        runtime.ingest([Record("crm", meeting_deal("2026-11-23T09:30:00+03:00"))],
                       at("2026-11-20T19:00:00+03:00"))
        runtime.tick(at("2026-11-23T07:30:00+03:00"))
        reminder = [a for a in store.alerts_of("b2b-sales", "M-1") if a.code == "remind"]
        assert [a.status for a in reminder] == ["due"]
        trail = [(t.before, t.after) for t in store.transitions("b2b-sales", "M-1")
                 if t.key == reminder[0].key]
        assert trail == [(None, "open"), ("open", "due")]
        assert [d.key for d in store.pending(10)] == [reminder[0].key]
        ends.append(tables(store))
        store.close()
    assert ends[0] == ends[1]


def test_a_cancel_and_a_queue_in_one_unit_leave_what_row_by_row_leaves(
        postgres: str, tmp_path: Path) -> None:
    """A reminder stored as due (its delivery pending) is cancelled when the meeting moves;
    in the same batch the deal is sent twice more: the first new reminder is queued and
    cancelled within the unit, the last stays queued."""
    judge = Judge.of(load_catalog(ROOT / "rulesets" / "b2b_sales.yaml"))
    ends = []
    for store in both(postgres, tmp_path, "cancel_queue"):
        runtime = Runtime(judge, store)
        runtime.ingest([Record("crm", meeting_deal("2026-11-23T11:00:00+03:00"))],
                       at("2026-11-23T09:10:00+03:00"))
        (queued,) = store.pending(10)
        runtime.ingest([Record("crm", meeting_deal(meeting)) for meeting in (
            "2026-11-23T10:30:00+03:00", "2026-11-23T10:45:00+03:00")],
            at("2026-11-23T09:11:00+03:00"))
        rows = store._rows("SELECT key, status, finished FROM deliveries ORDER BY seq")
        assert rows[0] == (queued.key, "cancelled", to_us(at("2026-11-23T09:11:00+03:00")))
        assert [row[1] for row in rows] == ["cancelled", "cancelled", "pending"]
        ends.append(tables(store))
        store.close()
    assert ends[0] == ends[1]


def test_rows_of_one_unit_are_numbered_in_the_order_written(postgres: str,
                                                            tmp_path: Path) -> None:
    """The audit trail and the outbox are read by ``seq``: a unit's transitions, deliveries
    and rejected records are numbered in the order they were added (shuffled here, so no
    column's own order could stand in for it); keys written twice keep what the statements
    row by row leave: the first row's fixed columns and the last row's others."""
    rng = random.Random(5)
    keys = [f"k{n:04}" for n in range(600)]
    rng.shuffle(keys)
    ends = []
    for store in both(postgres, tmp_path, "numbered"):
        first = Changes()
        first.deals += [StoredDeal("r", "d1", "{}", "[]", 1, None, "a"),
                        StoredDeal("r", "d1", '{"v": 2}', "[1]", 2, 7, "b")]
        first.alerts += [Alert("k0000", "r", "d1", "action", "remind", None, "open", 5, "p1",
                               1, 1),
                         Alert("k0000", "r", "d1", "other", "x", "y", "due", 6, "p2", 2, 2)]
        for n, key in enumerate(keys):
            first.transitions.append((key, "r", "d1", None, "open", n, f"note {n}"))
            first.queue(key, "delivered", f"payload {n}", n)
            first.rejected.append((f"origin {key}", None, key, "bad", "/x", "{}", n))
        with store.transaction():
            store.apply(first)
        second = Changes()
        second.cancel(keys[0], 100)
        second.cancel(keys[0], 200)  # nothing left pending: the first cancel's instant stays
        second.queue(keys[0], "retracted", "again", 300)
        second.cancel(keys[1], 400)
        with store.transaction():
            store.apply(second)
        assert [t.key for t in store.transitions("r", "d1")] == keys
        assert [r.deal for r in store.rejected(limit=1000)] == keys
        assert [key for (key,) in store._rows(
            "SELECT key FROM deliveries WHERE status = 'pending' ORDER BY seq")] == [
                *keys[2:], keys[0]]
        ends.append(tables(store))
        store.close()
    assert ends[0] == ends[1]
    deliveries = ends[0]["deliveries"]
    assert [row[1] for row in deliveries[:600]] == keys
    assert [(row[1], row[2], row[4], row[6]) for row in deliveries
            if row[1] == keys[0]] == [(keys[0], "delivered", "cancelled", 100),
                                      (keys[0], "retracted", "pending", None)]
    assert ends[0]["deals"] == [("r", "d1", '{"v": 2}', "[1]", 2, 7, "b", "")]
    assert ends[0]["alerts"] == [("k0000", "r", "d1", "action", "remind", None, "due", 6, "p2",
                                  2, 2)]


def test_a_unit_whose_write_fails_leaves_nothing_and_the_store_goes_on(postgres: str) -> None:
    """The unit's statements go to the server together: one that fails (a transition without
    its status) is a clear error, the deal written before it in the unit is rolled back, and
    the next unit is written."""
    store = PostgresStore(fresh(postgres, "failed_unit"))
    broken = Changes()
    broken.deals.append(StoredDeal("r", "d1", "{}", "[]", 1, None, ""))
    broken.transitions.append(("k", "r", "d1", None, None, 1, ""))  # type: ignore[arg-type]
    with pytest.raises(StoreError, match='null value in column "after"'), store.transaction():
        store.apply(broken)
    assert store.count_deals() == 0
    fine = Changes()
    fine.deals.append(StoredDeal("r", "d1", "{}", "[]", 1, None, ""))
    with store.transaction():
        store.apply(fine)
    assert store.count_deals() == 1
    store.close()


def test_the_judgements_of_a_batch_read_the_same_on_both_stores(postgres: str,
                                                               tmp_path: Path) -> None:
    """A CRM sending every deal again: the stored judgements of a batch are read (with one
    lookup per deal on PostgreSQL), and the deals unchanged are left as they are on both."""
    sample = list(generated_deals(300, seed=4, now=NOW))
    judge = Judge.of(load_catalog(ROOT / "rulesets" / "b2b_sales.yaml"))
    asked = [("b2b-sales", str(d["id"])) for d in sample] + [("b2b-sales", "absent"),
                                                             ("retail", str(sample[0]["id"]))]
    results = []
    for store in both(postgres, tmp_path, "judgements"):
        runtime = Runtime(judge, store)
        runtime.ingest([Record(f"d{n}", d) for n, d in enumerate(sample)], NOW)
        again = runtime.ingest([Record(f"d{n}", d) for n, d in enumerate(sample)],
                               NOW + timedelta(minutes=1))
        read = store.judgements(asked)
        results.append((again.unchanged, again.stored, read))
        store.close()
    assert results[0] == results[1]
    unchanged, stored, read = results[0]
    assert unchanged > 200 and unchanged + stored == 300
    assert len(read) == 300 and ("b2b-sales", "absent") not in read
