"""A schedule is accepted only if it fires within a bounded search from a fixed instant, and the
evaluator never dies on one: the command line says why and exits 2, a directory run goes on
with the other rulesets, the server answers 4xx."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from helpers import ROOT

from pipeline_rules.deals.model import Record
from pipeline_rules.evaluate.judge import Judge, Runs, judge_records, runnable, schedule_problem
from pipeline_rules.ruleset.catalog import load_directory, load_file
from pipeline_rules.server.app import create_app
from pipeline_rules.server.settings import Settings
from pipeline_rules.time.schedules import (
    SEARCH_FROM,
    SEARCH_YEARS,
    CronError,
    CronSchedule,
    NoRunError,
    parse_cron,
)

MOSCOW = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")
RETAIL = ROOT / "rulesets" / "retail.yaml"
NEVER = "0 0 1 1 5#5"  # the first of January is never a month's fifth Friday


@pytest.mark.parametrize("expr", [NEVER, "0 0 1 1 1#5", "0 12 2 1 5#5"])
def test_an_expression_that_never_fires_is_refused(expr: str) -> None:
    with pytest.raises(NoRunError) as err:
        parse_cron(expr, MOSCOW)
    assert err.value.since == SEARCH_FROM
    assert str(SEARCH_YEARS) in err.value.reason


@pytest.mark.parametrize(("expr", "first"), [
    ("0 0 29 2 *", datetime(2000, 2, 29, tzinfo=MOSCOW)),
    ("0 0 29 2 5#5", datetime(2008, 2, 29, tzinfo=MOSCOW)),  # Feb 29 on a Friday: 28 years apart
    ("*/15 8-19 * * mon-fri", datetime(2000, 1, 3, 8, 0, tzinfo=MOSCOW)),
])
def test_rare_but_real_schedules_are_accepted(expr: str, first: datetime) -> None:
    schedule = parse_cron(expr, MOSCOW)
    assert schedule.next_run(SEARCH_FROM.astimezone(MOSCOW)) == first


def test_the_next_run_is_still_read_in_the_zone_across_dst() -> None:
    schedule = parse_cron("30 2 * * *", BERLIN)
    spring = schedule.next_run(datetime(2026, 3, 29, 0, 0, tzinfo=BERLIN))
    assert spring.isoformat() == "2026-03-29T03:00:00+02:00"
    autumn = schedule.next_run(datetime(2026, 10, 25, 0, 0, tzinfo=BERLIN))
    assert autumn.isoformat() == "2026-10-25T02:30:00+02:00"


def test_no_next_run_is_our_error_not_croniters() -> None:
    schedule = CronSchedule(NEVER, MOSCOW)  # built around parse_cron, as a plugin might
    with pytest.raises(NoRunError) as err:
        schedule.next_run(datetime(2026, 1, 1, tzinfo=UTC))
    assert isinstance(err.value, CronError)
    with pytest.raises(NoRunError):  # the end of the calendar is not an OverflowError either
        CronSchedule("0 0 1 1 *", MOSCOW).next_run(datetime(9999, 12, 31, 22, 0, tzinfo=UTC))


def _with_schedule(tmp_path: Path, expr: str, name: str = "retail.yaml") -> Path:
    text = RETAIL.read_text(encoding="utf-8")
    written = 'evaluate: "*/5 * * * *"'
    assert text.count(written) == 1
    path = tmp_path / name
    path.write_text(text.replace(written, f'evaluate: "{expr}"'), encoding="utf-8")
    return path


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipeline_rules", *args], check=False,
                          cwd=cwd, capture_output=True, text=True, timeout=120)


def test_lint_and_evaluate_refuse_a_schedule_that_never_fires(tmp_path: Path) -> None:
    path = _with_schedule(tmp_path, NEVER)
    line = next(i for i, row in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                if NEVER in row)
    deals = tmp_path / "deals.jsonl"
    deals.write_text(json.dumps({"id": "d1", "stage": "new_order",
                                 "created_at": "2026-11-20T09:00:00+07:00"}) + "\n",
                     encoding="utf-8")
    lint = _cli("lint", "--no-source", path.name, cwd=tmp_path)
    assert lint.returncode == 1
    assert f"retail.yaml:{line}:13: error [invalid-cron]" in lint.stdout
    assert "never fires" in lint.stdout
    evaluate = _cli("evaluate", path.name, deals.name, "--now", "2026-11-20T10:00:00",
                    cwd=tmp_path)
    assert evaluate.returncode == 2
    assert "Traceback" not in evaluate.stderr and "Croniter" not in evaluate.stderr
    assert f"retail.yaml:{line}:13" in evaluate.stderr and evaluate.stdout == ""


def test_a_ruleset_with_no_run_after_now_is_unusable_and_the_others_judge(tmp_path: Path) -> None:
    directory = tmp_path / "rulesets"
    directory.mkdir()
    _with_schedule(directory, "0 9 * * mon-fri")
    (directory / "b2b.yaml").write_text((ROOT / "rulesets" / "b2b_sales.yaml")
                                        .read_text(encoding="utf-8"), encoding="utf-8")
    catalog = load_directory(directory)
    assert set(catalog.rulesets) == {"retail-orders", "b2b-sales"}
    # A schedule with no run after `now` cannot be written through the loader any more (lint
    # refuses it), so swap one in, as a compiled ruleset from elsewhere could carry it.
    retail = catalog.rulesets["retail-orders"]
    broken = replace(retail, schedule=CronSchedule(NEVER, retail.zone))
    catalog = replace(catalog, rulesets={**catalog.rulesets, "retail-orders": broken})
    now = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    reason = schedule_problem(broken, now)
    assert reason is not None and NEVER in reason and "retail-orders" in reason
    assert schedule_problem(catalog.rulesets["b2b-sales"], now) is None

    usable = runnable(catalog, now)
    assert set(usable.rulesets) == {"b2b-sales"}
    assert "retail-orders" in usable.broken
    records = [Record("deals.jsonl:1", {"id": "r1", "ruleset": "retail-orders",
                                        "stage": "new_order"}),
               Record("deals.jsonl:2", {"id": "b1", "ruleset": "b2b-sales",
                                        "stage": "request"})]
    judged = list(judge_records(Judge.of(usable), records, Runs(now)))
    assert judged[0].findings[0].code == "bad-record"
    assert NEVER in judged[0].findings[0].to_dict()["message"]
    assert judged[1].ruleset == "b2b-sales"


def test_a_single_file_with_no_run_after_now_fails_clearly(tmp_path: Path) -> None:
    catalog = load_file(_with_schedule(tmp_path, "0 9 * * *"))
    compiled = catalog.only()
    catalog = replace(catalog, rulesets={compiled.id: replace(
        compiled, schedule=CronSchedule(NEVER, compiled.zone))})
    usable = runnable(catalog, datetime(2026, 1, 1, tzinfo=UTC))
    assert not usable.rulesets
    assert "has no run" in usable.problems[-1].reason


def test_the_server_answers_4xx_never_500(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tmp_path / "rulesets"
    directory.mkdir()
    _with_schedule(directory, NEVER, "never.yaml")
    _with_schedule(directory, "0 9 * * *", "daily.yaml")
    (directory / "daily.yaml").write_text(
        (directory / "daily.yaml").read_text(encoding="utf-8").replace(
            "id: retail-orders", "id: daily-orders"), encoding="utf-8")
    body = {"deal": {"id": "d1", "stage": "new_order",
                     "created_at": "2026-11-20T09:00:00+07:00"},
            "now": "2026-11-20T10:00:00+07:00"}
    with TestClient(create_app(Settings(str(directory))),
                    raise_server_exceptions=False) as client:
        refused = client.post("/v1/evaluate", json={"ruleset": "retail-orders", **body})
        assert refused.status_code == 404  # the file is unusable: nothing serves that id
        listing = json.dumps(client.get("/v1/rulesets").json())
        assert "invalid-cron" in listing and "never fires" in listing
        assert client.post("/v1/evaluate",
                           json={"ruleset": "daily-orders", **body}).status_code == 200

        def no_run(self: CronSchedule, after: datetime) -> datetime:
            raise NoRunError(self.expr, after)

        monkeypatch.setattr(CronSchedule, "next_run", no_run)
        late = client.post("/v1/evaluate", json={"ruleset": "daily-orders", **body})
        assert late.status_code == 409
        assert late.json()["error"] == "ruleset-unusable"
        assert "daily-orders" in late.json()["message"]
