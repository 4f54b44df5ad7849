"""The runtime on a real PostgreSQL: a throwaway cluster made with initdb and pg_ctl in a
temporary directory (skipped, saying why, where the binaries or psycopg are absent)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers import ROOT

from pipeline_rules.deals.model import Record
from pipeline_rules.evaluate.judge import Judge
from pipeline_rules.ruleset.catalog import load_catalog
from pipeline_rules.runtime.service import Runtime
from pipeline_rules.runtime.sqlite import SqliteStore
from pipeline_rules.runtime.store import Store, StoreError, open_store

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
