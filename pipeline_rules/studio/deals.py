"""The studio's deals and what-if, as pure functions over the project's own parts.

* :func:`load_deals` reads a deals file through the one set of readers (JSON Lines, JSON, or a
  CRM CSV through a mapping, which is linted against the CSV first), counting as it streams
  and stopping at a cap; a line that cannot be read or decoded is kept out and reported with
  its line number, and the others are loaded.
* :func:`time_span` is the deals' earliest and latest instant (the ``now`` slider's range);
  :func:`findings_at` judges every loaded deal at one ``now`` through the one judge and gives
  each deal's findings in the JSON evaluate writes.
* :func:`timeline` is one deal drawn as data: stage visits as bars, each stage SLA's warning
  and deadline instants on the one SLA clock, tasks, events, pauses, and the reminders and
  escalations with their recipients (those due by ``now`` as the evaluator gives them, those
  still ahead as the ruleset plans them).
* :func:`what_if` compares a draft with the saved ruleset on the loaded deals: the findings
  that appear, disappear or move at ``now`` (:mod:`pipeline_rules.analytics.impact`), the
  backtest's added and removed alerts over a period, and analyze's dwell per stage beside both
  SLA limits.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pipeline_rules import i18n
from pipeline_rules.analytics.analysis import Analysis
from pipeline_rules.analytics.backtest import backtest
from pipeline_rules.analytics.impact import impact
from pipeline_rules.analytics.report import Quantiles
from pipeline_rules.deals.decode import parse_deal
from pipeline_rules.deals.model import Deal, DealError, Record
from pipeline_rules.deals.readers import InputError, detect_format, read_records
from pipeline_rules.evaluate import Evaluator, reminders
from pipeline_rules.evaluate.context import Run
from pipeline_rules.evaluate.findings import ACTION, Finding
from pipeline_rules.evaluate.intake import Rejection, intake
from pipeline_rules.evaluate.judge import Judge, Runs, judge_records
from pipeline_rules.evaluate.plans import SlaPlan
from pipeline_rules.evaluate.routing import addressed
from pipeline_rules.evaluate.sla import span_start
from pipeline_rules.lint import Diagnostic, lint_file
from pipeline_rules.ruleset.catalog import catalog_of
from pipeline_rules.ruleset.compiled import CompiledRuleset
from pipeline_rules.ruleset.loader import ReadError
from pipeline_rules.ruleset.problems import Severity
from pipeline_rules.time.clock import start_timer
from pipeline_rules.time.working import shift

#: Deals loaded at most, unless the studio is started with another cap.
DEFAULT_CAP = 50_000
#: How often (in records) a load reports its count.
PROGRESS_EVERY = 500
#: The longest backtest period, the most evaluation points it may take, and the most deals ×
#: points (each judged by both rulesets): about 15 s on two busy cores
#: (benchmarks/bench_studio_deals.py), within the studio's time budget.
MAX_PERIOD = timedelta(days=366)
MAX_POINTS = 2_000
MAX_WORK = 100_000
#: Bad lines listed in full (the rest are counted).
BAD_LISTED = 200

_LINE = re.compile(r":(\d+)$")


def number(count: int, lang: str = i18n.DEFAULT) -> str:
    """A count with its thousands grouped as ``lang`` writes them."""
    return f"{count:,}".replace(",", "\u00a0" if lang == "ru" else ",")


class LoadError(ValueError):
    """Deals that cannot be loaded at all: a reason, a stable code and, for a mapping that does
    not fit its CSV, the mapping lint's diagnostics."""

    def __init__(self, code: str, message: str,
                 diagnostics: Sequence[Diagnostic] = (), **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.diagnostics = tuple(diagnostics)
        self.extra = extra


@dataclass(frozen=True)
class BadLine:
    """A record kept out of the load: where it is (``deals.jsonl:12``), its line number when
    the origin has one, why, and the JSON pointer of the bad part."""

    origin: str
    line: int | None
    message: str
    path: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"origin": self.origin, "line": self.line, "message": self.message,
                "path": self.path}


@dataclass(frozen=True)
class LoadedDeals:
    """Deals loaded for the studio: the readable records in input order, each one's deal
    (decoded in the zone given to the load), the bad lines kept out and the reader's notes."""

    source: str
    records: tuple[Record, ...]
    deals: Mapping[str, Deal]
    bad: tuple[BadLine, ...] = ()
    bad_count: int = 0
    notes: tuple[str, ...] = ()
    zone: str = "UTC"
    #: Why not every record was read: the file has more than ``cap`` (None: all were read).
    capped: str | None = None
    cap: int = DEFAULT_CAP

    def summary(self) -> dict[str, Any]:
        """What was loaded, as the page shows it."""
        span = time_span(self.deals.values())
        return {"source": self.source, "deals": len(self.records), "bad": self.bad_count,
                "capped": self.capped, "cap": self.cap,
                "bad_lines": [b.to_dict() for b in self.bad], "notes": list(self.notes),
                "span": span.to_dict() if span is not None else None}


def _line(origin: str) -> int | None:
    found = _LINE.search(origin)
    return int(found.group(1)) if found else None


def check_mapping(mapping: str, sample: str, lang: str = i18n.DEFAULT) -> None:
    """Raise :class:`LoadError` with the mapping lint's errors when ``mapping`` does not fit
    the CSV ``sample`` (or is itself broken)."""
    try:
        found = lint_file(mapping, lang=lang, sample=sample)
    except ReadError as err:
        raise LoadError("unreadable", str(err)) from None
    errors = [d for d in found if d.severity is Severity.ERROR]
    if errors:
        first = errors[0]
        more = " " + i18n.render("studio.deals.more", {"count": len(errors) - 1}, lang) \
            if len(errors) > 1 else ""
        raise LoadError("mapping-does-not-fit",
                        f"{first.file}:{first.line}:{first.column}: [{first.rule}] "
                        f"{first.message}{more}", errors)


def load_deals(path: str, zone: ZoneInfo, mapping: str | None = None,
               input_format: str = "auto", cap: int = DEFAULT_CAP,
               progress: Callable[[int], None] | None = None,
               lang: str = i18n.DEFAULT, stop: Callable[[], None] | None = None
               ) -> LoadedDeals:
    """The deals of ``path`` (JSON Lines, JSON, or CSV through ``mapping``), read as a stream:
    ``progress`` hears the count so far, ``stop`` may raise to abandon the load; past ``cap``
    records the load stops, and says so naming the cap (``capped``). Times without an offset
    are read in ``zone`` (the saved ruleset's). A record that cannot be read or decoded, or
    that repeats a deal id, is kept out and listed with its line."""
    kind = detect_format(path) if input_format == "auto" else input_format
    if kind == "csv":
        if mapping is None:
            raise LoadError("mapping-needed", i18n.render("studio.deals.mapping-needed",
                                                          {"path": path}, lang))
        check_mapping(mapping, path, lang)
    notes: list[str] = []
    records: list[Record] = []
    deals: dict[str, Deal] = {}
    first_seen: dict[str, str] = {}
    bad: list[BadLine] = []
    bad_count = 0
    count = 0
    capped: str | None = None
    try:
        items = read_records(path, kind, mapping, zone, notes=notes)
        for record in items:
            assert isinstance(record, Record)
            count += 1
            if count > cap:
                capped = i18n.render("studio.deals.capped",
                                     {"path": path, "cap": number(cap, lang)}, lang)
                count -= 1
                break
            if count % PROGRESS_EVERY == 0:
                if progress is not None:
                    progress(count)
                if stop is not None:
                    stop()
            deal = _decoded(record, zone, lang, first_seen)
            if isinstance(deal, BadLine):
                bad_count += 1
                if len(bad) < BAD_LISTED:
                    bad.append(deal)
                continue
            first_seen[deal.id] = record.origin
            deals[deal.id] = deal
            records.append(record)
    except (ReadError, InputError) as err:
        raise LoadError("unreadable", str(err)) from None
    if progress is not None:
        progress(count)
    return LoadedDeals(path, tuple(records), deals, tuple(bad), bad_count, tuple(notes),
                       str(zone), capped, cap)


def _decoded(record: Record, zone: ZoneInfo, lang: str,
             seen: Mapping[str, str]) -> Deal | BadLine:
    """The record's deal, or why it is kept out of the load."""
    if record.error is not None:
        return BadLine(record.origin, _line(record.origin),
                       record.said(lang) or record.error)
    try:
        deal = parse_deal(record.data, zone)
    except DealError as err:
        return BadLine(record.origin, _line(record.origin), err.said(lang), err.path)
    earlier = seen.get(deal.id)
    if earlier is not None:
        return BadLine(record.origin, _line(record.origin),
                       i18n.render("bad-record.duplicate", {"deal": deal.id}, lang)
                       + f" ({earlier})", "/id")
    return deal


# -- now: the span and the findings at one moment ---------------------------------------------

@dataclass(frozen=True)
class Span:
    """The earliest and the latest instant the deals name (history, tasks, events, pauses)."""

    start: datetime
    end: datetime

    def to_dict(self) -> dict[str, str]:
        """JSON-ready form."""
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


def _instants(deal: Deal) -> Iterator[datetime]:
    for entry in deal.history:
        yield entry.at
    for task in deal.tasks:
        if task.due is not None:
            yield task.due
    for event in deal.events:
        yield event.at
    for pause in deal.pauses:
        yield pause.start
        if pause.end is not None:
            yield pause.end


def time_span(deals: Iterable[Deal]) -> Span | None:
    """The deals' time span (None when they name no instant)."""
    low: datetime | None = None
    high: datetime | None = None
    for deal in deals:
        for moment in _instants(deal):
            if low is None or moment < low:
                low = moment
            if high is None or moment > high:
                high = moment
    if low is None or high is None:
        return None
    return Span(low, high)


def findings_at(compiled: CompiledRuleset, records: Sequence[Record], now: datetime,
                lang: str = i18n.DEFAULT,
                stop: Callable[[], None] | None = None) -> dict[str, Any]:
    """Every loaded deal judged at ``now`` by ``compiled``: per record its deal, stage and
    findings (as evaluate's JSON gives them), and the findings counted by code."""
    judge = Judge.of(catalog_of(compiled))
    runs = Runs(now, lang)
    run = runs.of(judge.evaluators[compiled.id])
    codes: Counter[str] = Counter()
    rows: list[dict[str, Any]] = []
    for number, judged in enumerate(judge_records(judge, records, runs), 1):
        if stop is not None and number % PROGRESS_EVERY == 0:
            stop()
        record = records[number - 1]
        data = record.data if isinstance(record.data, Mapping) else {}
        found = [f.to_dict(run.isoformat) for f in judged.findings]
        codes.update(f["code"] for f in found)
        rows.append({"deal": judged.deal or record.deal, "origin": judged.origin,
                     "stage": data.get("stage"), "owner": data.get("owner"),
                     "findings": found})
    return {"ruleset": compiled.id, "now": run.local(now).isoformat(), "deals": rows,
            "summary": dict(sorted(codes.items()))}


# -- one deal's timeline ----------------------------------------------------------------------

def _iso(run: Run, moment: datetime | None) -> str | None:
    return run.iso(moment)


def _stage_bars(deal: Deal, run: Run, compiled: CompiledRuleset) -> list[dict[str, Any]]:
    bars: list[dict[str, Any]] = []
    history = deal.history
    titles = {s.id: s.title for s in compiled.ruleset.stages}
    if deal.undated_start is not None and (not history or history[0].stage != deal.undated_start):
        bars.append({"stage": deal.undated_start, "title": titles.get(deal.undated_start),
                     "entered": None, "left": _iso(run, history[0].at) if history else None,
                     "current": not history, "undated": True})
    for i, entry in enumerate(history):
        left = history[i + 1].at if i + 1 < len(history) else None
        bars.append({"stage": entry.stage, "title": titles.get(entry.stage),
                     "entered": _iso(run, entry.at), "left": _iso(run, left),
                     "current": left is None, "terminal": entry.stage in compiled.graph.terminal,
                     **({"override": entry.override} if entry.override else {})})
    return bars


def _recipient(run: Run, deal: Deal, role: str | None) -> dict[str, Any]:
    person, why = addressed(run, deal, role)
    return {"notify": role, "recipient": person, **({"unrouted": why} if why else {})}


def _timer_mark(deal: Deal, run: Run, plan: SlaPlan, since: datetime,
                left: datetime | None) -> tuple[dict[str, Any], datetime | None]:
    """One SLA timer from ``since`` (stopped at ``left``) as marks: its warning instants, its
    deadline and whether it was passed; and the deadline."""
    sla = plan.sla
    timer = start_timer(since, plan.limit, plan.calendar, deal.pauses if sla.pausable else (),
                        run.compiled.zone if deal.whole_days else None)
    deadline = timer.deadline
    end = left or run.now
    warnings = [{"percent": w, "at": _iso(run, timer.reached(w / 100)),
                 "passed": timer.used(end) * 100 >= w} for w in sla.warn]
    return {"rule": sla.id, "since": _iso(run, since), "limit": sla.limit,
            "deadline": _iso(run, deadline),
            "breached": deadline is not None and end >= deadline,
            "current": left is None, "warnings": warnings}, deadline


def _planned_escalations(deal: Deal, run: Run, plan: SlaPlan,
                         deadline: datetime) -> list[dict[str, Any]]:
    """What a breach at ``deadline``, still ahead, will set off: its actions and alert
    levels, each with its recipient."""
    planned: list[dict[str, Any]] = []
    rule = plan.sla.id
    for definition in plan.actions:
        planned.append({"code": definition.name, "rule": rule, "due": _iso(run, deadline),
                        "channel": definition.channel, "planned": True,
                        **_recipient(run, deal, definition.notify or "owner")})
    for after, label, roles, channel in plan.breach_routes:
        due = deadline if after is None else shift(plan.breach_calendar, deadline, after)
        for role in roles:
            planned.append({"code": "notify", "rule": rule, "level": label,
                            "due": _iso(run, due), "channel": channel, "planned": True,
                            **_recipient(run, deal, role)})
    return planned


def _sla_marks(deal: Deal, run: Run) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Each stage visit's SLA timers and the spans running now (``visit`` None), on the one
    SLA clock; and the escalations still ahead of ``now`` on the timers running now."""
    marks: list[dict[str, Any]] = []
    planned: list[dict[str, Any]] = []
    history = deal.history
    terminal = run.compiled.graph.terminal
    for i, entry in enumerate(history):
        if entry.stage in terminal:
            continue
        left = history[i + 1].at if i + 1 < len(history) else None
        for plan in run.plans.slas.get(entry.stage, ()):
            if plan.sla.stage is None:
                continue
            mark, deadline = _timer_mark(deal, run, plan, entry.at, left)
            marks.append({**mark, "stage": entry.stage, "visit": i})
            if left is None and deadline is not None and deadline > run.now:
                planned += _planned_escalations(deal, run, plan, deadline)
    if deal.stage in terminal:
        return marks, planned
    for plan in run.plans.slas.get(deal.stage or "", ()):
        sla = plan.sla
        if sla.stage is not None or not history:
            continue
        since = span_start(deal, sla)
        if since is None:
            continue
        mark, deadline = _timer_mark(deal, run, plan, since, None)
        assert sla.span_from is not None and sla.span_to is not None
        marks.append({**mark, "stage": None, "visit": None, "span": True,
                      "from": sla.span_from.name, "to": sla.span_to.name})
        if deadline is not None and deadline > run.now:
            planned += _planned_escalations(deal, run, plan, deadline)
    return marks, planned


def _planned_reminders(deal: Deal, run: Run, shown: set[tuple[str, str]]
                       ) -> list[dict[str, Any]]:
    """Reminders of events after ``now`` not yet due by this run (those are findings)."""
    planned: list[dict[str, Any]] = []
    for plan, event, due in reminders.upcoming(deal, run):
        reminder = plan.reminder
        stamp = _iso(run, due) or ""
        if (reminder.id, stamp) in shown:
            continue
        planned.append({"code": "remind", "rule": reminder.id, "due": stamp,
                        "channel": reminder.channel, "event": event.type,
                        "event_at": _iso(run, event.at), "planned": True,
                        **_recipient(run, deal, reminder.notify)})
    return planned


def _action(finding: Finding, run: Run) -> dict[str, Any]:
    details = finding.details or {}
    return {"code": finding.code, "rule": finding.rule, "due": _iso(run, finding.due),
            "channel": finding.channel, "notify": finding.notify,
            "recipient": details.get("recipient"), "message": finding.message,
            "planned": False, **({"level": details["level"]} if "level" in details else {}),
            **({"unrouted": details["unrouted"]} if "unrouted" in details else {})}


def timeline(compiled: CompiledRuleset, record: Record, now: datetime,
             lang: str = i18n.DEFAULT) -> dict[str, Any]:
    """One deal as the timeline draws it at ``now``; a deal the ruleset cannot judge gives its
    reason (``error``) and no bars."""
    evaluator = Evaluator(compiled, lang)
    run = evaluator.run(now, lang)
    deal = intake(record, compiled, lang)
    if isinstance(deal, Rejection):
        return {"deal": deal.deal, "origin": deal.origin, "ruleset": compiled.id,
                "now": _iso(run, now), "error": deal.message, "path": deal.path}
    found = evaluator.findings(deal, run)
    actions = [_action(f, run) for f in found if f.kind == ACTION]
    shown = {(a["rule"] or "", a["due"] or "") for a in actions if a["code"] == "remind"}
    marks, planned = _sla_marks(deal, run)
    if deal.stage not in compiled.graph.terminal:
        planned += _planned_reminders(deal, run, shown)
    span = time_span([deal])
    moments = [now] + ([span.start, span.end] if span is not None else [])
    moments += [datetime.fromisoformat(m["deadline"]) for m in marks if m["deadline"]]
    moments += [datetime.fromisoformat(a["due"]) for a in actions + planned if a["due"]]
    return {
        "deal": deal.id, "origin": record.origin, "ruleset": compiled.id, "stage": deal.stage,
        "owner": deal.owner, "manager": deal.manager, "now": _iso(run, now),
        "zone": str(compiled.zone),
        "start": _iso(run, min(moments)), "end": _iso(run, max(moments)),
        "stages": _stage_bars(deal, run, compiled),
        "slas": marks,
        "tasks": [{"id": t.id, "due": _iso(run, t.due), "done": t.done,
                   "overdue": not t.done and t.due is not None and t.due < now}
                  for t in deal.tasks],
        "events": [{"type": e.type, "at": _iso(run, e.at)} for e in deal.events],
        "pauses": [{"from": _iso(run, p.start), "to": _iso(run, p.end), "reason": p.reason}
                   for p in deal.pauses],
        "actions": sorted(actions + planned, key=lambda a: a["due"] or ""),
        "findings": [f.to_dict(run.isoformat) for f in found],
    }


def find_record(records: Sequence[Record], deal: str) -> Record | None:
    """The loaded record of deal ``deal`` (None when no record names it)."""
    return next((r for r in records if r.deal == deal), None)


# -- what if ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Period:
    """A backtest period: from ``start`` to ``end`` every ``every``."""

    start: datetime
    end: datetime
    every: timedelta = field(default=timedelta(days=1))


class PeriodError(ValueError):
    """A backtest period the studio refuses (too long, too many points, backwards)."""


def check_period(period: Period, max_period: timedelta = MAX_PERIOD,
                 max_points: int = MAX_POINTS, lang: str = i18n.DEFAULT, deals: int = 0,
                 max_work: int = MAX_WORK) -> None:
    """Raise :class:`PeriodError` for a period that ends before it starts, is longer than
    ``max_period``, would take more than ``max_points`` evaluation points, or more than
    ``max_work`` deal-points for ``deals`` deals."""
    if period.every <= timedelta(0):
        raise PeriodError(i18n.render("studio.deals.step", {}, lang))
    if period.end < period.start:
        raise PeriodError(i18n.render("studio.deals.backwards", {}, lang))
    length = period.end - period.start
    if length > max_period:
        raise PeriodError(i18n.render("studio.deals.too-long", {
            "days": length.days, "limit": max_period.days}, lang))
    points = int(length / period.every) + 1
    if points > max_points:
        raise PeriodError(i18n.render("studio.deals.too-many-points", {
            "points": number(points, lang), "limit": number(max_points, lang)}, lang))
    if deals * points > max_work:
        raise PeriodError(i18n.render("studio.deals.too-much-work", {
            "deals": number(deals, lang), "points": number(points, lang),
            "work": number(deals * points, lang), "limit": number(max_work, lang)}, lang))


def _quantiles(q: Quantiles) -> dict[str, Any]:
    return {"count": q.count, "median": q.median, "p75": q.p75, "p80": q.p80, "p90": q.p90}


def dwell_chart(saved: CompiledRuleset, draft: CompiledRuleset, records: Sequence[Record],
                now: datetime) -> list[dict[str, Any]]:
    """Analyze's dwell per stage of the saved ruleset's stages, each beside its SLA limit in
    the saved ruleset and in the draft (in seconds, on the basis the limit counts: working
    time on a calendar, or the wall clock), and the share of visits over each."""
    reports = []
    for compiled in (saved, draft):
        analysis = Analysis(compiled, now)
        for record in records:
            analysis.add(record)
        reports.append((analysis, {s.stage: s for s in analysis.report().stages}))
    (old, old_stats), (new, new_stats) = reports
    chart: list[dict[str, Any]] = []
    for stage in saved.graph.order:
        if stage in saved.graph.terminal:
            continue
        stats = old_stats[stage]
        drafted = new_stats.get(stage)
        timing = old.timing[stage]
        new_timing = new.timing.get(stage)
        working = bool(timing.working_budget or (new_timing is not None
                                                  and new_timing.working_budget))
        dwell = stats.dwell_working if working and stats.dwell_working is not None \
            else stats.dwell_wall
        chart.append({
            "stage": stage, "title": stats.title, "basis": "working" if working else "wall",
            "dwell": _quantiles(dwell), "entered": stats.entered,
            "working_day_seconds": stats.working_day_seconds,
            "saved": {"rule": stats.sla_id, "limit": stats.sla_limit, "seconds": timing.budget,
                      "breach_share": stats.breach_share},
            "draft": {"rule": drafted.sla_id if drafted else None,
                      "limit": drafted.sla_limit if drafted else None,
                      "seconds": new_timing.budget if new_timing else None,
                      "breach_share": drafted.breach_share if drafted else None},
        })
    return chart


def _change(change: Any, run: Run) -> dict[str, Any]:
    return {"change": change.change, "deal": change.deal, "origin": change.origin,
            "old": change.old.to_dict(run.isoformat) if change.old is not None else None,
            "new": change.new.to_dict(run.isoformat) if change.new is not None else None}


def what_if(saved: CompiledRuleset, draft: CompiledRuleset, records: Sequence[Record],
            now: datetime, period: Period | None = None, lang: str = i18n.DEFAULT
            ) -> dict[str, Any]:
    """The draft against the saved ruleset on ``records``: findings that appear, disappear or
    move at ``now``, deals stranded in removed stages, the backtest's added and removed alerts
    over ``period`` (if given; checked by :func:`check_period`), and the dwell chart."""
    run = Evaluator(draft, lang).run(now, lang)
    result = impact(saved, draft, records, now, lang)
    counts = Counter(c.change for c in result.changes)
    data: dict[str, Any] = {
        "saved": saved.id, "draft": draft.id, "now": run.local(now).isoformat(),
        "impact": {"records": result.records, "deals": result.deals,
                   "affected": result.affected,
                   "appears": counts["appears"], "disappears": counts["disappears"],
                   "moves": counts["moves"],
                   "changes": [_change(c, run) for c in result.changes],
                   "stranded": [{"deal": s.deal, "origin": s.origin, "stage": s.stage}
                                for s in result.stranded]},
        "backtest": None,
        "dwell": dwell_chart(saved, draft, records, now),
    }
    if period is not None:
        check_period(period, lang=lang, deals=len(records))
        report = backtest(saved, records, period.start, period.end, period.every, draft)
        data["backtest"] = {
            "start": report.start, "end": report.end, "every": report.every,
            "points": report.points, "deals": report.deals,
            "saved_total": report.tally.total,
            "draft_total": report.compare_tally.total if report.compare_tally else 0,
            "net": report.net,
            "changes": [{"code": c.code, "rule": c.rule, "added": c.added,
                         "removed": c.removed, "examples_added": list(c.examples_added),
                         "examples_removed": list(c.examples_removed)}
                        for c in report.changes],
            "notes": list(report.notes)}
    return data


__all__ = ["BAD_LISTED", "DEFAULT_CAP", "MAX_PERIOD", "MAX_POINTS", "MAX_WORK", "BadLine",
           "LoadError", "LoadedDeals", "Period", "PeriodError", "Span", "check_mapping",
           "check_period", "dwell_chart", "find_record", "findings_at", "load_deals", "number",
           "time_span", "timeline", "what_if"]
