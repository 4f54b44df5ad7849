"""Analysis and backtest reports as text tables for a terminal."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pipeline_rules.analytics.report import Backtest, GroupStats, Quantiles, Report, Tally
from pipeline_rules.analytics.split import Split
from pipeline_rules.time.durations import format_seconds

OWNERS_SHOWN = 20


def table(headers: Sequence[str], rows: Sequence[Sequence[str]],
          right: Sequence[bool] | None = None) -> str:
    """An aligned text table; numbers are right-aligned where ``right`` says so."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    align = right or [False] * len(headers)

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if a else c.ljust(w)
                         for c, w, a in zip(cells, widths, align, strict=True)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def duration(seconds: float | None) -> str:
    """Seconds as a readable duration, or a dash."""
    return "—" if seconds is None else format_seconds(seconds)


def spread(q: Quantiles | None, show: Callable[[float | None], str] | None = None) -> str:
    """median / p75 / p90 of a distribution (each shown by ``show``, default a duration)."""
    if q is None or not q.count:
        return "—"
    shown = show or duration
    return f"{shown(q.median)} / {shown(q.p75)} / {shown(q.p90)}"


def count(n: int, noun: str) -> str:
    """``n`` and its noun, singular for one ("1 deal", "2 deals")."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def share(part: int, whole: int) -> str:
    """A share as a whole percentage."""
    return f"{part / whole:.0%}" if whole else "—"


def _groups(groups: Sequence[GroupStats], label: str) -> str:
    rows = [[g.key, f"{g.deals:,}", f"{g.won:,}", f"{g.lost:,}", f"{g.open:,}",
             "—" if g.win_rate is None else f"{g.win_rate:.0%}", spread(g.cycle_won)]
            for g in groups]
    return table([label, "deals", "won", "lost", "open", "win rate",
                  "cycle to won: median / p75 / p90"], rows,
                 [False, True, True, True, True, True, False])


def render_report(report: Report) -> str:
    """The analysis as text."""
    calendar = f"; working time on calendar '{report.calendar}'" if report.calendar else ""
    out = [f"Analysis of {report.ruleset} ({report.title}): {count(report.deals, 'deal')}, "
           f"{count(report.bad_records, 'bad record')}, at {report.now}{calendar}", "",
           "Stages"]
    rows = []
    for s in report.stages:
        left = s.moved_on + s.went_back + s.lost
        rows.append([s.stage, f"{s.entered:,}", share(s.moved_on, left), share(s.went_back, left),
                     share(s.lost, left), f"{s.still_there:,}", spread(s.dwell_wall),
                     spread(s.dwell_working, s.working), s.sla_limit or "—",
                     "—" if s.breach_share is None else f"{s.breach_share:.0%}",
                     s.suggested_limit or "—"])
    out.append(table(["stage", "entered", "on", "back", "lost", "still there",
                      "dwell wall: median / p75 / p90", "dwell working", "SLA", "over SLA",
                      "suggested (p80)"], rows,
                     [False, True, True, True, True, True, False, False, False, True, False]))
    out += ["", "Where deals stall (score = dwell ratio + loss share + breach share)"]
    for stall in report.stalls:
        out.append(f"{stall.rank:>3}. {stall.stage} (score {stall.score:g}): "
                   + "; ".join(stall.reasons))
    out += ["", "By start definition", _groups(report.by_start, "start")]
    if report.cycle_limit is not None:
        closed = sum(g.cycle_closed.count for g in report.by_start)
        out.append(f"whole cycle: suggested limit {report.cycle_limit} (p80 of "
                   f"{count(closed, 'closed cycle')})")
    owners = report.by_owner[:OWNERS_SHOWN]
    more = len(report.by_owner) - len(owners)
    out += ["", f"By owner{f' (top {OWNERS_SHOWN} of {len(report.by_owner)})' if more else ''}",
            _groups(owners, "owner")]
    if report.by is not None:
        shown = report.by_field[:OWNERS_SHOWN]
        extra = len(report.by_field) - len(shown)
        top = f" (top {OWNERS_SHOWN} of {len(report.by_field)})" if extra else ""
        out += ["", f"By {report.by}{top}", _groups(shown, report.by)]
    if report.by_month:
        out += ["", "By month of start (the trend)", _groups(report.by_month, "started")]
    if report.split is not None:
        out += ["", *split_lines(report.split)]
    out += ["", "Notes:", *[f"- {note}" for note in report.notes]]
    return "\n".join(out) + "\n"


def split_lines(split: Split) -> list[str]:
    """analyze --split as text: the verdict, the two sides, the stages."""
    before, after = split.before, split.after

    def rate(value: float | None) -> str:
        return "—" if value is None else f"{value:.0%}"

    out = [f"Before vs after {split.at} (cycles started before it, and on or after it)",
           *[f"  {line}" for line in split.verdict],
           table(["", "deals", "closed", "won", "win rate", "median cycle"],
                 [["before", f"{before.deals:,}", f"{before.closed:,}", f"{before.won:,}",
                   rate(before.win_rate), duration(before.cycle_median)],
                  ["after", f"{after.deals:,}", f"{after.closed:,}", f"{after.won:,}",
                   rate(after.win_rate), duration(after.cycle_median)]],
                 [False, True, True, True, True, True])]
    if split.stages:
        out += ["", table(["stage", "median dwell before", "after", "over SLA before", "after"],
                          [[s.stage, duration(s.dwell_before), duration(s.dwell_after),
                            rate(s.over_sla_before), rate(s.over_sla_after)]
                           for s in split.stages], [False, True, True, True, True])]
    out.append(f"  (95 % intervals: percentile bootstrap, {split.resamples:,} resamples, "
               f"seed {split.seed}; per-stage figures without intervals; only closed deals "
               "have a cycle, so the later side, with less time to close its long cycles, "
               "looks shorter)")
    return out


def _tally(tally: Tally, title: str) -> list[str]:
    codes = list(tally.by_code)
    out = [f"{title}: {count(tally.total, 'alert')}",
           table(["code", "alerts"], [[c, f"{n:,}"] for c, n in tally.by_code.items()],
                 [False, True])]
    for name, groups in (("stage", tally.by_stage), ("owner", tally.by_owner),
                         ("week of", tally.by_week)):
        rows = [[key, *(f"{counts.get(c, 0):,}" for c in codes)] for key, counts in groups.items()]
        out += ["", table([name, *codes], rows, [False, *([True] * len(codes))])]
    return out


def _backlog(backlog: dict[str, int], name: str) -> str:
    """The alerts already open at the start, apart from the period's."""
    total = sum(backlog.values())
    parts = ", ".join(f"{code} {n:,}" for code, n in backlog.items())
    return (f"{name}: {count(total, 'alert')} already open at the start (due before --from; "
            f"not in the weeks above){': ' + parts if parts else ''}")


def render_backtest(backtest: Backtest) -> str:
    """The backtest as text."""
    out = [f"Backtest of {backtest.ruleset} ({backtest.title}) from {backtest.start} to "
           f"{backtest.end} every {backtest.every}: {count(backtest.points, 'evaluation point')}, "
           f"{count(backtest.deals, 'deal')}, {count(backtest.bad_records, 'bad record')}", ""]
    out += _tally(backtest.tally, backtest.ruleset)
    out += ["", _backlog(backtest.backlog, backtest.ruleset)]
    if backtest.compare_tally is not None:
        compared = backtest.compare_ruleset or "compared"
        out += ["", *_tally(backtest.compare_tally, compared),
                "", _backlog(backtest.compare_backlog or {}, compared)]
        rows = [[c.code, c.rule or "—", f"+{c.added:,}", f"-{c.removed:,}",
                 "; ".join(c.examples_added or c.examples_removed)] for c in backtest.changes]
        out += ["", f"What {backtest.compare_ruleset} changes against {backtest.ruleset}",
                table(["code", "rule", "added", "removed", "for example"], rows,
                      [False, False, True, True, False]) if rows else "no change"]
        added = sum(c.added for c in backtest.changes)
        removed = sum(c.removed for c in backtest.changes)
        out.append(f"net change: {backtest.net:+,} alerts ({added:,} added, "
                   f"{removed:,} removed)")
    out += ["", "Notes:", *[f"- {note}" for note in backtest.notes]]
    return "\n".join(out) + "\n"
