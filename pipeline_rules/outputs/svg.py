"""Charts for the HTML report, drawn in Python as inline SVG markup.

A generated inline SVG is a few kilobytes, needs no JavaScript library to vendor and keep up to
date, works offline, renders in any browser and in print, and can be tested as text. Every chart
is a complete ``<svg>`` element with a ``<title>``, ``role="img"`` and an ``aria-label``, a
``viewBox`` with matching width and height, and every text in it escaped. Empty data gives a
small "no data" picture instead of an error, so a report over an empty period still renders.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from pipeline_rules import i18n
from pipeline_rules.analytics.report import Quantiles
from pipeline_rules.ruleset.compiled import CompiledRuleset
from pipeline_rules.time.durations import format_seconds

# System fonts only: a web font would be a network request, and the page must make none.
FONT = "system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif"

# Okabe-Ito colours: told apart by people with the common colour-vision deficiencies.
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#7a6a00")
OTHER_COLOUR = "#9e9e9e"
INK, MUTED, GRID = "#1f2933", "#6b7280", "#e5e7eb"
BAR, BAND, OVER, SLA = "#0072b2", "#9ec9e8", "#d55e00", "#c62828"

_MINUTE, _HOUR, _DAY = 60, 3600, 86400
# Axis steps people read without arithmetic: round minutes, hours, days and weeks.
_DURATION_STEPS = (
    _MINUTE, 5 * _MINUTE, 15 * _MINUTE, 30 * _MINUTE, _HOUR, 2 * _HOUR, 4 * _HOUR, 6 * _HOUR,
    12 * _HOUR, _DAY, 2 * _DAY, 3 * _DAY, 7 * _DAY, 14 * _DAY, 28 * _DAY, 56 * _DAY, 91 * _DAY,
    182 * _DAY, 364 * _DAY,
)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class DwellBar:
    """One stage's row in the dwell chart: quantiles (seconds) and its SLA limit on one basis."""

    label: str
    median: float | None
    p75: float | None
    p90: float | None
    limit: float | None = None  # the SLA limit, in seconds on the same basis as the dwell
    limit_label: str = ""  # e.g. "SLA 5 business days"
    basis: str = ""  # e.g. "working time"


# ----------------------------------------------------------------- markup helpers


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _n(value: float) -> str:
    """A coordinate, short: 12, 12.5 (one decimal is finer than a screen pixel needs)."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _svg(width: float, height: float, label: str, kind: str, body: Iterable[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {kind}" role="img" '
        f'aria-label="{_esc(label)}" viewBox="0 0 {_n(width)} {_n(height)}" '
        f'width="{_n(width)}" height="{_n(height)}" font-family="{FONT}" font-size="12" '
        f'fill="{INK}"><title>{_esc(label)}</title>{"".join(body)}</svg>'
    )


def _text(x: float, y: float, content: str, anchor: str = "start", size: float | None = None,
          fill: str | None = None, bold: bool = False, cls: str | None = None) -> str:
    attrs = [f'x="{_n(x)}"', f'y="{_n(y)}"']
    if anchor != "start":
        attrs.append(f'text-anchor="{anchor}"')
    if size is not None:
        attrs.append(f'font-size="{_n(size)}"')
    if fill is not None:
        attrs.append(f'fill="{fill}"')
    if bold:
        attrs.append('font-weight="600"')
    if cls is not None:
        attrs.append(f'class="{cls}"')
    return f"<text {' '.join(attrs)}>{_esc(content)}</text>"


def _line(x1: float, y1: float, x2: float, y2: float, stroke: str, width: float = 1,
          dash: str | None = None, cls: str | None = None) -> str:
    extra = (f' stroke-dasharray="{dash}"' if dash else "") + (f' class="{cls}"' if cls else "")
    return (f'<line x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}" stroke="{stroke}" '
            f'stroke-width="{_n(width)}"{extra}/>')


def _rect(x: float, y: float, w: float, h: float, fill: str, stroke: str | None = None,
          rx: float = 0, cls: str | None = None, dash: str | None = None) -> str:
    extra = (f' stroke="{stroke}"' if stroke else "") + (f' rx="{_n(rx)}"' if rx else "")
    extra += (f' stroke-dasharray="{dash}"' if dash else "") + (f' class="{cls}"' if cls else "")
    return (f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(max(w, 0))}" height="{_n(max(h, 0))}" '
            f'fill="{fill}"{extra}/>')


def _clip(text: str, chars: int) -> str:
    """Shorten to ``chars`` characters with an ellipsis (SVG text does not wrap or clip)."""
    return text if len(text) <= chars else text[: max(chars - 1, 1)].rstrip() + "…"


def _wrap(text: str, chars: int, lines: int = 2) -> list[str]:
    """Greedy word wrap into at most ``lines`` lines, the last one clipped."""
    result: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if len(candidate) <= chars or not current:
            current = candidate
        else:
            result.append(current)
            current = word
    result.append(current)
    if len(result) > lines:
        result = [*result[: lines - 1], " ".join(result[lines - 1:])]
    return [_clip(line, chars) for line in result]


def _duration(seconds: float | None, lang: str = i18n.DEFAULT) -> str:
    return "—" if seconds is None else format_seconds(seconds, lang)


def _t(key: str, lang: str, **args: object) -> str:
    """The charts' text ``key`` in ``lang``."""
    return i18n.render(f"svg.{key}", args, lang)


def no_data(title: str, message: str | None = None, width: float = 360, height: float = 56,
            lang: str = i18n.DEFAULT) -> str:
    """A small placeholder chart saying there is nothing to draw."""
    message = _t("no-data", lang) if message is None else message
    body = [
        _rect(0.5, 0.5, width - 1, height - 1, "#fafafa", stroke=GRID, rx=4, cls="empty"),
        _text(width / 2, height / 2 + 4, message, anchor="middle", fill=MUTED),
    ]
    return _svg(width, height, f"{title}: {message}", "no-data", body)


# ----------------------------------------------------------------- scales


def _duration_scale(largest: float, ticks: int = 6) -> tuple[float, float]:
    """(axis maximum, tick step) in seconds for values up to ``largest``, at most ``ticks``."""
    largest = max(largest, _MINUTE)
    step = next((s for s in _DURATION_STEPS if largest / s <= ticks), None)
    if step is None:  # beyond years: plain multiples of a year
        step = math.ceil(largest / ticks / _DURATION_STEPS[-1]) * _DURATION_STEPS[-1]
    return math.ceil(largest / step) * step, step


def _count_scale(largest: int) -> tuple[int, int]:
    """(axis maximum, tick step) for counts up to ``largest``: steps of 1, 2 or 5 x 10^k."""
    largest = max(largest, 1)
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            step = factor * magnitude
            if largest / step <= 5:
                return math.ceil(largest / step) * step, step
        magnitude *= 10


def _duration_axis(x0: float, x1: float, top: float, bottom: float, axis_max: float,
                   step: float, lang: str = i18n.DEFAULT) -> list[str]:
    """Vertical grid lines with duration labels under them."""
    parts: list[str] = []
    ticks = round(axis_max / step)
    for i in range(ticks + 1):
        x = x0 + (x1 - x0) * i / ticks
        parts.append(_line(x, top, x, bottom, GRID))
        parts.append(_text(x, bottom + 14, format_seconds(i * step, lang), anchor="middle", size=10,
                           fill=MUTED))
    return parts


# ----------------------------------------------------------------- dwell against SLA

_DW_LEFT, _DW_LABEL, _DW_PLOT, _DW_VALUE, _DW_ROW, _DW_TOP = 12, 180, 420, 220, 38, 34


def dwell_chart(bars: Sequence[DwellBar], title: str = "Dwell per stage against SLA",
                lang: str = i18n.DEFAULT) -> str:
    """Horizontal bars of the median dwell per stage, p75-p90 whiskers, the SLA limit marked."""
    values = [v for b in bars for v in (b.median, b.p75, b.p90, b.limit) if v is not None]
    if not bars or not any(b.median is not None for b in bars):
        return no_data(title, lang=lang)
    axis_max, step = _duration_scale(max(values))
    x0 = _DW_LEFT + _DW_LABEL
    x1 = x0 + _DW_PLOT
    width = x1 + _DW_VALUE
    bottom = _DW_TOP + len(bars) * _DW_ROW
    height = bottom + 26

    def x(seconds: float) -> float:
        return x0 + (x1 - x0) * min(seconds, axis_max) / axis_max

    parts = _dwell_legend(x0, lang)
    parts += _duration_axis(x0, x1, _DW_TOP - 4, bottom, axis_max, step, lang)
    median = _t("median", lang)
    for i, bar in enumerate(bars):
        top = _DW_TOP + i * _DW_ROW
        mid = top + _DW_ROW / 2
        summary = (f"{bar.label}: {median} {_duration(bar.median, lang)}, "
                   f"p75 {_duration(bar.p75, lang)}, p90 {_duration(bar.p90, lang)}"
                   + (f", {bar.limit_label}" if bar.limit_label else "")
                   + (f" ({bar.basis})" if bar.basis else ""))
        row = [f"<title>{_esc(summary)}</title>",
               _text(x0 - 10, mid + 4, _clip(bar.label, 26), anchor="end")]
        if bar.median is None:
            row.append(_text(x0 + 6, mid + 4, _t("no-visits", lang), size=11, fill=MUTED))
        else:
            over = bar.limit is not None and bar.median > bar.limit
            p75 = bar.p75 if bar.p75 is not None else bar.median
            row.append(_rect(x0, mid - 7, x(bar.median) - x0, 14, OVER if over else BAR,
                             cls="bar median"))
            row.append(_rect(x(bar.median), mid - 4, x(p75) - x(bar.median), 8, BAND,
                             cls="bar p75-band"))
            row += _whisker(x(p75), x(bar.p90) if bar.p90 is not None else None, mid)
        if bar.limit is not None:
            row.append(_line(x(bar.limit), top + 3, x(bar.limit), top + _DW_ROW - 3, SLA, 2,
                             dash="4 3", cls="sla"))
        line1 = (f"{median} {_duration(bar.median, lang)} · p90 {_duration(bar.p90, lang)}"
                 if bar.median is not None else "")
        line2 = " · ".join(t for t in (bar.limit_label, bar.basis) if t)
        row.append(_text(x1 + 12, mid - 1, line1, size=11))
        # Cyrillic letters are wider than Latin ones: fewer fit the column (the tooltip has all).
        row.append(_text(x1 + 12, mid + 12, _clip(line2, 38 if lang == i18n.DEFAULT else 32),
                         size=10, fill=MUTED))
        parts.append(f'<g class="row">{"".join(row)}</g>')
    return _svg(width, height, title, "dwell", parts)


def _whisker(start: float, end: float | None, mid: float) -> list[str]:
    if end is None:
        return []
    return [_line(start, mid, end, mid, INK, 1.5, cls="whisker"),
            _line(start, mid - 5, start, mid + 5, INK, 1.5, cls="p75"),
            _line(end, mid - 5, end, mid + 5, INK, 1.5, cls="p90")]


def _dwell_legend(x0: float, lang: str = i18n.DEFAULT) -> list[str]:
    y = 14
    if lang != i18n.DEFAULT:
        return _dwell_legend_spaced(x0, y, lang)
    return [
        _rect(x0, y - 9, 18, 10, BAR), _text(x0 + 24, y, "median", size=11),
        _rect(x0 + 78, y - 7, 18, 6, BAND), _text(x0 + 102, y, "to p75", size=11),
        _line(x0 + 152, y - 4, x0 + 176, y - 4, INK, 1.5),
        _line(x0 + 152, y - 9, x0 + 152, y + 1, INK, 1.5),
        _line(x0 + 176, y - 9, x0 + 176, y + 1, INK, 1.5),
        _text(x0 + 182, y, "p75 to p90", size=11),
        _line(x0 + 258, y - 11, x0 + 258, y + 3, SLA, 2, dash="4 3"),
        _text(x0 + 265, y, "SLA limit", size=11),
        _rect(x0 + 330, y - 9, 18, 10, OVER), _text(x0 + 354, y, "median over the SLA", size=11),
    ]


def _dwell_legend_spaced(x0: float, y: float, lang: str) -> list[str]:
    """The legend with each item placed after the text before it (the English one is laid out
    by hand for its words)."""
    parts: list[str] = []
    x = x0
    for mark, key in (("bar", "median"), ("band", "to-p75"), ("whisker", "p75-p90"),
                      ("sla", "sla-limit"), ("over", "over-sla")):
        if mark == "bar":
            parts.append(_rect(x, y - 9, 18, 10, BAR))
        elif mark == "band":
            parts.append(_rect(x, y - 7, 18, 6, BAND))
        elif mark == "whisker":
            parts += [_line(x, y - 4, x + 18, y - 4, INK, 1.5), _line(x, y - 9, x, y + 1, INK, 1.5),
                      _line(x + 18, y - 9, x + 18, y + 1, INK, 1.5)]
        elif mark == "sla":
            parts.append(_line(x + 9, y - 11, x + 9, y + 3, SLA, 2, dash="4 3"))
        else:
            parts.append(_rect(x, y - 9, 18, 10, OVER))
        label = _t(key, lang)
        parts.append(_text(x + 24, y, label, size=11))
        x += 24 + len(label) * _CHAR_11 + 16
    return parts


#: The width of a character of 11px text, generously: where a label ends, for what follows.
_CHAR_11 = 6.6


# ----------------------------------------------------------------- distributions

_DI_LABEL, _DI_PLOT, _DI_ROW, _DI_TOP = 112, 200, 30, 30


def distribution_scale(quantiles: Iterable[Quantiles]) -> float | None:
    """The largest p90 (else median) among ``quantiles``: a shared axis for small multiples."""
    tops = [q.p90 if q.p90 is not None else q.median for q in quantiles if q.count]
    found = [t for t in tops if t is not None]
    return max(found) if found else None


def distribution_chart(title: str, series: Sequence[tuple[str, Quantiles]],
                       scale: float | None = None, lang: str = i18n.DEFAULT) -> str:
    """Box plots of one stage's durations: box from median to p75, whisker to p90, p80 tick."""
    if not any(q.count and q.median is not None for _, q in series):
        return no_data(title, width=380, lang=lang)
    largest = scale if scale is not None else distribution_scale(q for _, q in series)
    # Fewer ticks than the dwell chart: these charts are small and sit side by side.
    axis_max, step = _duration_scale(largest or 0, ticks=3)
    x0 = 12 + _DI_LABEL
    x1 = x0 + _DI_PLOT
    width = x1 + 64
    bottom = _DI_TOP + len(series) * _DI_ROW
    height = bottom + 24

    def x(seconds: float) -> float:
        return x0 + (x1 - x0) * min(seconds, axis_max) / axis_max

    parts = [_text(12, 16, _clip(title, 52), bold=True)]
    parts += _duration_axis(x0, x1, _DI_TOP - 4, bottom, axis_max, step, lang)
    for i, (name, q) in enumerate(series):
        mid = _DI_TOP + i * _DI_ROW + _DI_ROW / 2
        row = [_text(x0 - 8, mid + 4, _clip(name, 18), anchor="end", size=11)]
        if not q.count or q.median is None:
            row.append(_text(x0 + 6, mid + 4, _t("no-data", lang), size=11, fill=MUTED))
        else:
            row.append(f"<title>{_esc(_box_summary(title, name, q, lang))}</title>")
            p75 = q.p75 if q.p75 is not None else q.median
            if q.p90 is not None:
                row += _whisker(x(p75), x(q.p90), mid)
            row.append(_rect(x(q.median), mid - 8, x(p75) - x(q.median), 16, "#d6e8f5",
                             stroke=BAR, cls="box"))
            row.append(_line(x(q.median), mid - 9, x(q.median), mid + 9, BAR, 3, cls="median"))
            if q.p80 is not None:
                row.append(_line(x(q.p80), mid + 9, x(q.p80), mid + 13, OVER, 2, cls="p80"))
            row.append(_text(x1 + 8, mid + 4, f"n={q.count:,}", size=11, fill=MUTED))
        parts.append(f'<g class="row">{"".join(row)}</g>')
    return _svg(width, height, title, "distribution", parts)


def _box_summary(title: str, name: str, q: Quantiles, lang: str = i18n.DEFAULT) -> str:
    return _t("box", lang, title=title, name=name, values=f"{q.count:,}" if lang == i18n.DEFAULT
              else i18n.plural(q.count, "value", lang), median=_duration(q.median, lang),
              p75=_duration(q.p75, lang), p80=_duration(q.p80, lang), p90=_duration(q.p90, lang))


# ----------------------------------------------------------------- backtest timeline

_TL_LEFT, _TL_PLOT_W, _TL_PLOT_H, _TL_TOP, _TL_LEGEND_ITEM = 48, 700, 220, 12, 175


def _week_label(key: str, lang: str = i18n.DEFAULT) -> str:
    try:
        day = date.fromisoformat(key)
    except ValueError:
        return _clip(key, 8)
    if lang == i18n.DEFAULT:
        return f"{_MONTHS[day.month - 1]} {day.day}"
    return _t("week-label", lang, day=day.day, month=_t("months", lang).split("|")[day.month - 1])


def _weeks(by_week: Mapping[str, Mapping[str, int]]) -> list[str]:
    """The week keys in order, with the empty weeks between dated keys filled in."""
    keys = sorted(by_week)
    try:
        days = [date.fromisoformat(k) for k in keys]
    except ValueError:
        return keys
    # A week without alerts may be missing from the tally; leaving it out would hide a calm week.
    if days and all((d - days[0]).days % 7 == 0 for d in days):
        count = (days[-1] - days[0]).days // 7 + 1
        if count <= 520:
            return [(days[0] + timedelta(weeks=i)).isoformat() for i in range(count)]
    return keys


def _series(by_week: Mapping[str, Mapping[str, int]],
            order: Sequence[str] = ()) -> list[tuple[str, int, str]]:
    """(code, total, colour) in ``order``, then largest first; codes past the palette are
    folded into "other"."""
    totals: dict[str, int] = {}
    for counts in by_week.values():
        for code, n in counts.items():
            totals[code] = totals.get(code, 0) + n
    place = {code: i for i, code in enumerate(order)}
    ranked = sorted((c for c in totals if totals[c] > 0),
                    key=lambda c: (place.get(c, len(place)), -totals[c], c))
    if len(ranked) <= len(PALETTE):
        return [(c, totals[c], PALETTE[i]) for i, c in enumerate(ranked)]
    kept = ranked[: len(PALETTE) - 1]
    rest = sum(totals[c] for c in ranked[len(kept):])
    return [*((c, totals[c], PALETTE[i]) for i, c in enumerate(kept)), ("other", rest,
                                                                          OTHER_COLOUR)]


def timeline_peak(by_week: Mapping[str, Mapping[str, int]]) -> int:
    """The most alerts in one week: a shared axis when two timelines are compared."""
    return max((sum(counts.values()) for counts in by_week.values()), default=0)


def timeline_chart(by_week: Mapping[str, Mapping[str, int]],
                   title: str = "Alerts per week by code", scale: int | None = None,
                   order: Sequence[str] = (), lang: str = i18n.DEFAULT) -> str:
    """Stacked bars of alerts per week (keys are the weeks' Mondays), one colour per code.

    ``scale`` and ``order`` (codes, bottom of the stack first) let two timelines share an axis
    and their colours.
    """
    series = _series(by_week, order)
    if not series:
        return no_data(title, _t("no-alerts", lang), width=420, lang=lang)
    weeks = _weeks(by_week)
    named = {code for code, _, _ in series if code != "other"}

    def stack(week: str) -> list[tuple[str, int, str]]:
        counts = by_week.get(week, {})
        other = sum(n for c, n in counts.items() if c not in named)
        return [(c, other if c == "other" else counts.get(c, 0), colour)
                for c, _, colour in series]

    axis_max, step = _count_scale(max(scale or 0, timeline_peak(by_week)))
    x0, bottom = _TL_LEFT, _TL_TOP + _TL_PLOT_H
    slot = _TL_PLOT_W / len(weeks)
    bar_w = min(slot * 0.7, 44)
    per_row = max(_TL_PLOT_W // _TL_LEGEND_ITEM, 1)
    legend_top = bottom + 54
    height = legend_top + math.ceil(len(series) / per_row) * 20 + 6
    width = x0 + _TL_PLOT_W + 12

    parts: list[str] = []
    for i in range(axis_max // step + 1):
        y = bottom - _TL_PLOT_H * i * step / axis_max
        parts.append(_line(x0, y, x0 + _TL_PLOT_W, y, GRID))
        parts.append(_text(x0 - 6, y + 4, f"{i * step:,}", anchor="end", size=10, fill=MUTED))
    label_every = math.ceil(len(weeks) / 14)  # about fourteen labels fit under the axis
    for i, week in enumerate(weeks):
        cx = x0 + slot * (i + 0.5)
        y = bottom
        for code, n, colour in stack(week):
            if n <= 0:
                continue
            h = _TL_PLOT_H * n / axis_max
            y -= h
            tip = _t("segment", lang, week=week, code=_t("other", lang) if code == "other"
                     else code, n=f"{n:,}")
            parts.append(f'<g class="segment"><title>{_esc(tip)}'
                         f"</title>{_rect(cx - bar_w / 2, y, bar_w, h, colour)}</g>")
        if i % label_every == 0:
            parts.append(_text(cx, bottom + 16, _week_label(week, lang), anchor="middle", size=10,
                               fill=MUTED))
    parts.append(_line(x0, bottom, x0 + _TL_PLOT_W, bottom, INK))
    parts.append(_text(x0 + _TL_PLOT_W / 2, bottom + 32, _t("week-starting", lang), anchor="middle",
                       size=10, fill=MUTED))
    for i, (code, total, colour) in enumerate(series):
        lx = x0 + (i % per_row) * _TL_LEGEND_ITEM
        ly = legend_top + (i // per_row) * 20
        parts.append(f'<g class="legend">{_rect(lx, ly - 10, 12, 12, colour)}'
                     f"{_text(lx + 18, ly, _clip(_legend_item(code, total, lang), 26), size=11)}"
                     "</g>")
    return _svg(width, height, title, "timeline", parts)


def _legend_item(code: str, total: int, lang: str) -> str:
    """A code and its count under the timeline ("other" said in ``lang``)."""
    return f"{_t('other', lang) if code == 'other' else code} ({total:,})"


# ----------------------------------------------------------------- pipeline diagram

_BOX_W, _BOX_H, _COL_GAP, _MARGIN, _START_BAND = 132, 54, 36, 14, 52
_LANE_FIRST, _LANE_STEP = 16, 12

Point = tuple[float, float]


@dataclass(frozen=True)
class _Box:
    x: float
    y: float
    row: int
    col: int

    @property
    def cx(self) -> float:
        return self.x + _BOX_W / 2

    @property
    def cy(self) -> float:
        return self.y + _BOX_H / 2


def pipeline_diagram(compiled: CompiledRuleset, title: str | None = None,
                     lang: str = i18n.DEFAULT) -> str:
    """The pipeline: open stages left to right in declared order, ends on the right."""
    graph = compiled.graph
    label = title or _t("pipeline-of", lang, name=compiled.ruleset.title or compiled.ruleset.id)
    if not graph.order:
        return no_data(label, _t("no-stages", lang), lang=lang)
    open_stages = [s for s in graph.order if graph.is_open(s)]
    won = [s for s in graph.order if s in graph.won]
    lost = [s for s in graph.order if s in graph.lost]
    end_col = len(open_stages)
    cells: dict[str, tuple[int, int]] = {s: (0, i) for i, s in enumerate(open_stages)}
    cells |= {s: (r, end_col) for r, s in enumerate(won)}
    first_lost = max(1, len(won))
    cells |= {s: (first_lost + r, end_col) for r, s in enumerate(lost)}

    plain = list(dict.fromkeys((m.source, m.target) for m in compiled.moves
                               if not m.definition.any_source))
    any_targets = list(dict.fromkeys(m.target for m in compiled.moves if m.definition.any_source))
    # Every move that is not a straight step to the neighbour runs in its own lane under the
    # main row, shortest spans nearest, so no two long moves share a horizontal segment.
    laned = sorted((e for e in plain if not _straight(cells, *e, end_col)),
                   key=lambda e: (abs(cells[e[1]][1] - cells[e[0]][1]), cells[e[0]][1]))
    lane = {edge: i for i, edge in enumerate(laned)}
    row_gap = max(44, _LANE_FIRST + _LANE_STEP * len(laned) + 16)
    top = _MARGIN + (_START_BAND if compiled.starts else 0)
    boxes = {s: _Box(_MARGIN + c * (_BOX_W + _COL_GAP), top + r * (_BOX_H + row_gap), r, c)
             for s, (r, c) in cells.items()}
    rows = max(r for r, _ in cells.values()) + 1
    any_row = first_lost if lost else 1
    if any_targets and open_stages:
        rows = max(rows, any_row + 1)
    width = _MARGIN * 2 + (end_col + 1) * _BOX_W + end_col * _COL_GAP
    height = top + rows * _BOX_H + (rows - 1) * row_gap + _MARGIN + 18
    geometry = _Geometry(boxes, top, _BOX_H + row_gap, end_col)

    stages = {s.id: s for s in compiled.ruleset.stages}
    titles = {s: (stages[s].title or s) if s in stages else s for s in graph.order}
    parts: list[str] = []
    parts += _start_markers(compiled, boxes, top, lang)
    for (source, target), path in ((e, geometry.route(*e, lane.get(e, 0))) for e in plain):
        parts.append(_arrow(path, f"{titles[source]} → {titles[target]}"
                            + _guards(compiled, source, target)))
    if any_targets and open_stages:
        parts += _any_box(geometry, any_row, any_targets, titles, lang)
    for stage, box in boxes.items():
        role = ("won" if stage in graph.won else "lost" if stage in graph.lost
                else "start" if stage in graph.starts else "open")
        parts.append(_stage_box(box, stage, titles[stage], role, lang))
    parts.append(_text(_MARGIN, height - 8, _t("hover", lang), size=10, fill=MUTED))
    return _svg(width, height, label, "pipeline", parts)


def _straight(cells: Mapping[str, tuple[int, int]], source: str, target: str,
              end_col: int) -> bool:
    """Whether a move is a step to the next box on the main row (drawn as a short arrow)."""
    (sr, sc), (tr, tc) = cells[source], cells[target]
    return sr == 0 and tr == 0 and tc == sc + 1 and (tc < end_col or sc == end_col - 1)


@dataclass(frozen=True)
class _Geometry:
    boxes: Mapping[str, _Box]
    top: float  # y of the main row
    pitch: float  # from one row's top to the next one's
    end_col: int

    def row_y(self, row: int) -> float:
        """y of the top of the boxes in ``row``."""
        return self.top + row * self.pitch

    @property
    def ends_x(self) -> float:
        """x of the left side of the column of ends."""
        return _MARGIN + self.end_col * (_BOX_W + _COL_GAP)

    def channel(self, lane: int | None = None) -> float:
        """x of a vertical run in the gap left of the ends: the "any" box's, or a lane's own.

        Lanes get runs of their own (three, then reused) so two moves into different ends can
        be told apart where they turn.
        """
        return self.ends_x - (30 if lane is None else 12 + 6 * (lane % 3))

    def lane_y(self, lane: int) -> float:
        return self.top + _BOX_H + _LANE_FIRST + _LANE_STEP * lane

    def route(self, source: str, target: str, lane: int) -> list[Point]:
        """An orthogonal path: straight to a neighbour, else down into a lane and across."""
        s, t = self.boxes[source], self.boxes[target]
        s_end, t_end = s.col == self.end_col, t.col == self.end_col
        if s.row == 0 and t.row == 0 and t.col == s.col + 1:
            return [(s.x + _BOX_W, s.cy), (t.x, t.cy)]
        y = self.lane_y(lane)
        # Leaving ports sit right of the centre and arriving ports left of it, so a box's
        # way in and way out never overlap.
        if not s_end and not t_end:
            return [(s.cx + 14, s.y + _BOX_H), (s.cx + 14, y), (t.cx - 14, y),
                    (t.cx - 14, t.y + _BOX_H)]
        if not s_end:
            # Below the middle: the straight arrow from the last open stage and the one from
            # the "any open stage" box arrive at the middle.
            run = self.channel(lane)
            return [(s.cx + 14, s.y + _BOX_H), (s.cx + 14, y), (run, y), (run, t.cy + 10),
                    (t.x, t.cy + 10)]
        back = self.ends_x - 4
        if not t_end:
            return [(s.x, s.cy), (back, s.cy), (back, y), (t.cx - 14, y),
                    (t.cx - 14, t.y + _BOX_H)]
        return [(s.x, s.cy), (back, s.cy), (back, t.cy), (t.x, t.cy)]


def _arrow(points: Sequence[Point], tip: str, cls: str = "move", dash: str | None = None) -> str:
    """A polyline with an arrowhead drawn as a polygon (no <marker>: ids would clash in a page)."""
    (ax, ay), (bx, by) = points[-2], points[-1]
    length = math.hypot(bx - ax, by - ay) or 1.0
    dx, dy = (bx - ax) / length, (by - ay) / length
    base_x, base_y = bx - 9 * dx, by - 9 * dy
    head = (f"{_n(bx)},{_n(by)} {_n(base_x - 4.5 * dy)},{_n(base_y + 4.5 * dx)} "
            f"{_n(base_x + 4.5 * dy)},{_n(base_y - 4.5 * dx)}")
    d = "M" + " L".join(f"{_n(px)},{_n(py)}" for px, py in points)
    dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
    tooltip = f"<title>{_esc(tip)}</title>" if tip else ""
    return (f'<g class="{cls}">{tooltip}'
            f'<path d="{d}" fill="none" stroke="#4b5563" stroke-width="1.5"{dash_attr}/>'
            f'<polygon points="{head}" fill="#4b5563"/></g>')


def _guards(compiled: CompiledRuleset, source: str, target: str) -> str:
    """The guards of a declared move, in the YAML's words, for its tooltip."""
    parts: list[str] = []
    for move in compiled.moves:
        if move.source == source and move.target == target:
            if move.require:
                parts.append("require " + ", ".join(move.require))
            parts += ["when " + c.describe() for c in move.when]
            parts += ["unless " + c.describe() for c in move.unless]
    return f" ({'; '.join(parts)})" if parts else ""


def _start_markers(compiled: CompiledRuleset, boxes: Mapping[str, _Box], top: float,
                   lang: str = i18n.DEFAULT) -> list[str]:
    """A filled dot with the start definitions' names above each start stage on the main row."""
    by_stage: dict[str, list[str]] = {}
    tips: dict[str, list[str]] = {}
    for start in compiled.starts:
        by_stage.setdefault(start.stage, []).append(start.id)
        tips.setdefault(start.stage, []).append(
            _t("start-tip", lang, id=start.id) + (": " + ", ".join(c.describe() for c in start.when)
                                   if start.when else ""))
    parts: list[str] = []
    for stage, names in by_stage.items():
        box = boxes.get(stage)
        if box is None or box.row != 0:
            continue
        dot_y = top - _START_BAND + 26
        parts.append(
            f'<g class="start"><title>{_esc("; ".join(tips[stage]))}</title>'
            + _text(box.cx, top - _START_BAND + 12,
                    _clip(_t("start", lang, names=", ".join(names)), 24),
                    anchor="middle", size=11, fill="#1d4ed8")
            + f'<circle cx="{_n(box.cx)}" cy="{_n(dot_y)}" r="5" fill="#1d4ed8"/>'
            + _arrow([(box.cx, dot_y + 5), (box.cx, top)], "", cls="entry")
            + "</g>")
    return parts


_STYLES = {  # fill, stroke, corner radius: ends are pills, coloured and labelled apart
    "open": ("#f4f6fb", "#64748b", 6),
    "start": ("#e8f0fe", "#1d4ed8", 6),
    "won": ("#e6f4ea", "#2e7d32", 24),
    "lost": ("#fdecea", "#c62828", 24),
}


def _stage_box(box: _Box, stage: str, title: str, role: str, lang: str = i18n.DEFAULT) -> str:
    fill, stroke, radius = _STYLES[role]
    lines = _wrap(title, 15)
    caption = stage if role in ("open", stage) else f"{stage} · {_t(f'role.{role}', lang)}"
    first = box.cy - (len(lines) - 1) * 7 - 2
    texts = [_text(box.cx, first + i * 14, line, anchor="middle", bold=True)
             for i, line in enumerate(lines)]
    texts.append(_text(box.cx, box.y + _BOX_H - 8, _clip(caption, 22), anchor="middle",
                       size=10, fill=MUTED))
    width = 2.5 if role != "open" else 1.5
    return (f'<g class="stage {role}"><title>{_esc(f"{title} ({caption})")}</title>'
            f'<rect x="{_n(box.x)}" y="{_n(box.y)}" width="{_BOX_W}" height="{_BOX_H}" '
            f'rx="{radius}" fill="{fill}" stroke="{stroke}" stroke-width="{width}"/>'
            f'{"".join(texts)}</g>')


def _any_box(geometry: _Geometry, row: int, targets: Sequence[str],
             titles: Mapping[str, str], lang: str = i18n.DEFAULT) -> list[str]:
    """One dashed box under the open stages standing for ``from: "*"``, with its moves."""
    x = _MARGIN
    right = geometry.ends_x - _COL_GAP
    y = geometry.row_y(row)
    cy = y + _BOX_H / 2
    anywhere = _t("any", lang)
    parts = [f'<g class="any"><title>{_t("any-tip", lang, any=_esc(anywhere))}</title>'
             + _rect(x, y, right - x, _BOX_H, "#ffffff", stroke="#64748b", rx=6, dash="6 4")
             + _text((x + right) / 2, cy + 4, anywhere, anchor="middle", fill=MUTED) + "</g>"]
    for target in targets:
        box = geometry.boxes[target]
        if box.col == geometry.end_col:
            run = geometry.channel()
            path: list[Point] = ([(right, cy), (box.x, box.cy)] if abs(box.cy - cy) < 1 else
                                 [(right, cy), (run, cy), (run, box.cy), (box.x, box.cy)])
        else:
            path = [(box.cx, y), (box.cx, box.y + _BOX_H)]
        parts.append(_arrow(path, f"{anywhere} → {titles[target]}", dash="5 3"))
    return parts
