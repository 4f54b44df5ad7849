"""The runtime: a store of deals, woken by their next change instant, with alerts followed from
raised to delivered, resolved and retracted (docs/runtime.md)."""

from __future__ import annotations

import json
import sqlite3
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from helpers import ROOT, meeting_deal

from pipeline_rules.cli import main
from pipeline_rules.deals.model import Record
from pipeline_rules.evaluate.judge import Judge
from pipeline_rules.ruleset.catalog import load_catalog
from pipeline_rules.runtime.service import Runtime
from pipeline_rules.runtime.sinks import JsonlSink
from pipeline_rules.runtime.sqlite import SCHEMA_VERSION, SqliteStore
from pipeline_rules.runtime.store import StoreError, from_us, to_us

sys.path.insert(0, str(ROOT / "benchmarks"))
from generate_deals import deals as generated_deals

B2B = ROOT / "rulesets" / "b2b_sales.yaml"
NOW = datetime.fromisoformat("2026-11-20T09:05:00+03:00")
SAMPLE = [json.loads(line) for line in
          (ROOT / "examples" / "deals.jsonl").read_text(encoding="utf-8").splitlines()]


def runtime(tmp_path: Path, name: str = "store.db") -> Runtime:
    judge = Judge.of(load_catalog(B2B))
    return Runtime(judge, SqliteStore(str(tmp_path / name)))


def records(items: list[dict[str, Any]]) -> list[Record]:
    return [Record(f"test:{n}", item) for n, item in enumerate(items, 1)]


def statuses(rt: Runtime, deal: str) -> dict[str, str]:
    return {f"{a.code}:{a.rule}": a.status for a in rt.store.alerts_of("b2b-sales", deal)}


def test_ingest_stores_deals_and_rejects_bad_records_with_their_reason(
        tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    bad = {"id": "B-1", "stage": "nowhere"}
    counts = rt.ingest(records([*SAMPLE, bad, {"stage": "meeting"}]), NOW)
    assert (counts.stored, counts.rejected) == (len(SAMPLE), 2)
    assert rt.store.count_deals() == len(SAMPLE)
    refused = rt.store.rejected()
    assert [(r.origin, r.deal, r.path) for r in refused] == [
        (f"test:{len(SAMPLE) + 1}", "B-1", "/stage"), (f"test:{len(SAMPLE) + 2}", None, "/id")]
    assert "nowhere" in refused[0].reason
    stored = rt.store.get_deal("b2b-sales", "A-101")
    assert stored is not None
    codes = [f["code"] for f in orjson.loads(stored.findings)]
    assert codes == ["escalate", "sla-breach", "cycle-breach", "escalate"]
    assert statuses(rt, "A-101") == {"sla-breach:invoice-payment": "open",
                                     "cycle-breach:whole-cycle": "open",
                                     "escalate:invoice-payment": "due",
                                     "escalate:whole-cycle": "due"}


def test_the_wake_index_is_what_a_tick_reads(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    rt.ingest(records(SAMPLE), NOW)
    db = sqlite3.connect(tmp_path / "store.db")
    plan = " ".join(str(row) for row in db.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM deals INDEXED BY deals_wake "
        "WHERE wake IS NOT NULL AND wake <= 1 ORDER BY wake LIMIT 5"))
    assert "USING INDEX deals_wake" in plan and "SCAN deals" not in plan.replace(
        "SCAN deals USING INDEX", "")
    # A-105 is won: its findings never change by time alone, so it never wakes.
    assert rt.store.get_deal("b2b-sales", "A-105").wake is None  # type: ignore[union-attr]
    # A tick to a moment before every wake judges nothing again.
    first = min(d.wake for d in rt.store.waking(to_us(NOW + timedelta(days=400)), 100)
                if d.wake is not None)
    assert rt.tick(from_us(first - 1)).woken == 0
    assert rt.tick(from_us(first)).woken >= 1


def test_a_reminder_is_delivered_at_its_due_instant_not_when_first_emitted(
        tmp_path: Path) -> None:
    """Monday 23 Nov 09:30 meeting: the reminder is due at 07:30, before the first scheduled
    run of Monday (08:00), so the last run on Friday (19:45) emits it — open, not due."""
    rt = runtime(tmp_path)
    sink = tmp_path / "out.jsonl"
    friday = datetime.fromisoformat("2026-11-20T19:00:00+03:00")
    rt.ingest(records([meeting_deal("2026-11-23T09:30:00+03:00")]), friday)
    assert "remind:meeting-reminder" not in statuses(rt, "M-1")
    rt.tick(datetime.fromisoformat("2026-11-20T19:50:00+03:00"))
    assert statuses(rt, "M-1")["remind:meeting-reminder"] == "open"
    rt.deliver(JsonlSink(str(sink)))
    assert not sink.exists()  # nothing due on Friday evening
    rt.tick(datetime.fromisoformat("2026-11-23T07:30:00+03:00"))
    assert statuses(rt, "M-1")["remind:meeting-reminder"] == "due"
    rt.deliver(JsonlSink(str(sink)))
    sent = [orjson.loads(line) for line in sink.read_text().splitlines()]
    assert [(s["event"], s["alert"]["code"], s["alert"]["due"]) for s in sent] == [
        ("delivered", "remind", "2026-11-23T07:30:00+03:00")]
    assert statuses(rt, "M-1")["remind:meeting-reminder"] == "delivered"
    # The meeting begins: the reminder is over, not wrong — no retraction.
    rt.tick(datetime.fromisoformat("2026-11-23T10:00:00+03:00"))
    rt.deliver(JsonlSink(str(sink)))
    assert statuses(rt, "M-1")["remind:meeting-reminder"] == "resolved"
    assert len(sink.read_text().splitlines()) == 1


def test_a_moved_meeting_retracts_the_delivered_reminder_under_its_key(
        tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    sink = JsonlSink(str(tmp_path / "out.jsonl"))
    monday = datetime.fromisoformat("2026-11-23T08:00:00+03:00")
    rt.ingest(records([meeting_deal("2026-11-23T11:00:00+03:00")]), monday)
    rt.tick(datetime.fromisoformat("2026-11-23T09:00:00+03:00"))
    rt.deliver(sink)
    rt.upsert(Record("crm", meeting_deal("2026-11-24T15:00:00+03:00")),
              datetime.fromisoformat("2026-11-23T09:30:00+03:00"))
    rt.deliver(sink)
    sent = [orjson.loads(line) for line in Path(sink.path).read_text().splitlines()]
    assert [s["event"] for s in sent] == ["delivered", "retracted"]
    assert sent[0]["key"] == sent[1]["key"] == sent[0]["alert"]["key"]
    old = rt.store.get_alert(sent[0]["key"])
    assert old is not None and old.status == "retracted"
    trail = [(t.before, t.after, t.note) for t in rt.store.transitions("b2b-sales", "M-1")
             if t.key == old.key]
    assert trail == [(None, "open", "raised"), ("open", "due", "due"),
                     ("due", "delivered", "delivered"), ("delivered", "resolved", "cause gone"),
                     ("resolved", "retracted", "retracted")]


def test_a_queued_delivery_is_cancelled_when_its_cause_goes_first(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    sink = tmp_path / "out.jsonl"
    rt.ingest(records([meeting_deal("2026-11-23T11:00:00+03:00")]),
              datetime.fromisoformat("2026-11-23T09:10:00+03:00"))
    assert statuses(rt, "M-1")["remind:meeting-reminder"] == "due"
    moved = meeting_deal("2026-11-30T11:00:00+03:00")
    rt.upsert(Record("crm", moved), datetime.fromisoformat("2026-11-23T09:11:00+03:00"))
    rt.deliver(JsonlSink(str(sink)))
    assert not sink.exists()
    assert statuses(rt, "M-1")["remind:meeting-reminder"] == "resolved"


def test_one_long_tick_leaves_the_store_as_many_short_ones(tmp_path: Path) -> None:
    """Deals are judged at their wakes, not at the tick's instant: the timeline does not
    depend on how often the clock is advanced."""
    sample = list(generated_deals(150, seed=7, now=NOW))
    stores = []
    for name, step in (("long.db", timedelta(days=20)), ("short.db", timedelta(hours=7))):
        rt = runtime(tmp_path, name)
        rt.ingest(records(sample), NOW)
        moment = NOW
        while moment < NOW + timedelta(days=20):
            moment = min(moment + step, NOW + timedelta(days=20))
            rt.tick(moment)
        stores.append(({(a.key, a.status) for a in rt.store.alerts(limit=100_000)},
                       [(t.key, t.before, t.after, t.at) for d in sample
                        for t in rt.store.transitions("b2b-sales", str(d["id"]))]))
    assert stores[0] == stores[1]
    assert len(stores[0][1]) > 150  # the timelines are not empty


def test_a_record_sent_again_unchanged_before_its_wake_is_left_as_it_is(
        tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    sample = list(generated_deals(300, seed=11, now=NOW))
    assert rt.ingest(records(sample), NOW).stored == 300
    ids = [str(d["id"]) for d in sample]
    stored = {deal: rt.store.get_deal("b2b-sales", deal) for deal in ids}
    trail = {deal: rt.store.transitions("b2b-sales", deal) for deal in ids}
    wakes = sorted(d.wake for d in stored.values() if d is not None and d.wake is not None)
    # Halfway through the wakes: the deals whose wake has come are judged again, the others
    # (and those no time alone changes) are left as they are.
    later = from_us(wakes[len(wakes) // 2])
    due = {deal for deal, d in stored.items()
           if d is not None and d.wake is not None and d.wake <= to_us(later)}
    assert 0 < len(due) < 300
    counts = rt.ingest(records(sample), later)
    assert (counts.unchanged, counts.stored) == (300 - len(due), len(due))
    for deal in ids:
        after = rt.store.get_deal("b2b-sales", deal)
        assert after is not None
        if deal in due:
            assert after.evaluated == to_us(later)
        else:  # not written at all: as judged at NOW, its alerts' trail as it was
            assert after == stored[deal]
            assert rt.store.transitions("b2b-sales", deal) == trail[deal]
    # Nothing whose time had come was left: a tick to ``later`` finds no deal to wake.
    assert rt.tick(later).woken == 0


def test_an_ingest_of_new_deals_reads_the_store_for_unchanged_ones_only_now_and_then(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rt = runtime(tmp_path)
    reads: list[int] = []
    judgements = rt.store.judgements

    def counted(deals: Any) -> Any:
        if deals:
            reads.append(len(deals))
        return judgements(deals)

    monkeypatch.setattr(rt.store, "judgements", counted)
    sample = list(generated_deals(200, seed=5, now=NOW))
    assert rt.ingest(records(sample), NOW, batch=10).stored == 200
    # New deals: read in the first batch, then once every 8 batches (the 9th, the 17th).
    assert reads == [10, 10, 10]
    reads.clear()
    # Sent again as they are: every batch finds them unchanged, and every batch reads.
    later = NOW + timedelta(seconds=1)
    again = rt.ingest(records(sample), later, batch=10)
    assert len(reads) == 20 and again.unchanged + again.stored == 200
    assert again.unchanged > 150


def test_a_changed_record_another_judge_or_a_repeat_in_one_batch_is_judged_again(
        tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    deal = meeting_deal("2026-11-27T15:00:00+03:00")
    rt.ingest(records([deal]), NOW)
    assert rt.ingest(records([deal]), NOW + timedelta(minutes=1)).unchanged == 1
    moved = {**deal, "tasks": [*deal["tasks"], {"id": "t2", "due": "2026-11-24T10:00:00+03:00",
                                                  "done": False}]}
    counts = rt.ingest(records([moved]), NOW + timedelta(minutes=2))
    assert (counts.unchanged, counts.stored) == (0, 1)
    # The same deal twice in one batch, the second as stored before: the later record wins.
    counts = rt.ingest(records([deal, moved]), NOW + timedelta(minutes=3))
    assert (counts.unchanged, counts.stored) == (0, 2)
    stored = rt.store.get_deal("b2b-sales", "M-1")
    assert stored is not None and orjson.loads(stored.record)["tasks"] == moved["tasks"]
    # Judged in another language (other findings' words): judged again, and kept as such.
    russian = Runtime(rt.judge, rt.store, lang="ru")
    assert russian.judged_by != rt.judged_by
    assert russian.ingest(records([moved]), NOW + timedelta(minutes=4)).stored == 1
    assert russian.ingest(records([moved]), NOW + timedelta(minutes=5)).unchanged == 1
    # Sent again with an earlier ``now`` than it was judged at: judged again.
    assert russian.ingest(records([moved]), NOW).stored == 1


def test_a_store_of_the_previous_schema_is_brought_up_and_judges_its_deals_again(
        tmp_path: Path) -> None:
    from pipeline_rules.runtime.sqlite import MIGRATIONS

    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for number, steps in enumerate(MIGRATIONS[:-1], 1):
        for statement in steps:
            db.execute(statement)
        db.execute("INSERT INTO schema_version VALUES (?)", (number,))
    deal = meeting_deal("2026-11-27T15:00:00+03:00")
    db.execute("INSERT INTO deals (ruleset, deal, record, findings, evaluated, wake, origin) "
               "VALUES ('b2b-sales', 'M-1', ?, '[]', ?, NULL, 'old')",
               (orjson.dumps(deal).decode(), to_us(NOW)))
    db.commit()
    db.close()
    rt = Runtime(Judge.of(load_catalog(B2B)), SqliteStore(str(path)))
    assert rt.store.get_deal("b2b-sales", "M-1").judged_by == ""  # type: ignore[union-attr]
    # Judged by nothing known: judged again, though the record is the same.
    assert rt.ingest(records([deal]), NOW + timedelta(minutes=1)).stored == 1
    assert rt.store.get_deal("b2b-sales", "M-1").judged_by == rt.judged_by  # type: ignore[union-attr]


def test_a_store_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    SqliteStore(str(path)).close()
    db = sqlite3.connect(path)
    db.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION + 1,))
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="newer"):
        SqliteStore(str(path))
    result = CliRunner().invoke(main, ["tick", str(B2B), "--store", str(path),
                                       "--now", "2026-11-20T10:00:00+03:00"])
    assert result.exit_code == 2
    assert "schema version" in result.output and "Traceback" not in result.output


def test_a_corrupt_or_locked_store_is_a_clear_error(tmp_path: Path) -> None:
    corrupt = tmp_path / "c.db"
    corrupt.write_bytes(b"this is not a database" * 100)
    result = CliRunner().invoke(main, ["ingest", str(B2B), str(ROOT / "examples" /
                                                               "deals.jsonl"),
                                       "--store", str(corrupt)])
    assert result.exit_code == 2
    assert "corrupt" in result.output and "Traceback" not in result.output
    locked = tmp_path / "l.db"
    SqliteStore(str(locked)).close()
    holder = sqlite3.connect(locked, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match="locked"):
            SqliteStore(str(locked), timeout=0.1)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_ingest_and_tick_on_the_command_line(tmp_path: Path) -> None:
    store, out = tmp_path / "s.db", tmp_path / "out.jsonl"
    runner = CliRunner()
    result = runner.invoke(main, ["ingest", str(B2B), str(ROOT / "examples" / "deals.jsonl"),
                                  "--store", str(store), "--now", NOW.isoformat()])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1])["stored"] == len(SAMPLE)
    result = runner.invoke(main, ["tick", "--store", str(store), "--now",
                                  "2026-11-21T09:05:00+03:00", "--sink", str(out)])
    assert result.exit_code == 0, result.output
    counts = json.loads(result.output.strip().splitlines()[-1])
    sent = [orjson.loads(line) for line in out.read_text().splitlines()]
    assert counts["delivered"] == len(sent) == 3
    assert {s["alert"]["code"] for s in sent} == {"escalate"}


ROUTED = ROOT / "examples" / "b2b_sales_routed.yaml"


def test_routed_alerts_and_an_entry_action_are_delivered_through_ticks(tmp_path: Path) -> None:
    """The routed example: a deal enters the proposal stage on Monday 23 Nov 10:00. Its
    create-task entry action is delivered once, though the CRM sends the deal again within the
    entry window, and is over (never retracted) when the window closes; each routed level of
    the proposal SLA — the owner at 50 %, the owner and the looked-up manager at 80 %, the
    escalation at the breach, the head of sales 2 business days later — and the routed overdue
    task are delivered at their due instants, each once, under the key the evaluator gave."""
    rt = Runtime(Judge.of(load_catalog(ROUTED)), SqliteStore(str(tmp_path / "store.db")))
    out = tmp_path / "out.jsonl"
    sink = JsonlSink(str(out))
    msk = "+03:00"
    deal = {"id": "P-1", "stage": "proposal", "source": "web_form", "owner": "olga",
            "history": [{"stage": "request", "at": "2026-11-20T10:00:00" + msk},
                        {"stage": "qualification", "at": "2026-11-20T12:00:00" + msk},
                        {"stage": "meeting", "at": "2026-11-21T12:00:00" + msk},
                        {"stage": "proposal", "at": "2026-11-23T10:00:00" + msk}],
            "tasks": [{"id": "U", "due": "2026-11-26T10:00:00" + msk, "done": False}]}
    first = rt.upsert(Record("crm:1", deal), datetime.fromisoformat("2026-11-23T10:05:00" + msk))
    rt.deliver(sink)
    again = rt.upsert(Record("crm:2", deal), datetime.fromisoformat("2026-11-23T10:30:00" + msk))
    rt.deliver(sink)
    entry_keys = {f.key for f in [*first.findings, *again.findings] if f.code == "create-task"}
    assert len(entry_keys) == 1  # the same entry, the same key, whenever it is judged
    for moment in ("2026-11-24T12:00", "2026-11-25T16:00", "2026-11-27T11:00",
                   "2026-11-30T11:00", "2026-12-02T11:00"):
        rt.tick(datetime.fromisoformat(moment + ":00" + msk))
        rt.deliver(sink)
    sent = [orjson.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(s["event"], s["alert"]["code"], s["alert"]["rule"], s["alert"]["due"],
             s["alert"]["details"]["recipient"], s["alert"]["details"].get("level"))
            for s in sent] == [
        ("delivered", "create-task", "on_enter.proposal.0", "2026-11-23T10:00:00+03:00",
         "olga", None),
        ("delivered", "notify", "proposal-decision", "2026-11-25T15:00:00+03:00", "olga", "50%"),
        ("delivered", "notify", "tasks.overdue_grace", "2026-11-26T11:00:00+03:00", "olga",
         None),
        ("delivered", "notify", "tasks.overdue_grace", "2026-11-26T11:00:00+03:00", "anna",
         None),
        ("delivered", "notify", "proposal-decision", "2026-11-27T10:00:00+03:00", "olga", "80%"),
        ("delivered", "notify", "proposal-decision", "2026-11-27T10:00:00+03:00", "anna", "80%"),
        ("delivered", "escalate", "proposal-decision", "2026-11-30T10:00:00+03:00", "anna",
         None),
        ("delivered", "notify", "proposal-decision", "2026-12-02T10:00:00+03:00",
         "head_of_sales", "+2 business days"),
    ]
    assert all(s["key"] == s["alert"]["key"] for s in sent)
    assert len({s["key"] for s in sent}) == len(sent)
    (entry_key,) = entry_keys
    assert sent[0]["key"] == entry_key
    entry = rt.store.get_alert(entry_key)
    assert entry is not None and entry.status == "resolved"
    trail = [(t.before, t.after, t.note) for t in rt.store.transitions("b2b-sales-routed", "P-1")
             if t.key == entry_key]
    assert trail == [(None, "open", "raised"), ("open", "due", "due"),
                     ("due", "delivered", "delivered"), ("delivered", "resolved", "over")]


def test_a_stored_deal_keeps_the_version_its_timer_began_under(tmp_path: Path) -> None:
    """The example versions folder: a meeting entered on 25 Nov under version 1 (7 days) is
    escalated on 2 Dec 10:00, though version 2 (8 days) took effect on 1 Dec."""
    rt = Runtime(Judge.of(load_catalog(ROOT / "examples" / "versions" / "b2b_sales")),
                 SqliteStore(str(tmp_path / "store.db")))
    out = tmp_path / "out.jsonl"
    deal = meeting_deal("2026-12-20T10:00:00+03:00")
    deal["history"][-1]["at"] = "2026-11-25T10:00:00+03:00"
    deal["tasks"][0]["due"] = "2026-12-03T10:00:00+03:00"
    rt.upsert(Record("crm", deal), datetime.fromisoformat("2026-11-26T10:00:00+03:00"))
    rt.tick(datetime.fromisoformat("2026-12-02T09:59:00+03:00"))
    rt.deliver(JsonlSink(str(out)))
    assert not out.exists()
    rt.tick(datetime.fromisoformat("2026-12-02T10:00:00+03:00"))
    rt.deliver(JsonlSink(str(out)))
    sent = [orjson.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(s["alert"]["code"], s["alert"]["due"], s["alert"]["version"])
            for s in sent] == [("escalate", "2026-12-02T10:00:00+03:00", "1")]
