"""The analysis and backtest reports as one self-contained HTML page.

The page makes no network request at all: styles are inline, fonts are the system's, charts are
inline SVG from :mod:`.svg`, and there is no script. A Content-Security-Policy that forbids
every fetch makes that hold even if something slipped in. Every text that comes from a ruleset,
a deal history or a report is escaped: stage titles and owner names are user input.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence

from pipeline_rules import __version__, i18n
from pipeline_rules.analytics.report import (
    Backtest,
    Change,
    GroupStats,
    Quantiles,
    Report,
    StageStats,
    Tally,
)
from pipeline_rules.analytics.split import Split
from pipeline_rules.outputs import svg
from pipeline_rules.ruleset.compiled import CompiledRuleset
from pipeline_rules.time.durations import (
    DurationError,
    DurationKind,
    format_seconds,
    parse_duration,
    spoken,
)
from pipeline_rules.time.working import counted_seconds


class Markup(str):
    """HTML that is already safe (built here from escaped parts); table cells pass it through."""

    __slots__ = ()


Cell = str | int | float | None


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _t(key: str, lang: str, **args: object) -> str:
    """The page's text ``key`` in ``lang``."""
    return i18n.render(f"html.{key}", args, lang)


def _cell(value: Cell) -> str:
    if isinstance(value, Markup):
        return value
    if value is None:
        return "—"
    if isinstance(value, int):
        return f"{value:,}"
    return _esc(value)


def _int(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def _pct(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.1f}%"


def _signed(change: int) -> str:
    return f"{change:+,}" if change else "0"


def _dur(seconds: float | None, lang: str = i18n.DEFAULT) -> str:
    return "—" if seconds is None else format_seconds(seconds, lang)


def _duration(text: str, lang: str) -> str:
    """A duration as the ruleset or report writes it, in words of ``lang`` outside English."""
    if lang == i18n.DEFAULT:
        return text
    try:
        return spoken(parse_duration(text), lang)
    except DurationError:
        return text


def _sub(main: str, detail: str | None) -> Markup:
    """A value with a smaller second line (a stage id under its title, a basis under a limit)."""
    extra = f'<small class="sub">{_esc(detail)}</small>' if detail else ""
    return Markup(f"{_esc(main)}{extra}")


def _table(head: Sequence[str], rows: Iterable[Sequence[Cell]], numeric: Iterable[int] = (),
           groups: Sequence[tuple[str, int]] = (), empty: str = "",
           cls: str = "") -> str:
    """A table; ``numeric`` columns are right-aligned, ``groups`` is a row of spanning headings."""
    right = set(numeric)
    body = []
    for row in rows:
        cells = "".join(f'<td class="num">{_cell(v)}</td>' if i in right else f"<td>{_cell(v)}</td>"
                        for i, v in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    if not body:
        return f'<p class="empty">{_esc(empty or _t("nothing", i18n.DEFAULT))}</p>'
    top = ("<tr>" + "".join(f'<th scope="colgroup" colspan="{span}">{_esc(text)}</th>'
                            for text, span in groups) + "</tr>") if groups else ""
    names = "".join(f'<th scope="col" class="num">{_esc(h)}</th>' if i in right
                    else f'<th scope="col">{_esc(h)}</th>' for i, h in enumerate(head))
    klass = f' class="{cls}"' if cls else ""
    return (f'<div class="scroll"><table{klass}><thead>{top}<tr>{names}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


def _figure(chart: str, caption: str = "") -> str:
    cap = f"<figcaption>{_esc(caption)}</figcaption>" if caption else ""
    return f'<figure><div class="scroll">{chart}</div>{cap}</figure>'


def _facts(items: Sequence[tuple[str, str | None]]) -> str:
    """A compact definition list of the facts that are known."""
    shown = "".join(f"<div><dt>{_esc(k)}</dt><dd>{_esc(v)}</dd></div>"
                    for k, v in items if v is not None)
    return f'<dl class="facts">{shown}</dl>'


def _notes(notes: Sequence[str]) -> str:
    if not notes:
        return ""
    return '<ul class="notes">' + "".join(f"<li>{_esc(n)}</li>" for n in notes) + "</ul>"


# ----------------------------------------------------------------- analysis sections


def _titles(report: Report | None, compiled: CompiledRuleset) -> dict[str, str]:
    """Stage id → title: the report's where it has one, else the ruleset's."""
    titles = {s.id: s.title or s.id for s in compiled.ruleset.stages}
    if report is not None:
        titles |= {s.stage: s.title or s.stage for s in report.stages}
    return titles


def _charted(report: Report, compiled: CompiledRuleset) -> list[StageStats]:
    """The stages a dwell chart is about: every stage but the ends, where deals do not dwell."""
    return [s for s in report.stages if s.stage not in compiled.graph.terminal]


def _sla_basis(stats: StageStats, compiled: CompiledRuleset,
               calendar: str | None) -> tuple[float | None, str]:
    """The stage's SLA limit in seconds and whether to read it against working or wall time.

    A limit in business days or hours is compared with the working-time dwell when the report
    has one (a business day then counts as the calendar's working seconds per day); otherwise
    with the wall-clock dwell, the limit spread over the calendar's week as an estimate.
    """
    if stats.sla_limit is None:
        return None, "wall clock"
    try:
        limit = parse_duration(stats.sla_limit)
    except DurationError:
        return None, "wall clock"
    if not limit.is_business:
        return float(limit.amount), "wall clock"
    sla = next((s for s in compiled.ruleset.slas if s.id == stats.sla_id), None)
    cal_name = sla.calendar.name if sla is not None and sla.calendar is not None else calendar
    cal = compiled.calendar(cal_name)
    if stats.dwell_working is not None and stats.dwell_working.count:
        if cal is not None:
            return counted_seconds(limit, cal), "working time"
        # A report made on another ruleset can carry working dwell that this one names no
        # calendar for: its business days are then read as 8-hour days.
        per_day = 8 * 3600 if limit.kind is DurationKind.BUSINESS_DAYS else 1
        return float(limit.amount * per_day), "working time"
    if cal is not None:
        return limit.nominal_seconds(cal.workdays_per_week, cal.working_seconds_per_week), \
            "wall clock (SLA estimated)"
    return limit.nominal_seconds(), "wall clock (SLA estimated)"


def _dwell_bars(report: Report, compiled: CompiledRuleset,
                lang: str = i18n.DEFAULT) -> list[svg.DwellBar]:
    bars = []
    for stats in _charted(report, compiled):
        limit, basis = _sla_basis(stats, compiled, report.calendar)
        q = (stats.dwell_working if basis == "working time" and stats.dwell_working is not None
             else stats.dwell_wall)
        bars.append(svg.DwellBar(
            label=stats.title or stats.stage, median=q.median, p75=q.p75, p90=q.p90,
            limit=limit, limit_label=_t("sla-limit", lang, limit=_duration(
                stats.sla_limit, lang)) if stats.sla_limit else "",
            basis=_t(f"basis.{basis}", lang)))
    return bars


def _dwell_section(report: Report, compiled: CompiledRuleset, lang: str) -> str:
    chart = svg.dwell_chart(_dwell_bars(report, compiled, lang), _t("h.dwell", lang), lang)
    return _figure(chart, _t("dwell-caption", lang))


def _distributions_section(report: Report, compiled: CompiledRuleset, lang: str) -> str:
    figures = []
    for stats in _charted(report, compiled):
        series: list[tuple[str, Quantiles]] = [(_t("basis.wall clock", lang), stats.dwell_wall)]
        if stats.dwell_working is not None:
            series.append((_t("basis.working time", lang), stats.dwell_working))
        series.append((_t("age", lang), stats.age_wall))
        figures.append("<figure>" + svg.distribution_chart(
            stats.title or stats.stage, series, lang=lang) + "</figure>")
    if not figures:
        figures.append(f"<figure>{svg.no_data(_t('h.distributions', lang), lang=lang)}</figure>")
    legend = _t("distributions-legend", lang)
    return f'<p class="lead">{_esc(legend)}</p><div class="grid">{"".join(figures)}</div>'


def _stalls_section(report: Report, titles: Mapping[str, str], lang: str) -> str:
    rows = []
    for stall in sorted(report.stalls, key=lambda s: s.rank):
        reasons = Markup('<ul class="reasons">' + "".join(
            f"<li>{_esc(r)}</li>" for r in stall.reasons) + "</ul>") if stall.reasons else None
        rows.append((stall.rank, _sub(titles.get(stall.stage, stall.stage), stall.stage),
                     f"{stall.score:.2f}", reasons))
    return _table((_t("col.rank", lang), _t("col.stage", lang), _t("col.score", lang),
                   _t("col.why", lang)), rows, numeric=(0, 2),
                  empty=_t("no-stalls", lang), cls="stalls")


def _stage_row(stats: StageStats, working: bool, lang: str) -> list[Cell]:
    # Shares go under their counts rather than into columns of their own: the table is wide.
    left = stats.moved_on + stats.went_back + stats.lost
    row: list[Cell] = [
        _sub(stats.title or stats.stage, stats.stage), _int(stats.entered),
        _int(stats.moved_on), _int(stats.went_back),
        _sub(_int(stats.lost), _pct(stats.loss_share) if left else None),
        _int(stats.still_there), _dur(stats.dwell_wall.median, lang),
        _dur(stats.dwell_wall.p75, lang), _dur(stats.dwell_wall.p90, lang)]
    if working:
        q = stats.dwell_working or Quantiles()
        row += [stats.working(q.median, lang), stats.working(q.p75, lang),
                stats.working(q.p90, lang)]
    row += [_sub(_duration(stats.sla_limit, lang), stats.sla_id) if stats.sla_limit else None,
            _sub(_int(stats.breached), _pct(stats.breach_share)) if stats.sla_limit else None,
            _sub(_duration(stats.suggested_limit, lang),
                 _t(f"suggested.{stats.suggested_basis}", lang)
                 if stats.suggested_basis in ("wall", "working") else stats.suggested_basis)
            if stats.suggested_limit else None]
    return row


def _stages_section(report: Report, lang: str) -> str:
    working = any(s.dwell_working is not None for s in report.stages)
    quantiles = [_t("col.median", lang), "p75", "p90"]
    head = [_t(f"col.{c}", lang) for c in ("stage", "entered", "moved-on", "went-back", "lost",
                                           "still-there")] + quantiles
    groups = [("", 6), (_t("dwell-wall", lang), 3)]
    if working:
        head += quantiles
        groups.append((_t("dwell-working", lang), 3))
    head += [_t("col.limit", lang), _t("col.breached", lang), _t("col.suggested", lang)]
    groups.append((_t("sla", lang), 3))
    numeric = [i for i in range(1, len(head)) if i < len(head) - 3 or i == len(head) - 2]
    rows = [_stage_row(s, working, lang) for s in report.stages]
    return (f'<p class="lead">{_esc(_t("stages-lead", lang))}</p>'
            + _table(head, rows, numeric=numeric, groups=groups,
                     empty=_t("no-histories", lang), cls="stages"))


def _group_rows(groups: Sequence[GroupStats], lang: str) -> list[list[Cell]]:
    return [[g.key, g.deals, g.won, g.lost, g.open, _pct(g.win_rate),
             _dur(g.cycle_won.median, lang), _dur(g.cycle_won.p75, lang),
             _dur(g.cycle_won.p90, lang), g.cycle_won.count, _dur(g.cycle_closed.median, lang),
             _dur(g.cycle_closed.p90, lang), g.cycle_closed.count] for g in groups]


def _group_table(key: str, groups: Sequence[GroupStats], lang: str) -> str:
    median = _t("col.median", lang)
    head = (key, *(_t(f"col.{c}", lang) for c in ("deals", "won", "lost", "open", "win-rate")),
            median, "p75", "p90", "n", median, "p90", "n")
    spans = (("", 6), (_t("cycle-won", lang), 4), (_t("cycle-closed", lang), 3))
    return _table(head, _group_rows(groups, lang), numeric=range(1, 13), groups=spans,
                  empty=_t("no-deals", lang), cls="groups")


def _cycles_section(report: Report, lang: str) -> str:
    def h3(key: str, **args: object) -> str:
        return f"<h3>{_esc(_t(key, lang, **args))}</h3>"

    limit = _duration(report.cycle_limit, lang) if report.cycle_limit else ""
    return (f'<p class="lead">{_esc(_t("cycles-lead", lang))}</p>'
            f"{h3('h.by-start')}{_group_table(_t('col.start', lang), report.by_start, lang)}"
            + (f'<p class="lead">{_esc(_t("cycle-limit", lang, limit=limit))}</p>'
               if report.cycle_limit else "")
            + f"{h3('h.by-owner')}{_group_table(_t('col.owner', lang), report.by_owner, lang)}"
            + (f"{h3('h.by', by=report.by)}{_group_table(report.by, report.by_field, lang)}"
               if report.by is not None else "")
            + (f"{h3('h.by-month')}{_group_table(_t('col.started', lang), report.by_month, lang)}"
               if report.by_month else "")
            + (_split_section(report.split, lang) if report.split is not None else ""))


def _split_section(split: Split, lang: str) -> str:
    """analyze --split: the verdict, then the two sides and the stages."""
    from pipeline_rules.outputs.text import split_lines

    verdict = "".join(f"<li>{_esc(line)}</li>" for line in split.verdict)
    body = "\n".join(split_lines(split, lang)[len(split.verdict) + 1:])
    heading = _t("h.split", lang, at=split.at)
    return (f"<h3>{_esc(heading)}</h3><ul class=\"verdict\">{verdict}</ul>"
            f"<pre>{_esc(body)}</pre>")


# ----------------------------------------------------------------- backtest sections


def _ranked_codes(*tallies: Tally | None) -> list[str]:
    totals: dict[str, int] = {}
    for tally in tallies:
        if tally is not None:
            for code, n in tally.by_code.items():
                totals[code] = totals.get(code, 0) + n
    return sorted(totals, key=lambda c: (-totals[c], c))


def _backtest_summary(backtest: Backtest, lang: str) -> str:
    compare = backtest.compare_tally
    facts = _facts([
        (_t("f.ruleset", lang), backtest.ruleset),
        (_t("f.period", lang), _t("period", lang, start=backtest.start, end=backtest.end)),
        (_t("f.every", lang), _duration(backtest.every, lang)),
        (_t("f.points", lang), _int(backtest.points)),
        (_t("f.deals", lang), _int(backtest.deals)),
        (_t("f.bad-records", lang), _int(backtest.bad_records)),
        (_t("f.alerts", lang), _int(backtest.tally.total)),
        (_t("f.backlog", lang), _int(sum(backtest.backlog.values()))),
        (_t("f.compared-with", lang), backtest.compare_ruleset),
        (_t("f.compared-alerts", lang), _int(compare.total) if compare else None),
        (_t("f.net", lang), _signed(backtest.net) if compare else None),
    ])
    # One axis and one colour per code for both timelines, so they read side by side.
    peak = max(svg.timeline_peak(t.by_week) for t in (backtest.tally, compare) if t is not None)
    codes = _ranked_codes(backtest.tally, compare)
    timelines = [(backtest.ruleset, backtest.tally)]
    if compare is not None:
        timelines.append((backtest.compare_ruleset or _t("the-compared", lang), compare))
    charts = []
    for name, tally in timelines:
        label = _t("per-week", lang, name=name)
        charts.append(f"<h3>{_esc(label)}</h3>"
                      + _figure(svg.timeline_chart(tally.by_week, label, peak, codes, lang)))
    return facts + _notes(backtest.notes) + "".join(charts)


def _code_table(backtest: Backtest, lang: str) -> str:
    tally, compare = backtest.tally, backtest.compare_tally
    codes = _ranked_codes(tally, compare)
    if compare is None:
        rows: list[list[Cell]] = [[c, tally.by_code.get(c, 0)] for c in codes]
        return _table((_t("col.code", lang), _t("col.alerts", lang)), rows, numeric=(1,),
                      empty=_t("no-alerts", lang))
    rows = [[c, tally.by_code.get(c, 0), compare.by_code.get(c, 0),
             _signed(compare.by_code.get(c, 0) - tally.by_code.get(c, 0))] for c in codes]
    return _table((_t("col.code", lang), _t("col.alerts", lang), _t("col.compared", lang),
                   _t("col.change", lang)), rows, numeric=(1, 2, 3),
                  empty=_t("no-alerts", lang))


def _matrix(key: str, data: Mapping[str, Mapping[str, int]], codes: Sequence[str],
            label: Mapping[str, str] | None = None, lang: str = i18n.DEFAULT) -> str:
    """Rows of ``data`` (a stage or an owner) by code, most alerts first."""
    order = sorted(data, key=lambda k: (-sum(data[k].values()), k))
    rows: list[list[Cell]] = []
    for name in order:
        shown: Cell = _sub(label[name], name) if label and name in label else name
        rows.append([shown, *(data[name].get(c, 0) for c in codes), sum(data[name].values())])
    return _table((key, *codes, _t("col.total", lang)), rows, numeric=range(1, len(codes) + 2),
                  empty=_t("no-alerts", lang), cls="matrix")


def _counts_section(backtest: Backtest, titles: Mapping[str, str], lang: str) -> str:
    tally = backtest.tally
    codes = _ranked_codes(tally)
    stage, owner = _t("col.stage", lang), _t("col.owner", lang)
    return (f"<h3>{_esc(_t('h.by-code', lang))}</h3>{_code_table(backtest, lang)}"
            f"<h3>{_esc(_t('h.by-stage', lang))}</h3>"
            f"{_matrix(stage, tally.by_stage, codes, titles, lang)}"
            f"<h3>{_esc(_t('h.by-owner', lang))}</h3>"
            f"{_matrix(owner, tally.by_owner, codes, lang=lang)}")


def _examples(change: Change, lang: str) -> Markup | None:
    added, removed = _t("added", lang), _t("removed", lang)
    items = ([f"<li>{added}: {_esc(e)}</li>" for e in change.examples_added]
             + [f"<li>{removed}: {_esc(e)}</li>" for e in change.examples_removed])
    return Markup('<ul class="examples">' + "".join(items) + "</ul>") if items else None


def _changes_section(backtest: Backtest, lang: str) -> str:
    name = backtest.compare_ruleset or _t("the-compared", lang)
    lead = _t("changes-lead", lang, name=name, ruleset=backtest.ruleset)
    lead = f'<p class="lead">{_esc(lead)}</p>'
    rows = [[c.code, c.rule, c.added, c.removed, _signed(c.added - c.removed),
             _examples(c, lang)]
            for c in sorted(backtest.changes, key=lambda c: (-(c.added + c.removed), c.code,
                                                             c.rule or ""))]
    head = tuple(_t(f"col.{c}", lang) for c in ("code", "rule", "added", "removed", "net",
                                                 "examples"))
    return lead + _table(head, rows, numeric=(2, 3, 4), empty=_t("same-alerts", lang))


# ----------------------------------------------------------------- page

_STYLE = """
:root { color-scheme: light; --ink: #1f2933; --muted: #6b7280; --rule: #e5e7eb;
  --zebra: #f8fafc; --accent: #1d4ed8; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 28px 48px; }
header h1 { font-size: 1.6rem; margin: 0 0 .4rem; }
h2 { font-size: 1.25rem; margin: 2.2rem 0 .6rem; padding-bottom: .3rem;
  border-bottom: 1px solid var(--rule); }
h3 { font-size: 1rem; margin: 1.4rem 0 .4rem; }
a { color: var(--accent); }
nav ul { list-style: none; display: flex; flex-wrap: wrap; gap: .2rem 1.2rem; padding: 0;
  margin: .8rem 0 0; }
.facts { display: flex; flex-wrap: wrap; gap: .4rem 1.6rem; margin: .4rem 0; }
.facts div { min-width: 8rem; }
.facts dt { color: var(--muted); font-size: .8rem; }
.facts dd { margin: 0; font-weight: 600; }
.lead, figcaption, .empty, .notes { color: var(--muted); }
figcaption { font-size: .85rem; margin-top: .3rem; max-width: 60rem; }
figure { margin: .6rem 0 1rem; }
.scroll { overflow-x: auto; }
svg.chart { display: block; max-width: 100%; height: auto; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(380px, 1fr));
  gap: .4rem 1.5rem; }
.grid figure { margin: 0; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; margin: .2rem 0 .8rem; }
th, td { padding: .3rem .55rem; border-bottom: 1px solid var(--rule); text-align: left;
  vertical-align: top; }
thead th { font-size: .8rem; color: var(--muted); font-weight: 600; white-space: nowrap;
  border-bottom-color: #cbd5e1; }
th[scope="colgroup"] { text-align: center; border-bottom: 1px solid #cbd5e1; }
tbody tr:nth-child(even) { background: var(--zebra); }
.num { text-align: right; white-space: nowrap; }
table.stages { font-size: .9em; }
table.stages td:first-child { min-width: 9rem; }
small.sub { display: block; color: var(--muted); font-size: .75rem; }
ul.reasons, ul.examples { margin: 0; padding-left: 1.1rem; }
footer { margin-top: 3rem; color: var(--muted); font-size: .8rem; }
@page { size: A4 landscape; margin: 12mm; }
@media print {
  body { font-size: 9.5pt; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  main { max-width: none; padding: 0; }
  nav { display: none; }
  .scroll { overflow: visible; }
  h2 { break-after: avoid; }
  figure, tr, .facts { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
"""

# Forbids every fetch: the page is meant to be mailed around and opened offline.
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def render_html(report: Report | None, backtest: Backtest | None,
                compiled: CompiledRuleset, lang: str = i18n.DEFAULT) -> str:
    """The complete, self-contained HTML page for an analysis and/or a backtest, its words in
    ``lang`` (names from the ruleset and the deals as they are written)."""
    ruleset = compiled.ruleset
    title = (report.title if report is not None else backtest.title if backtest is not None
             else "") or ruleset.title or ruleset.id
    titles = _titles(report, compiled)
    sections: list[tuple[str, str, str]] = [
        ("pipeline", _t("h.pipeline", lang), _figure(
            svg.pipeline_diagram(compiled, lang=lang), _t("pipeline-caption", lang))),
    ]
    if report is not None:
        sections += [
            ("dwell", _t("h.dwell", lang), _dwell_section(report, compiled, lang)),
            ("distributions", _t("h.distributions", lang),
             _distributions_section(report, compiled, lang)),
            ("stalls", _t("h.stalls", lang), _stalls_section(report, titles, lang)),
            ("stages", _t("h.stages", lang), _stages_section(report, lang)),
            ("cycles", _t("h.cycles", lang), _cycles_section(report, lang)),
        ]
    if backtest is not None:
        sections += [
            ("backtest", _t("h.backtest", lang), _backtest_summary(backtest, lang)),
            ("backtest-counts", _t("h.counts", lang), _counts_section(backtest, titles, lang)),
        ]
        if backtest.compare_tally is not None or backtest.changes:
            sections.append(("compare", _t("h.compare", lang), _changes_section(backtest, lang)))
    body = "".join(f'<section id="{anchor}"><h2>{_esc(heading)}</h2>{content}</section>'
                   for anchor, heading, content in sections)
    nav = "".join(f'<li><a href="#{anchor}">{_esc(heading)}</a></li>'
                  for anchor, heading, _ in sections)
    return (
        f'<!DOCTYPE html>\n<html lang="{_esc(lang)}"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="generator" content="pipeline-rules">'
        # An empty icon, else the browser asks the server (or the disk) for /favicon.ico.
        '<link rel="icon" href="data:,">'
        f"<title>{_esc(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main><header>{_header(title, report, backtest, compiled, lang)}"
        f'<nav aria-label="{_esc(_t("sections", lang))}"><ul>{nav}</ul></nav></header>{body}'
        f"<footer>{_esc(_t('footer', lang, version=__version__))}</footer></main></body></html>\n"
    )


def _header(title: str, report: Report | None, backtest: Backtest | None,
            compiled: CompiledRuleset, lang: str) -> str:
    facts: list[tuple[str, str | None]] = [
        (_t("f.ruleset", lang), report.ruleset if report is not None else compiled.ruleset.id)]
    if report is not None:
        facts += [(_t("f.generated", lang), report.now), (_t("f.calendar", lang), report.calendar),
                  (_t("f.deals", lang), _int(report.deals)),
                  (_t("f.bad-records", lang), _int(report.bad_records))]
    elif backtest is not None:
        facts.append((_t("f.backtest-period", lang),
                      _t("period", lang, start=backtest.start, end=backtest.end)))
    notes = _notes(report.notes) if report is not None else ""
    return f"<h1>{_esc(title)}</h1>{_facts(facts)}{notes}"
