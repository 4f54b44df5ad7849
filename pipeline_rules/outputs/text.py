"""Analysis and backtest reports as text tables for a terminal, the words in a language."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from pipeline_rules import i18n
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


def duration(seconds: float | None, lang: str = i18n.DEFAULT) -> str:
    """Seconds as a readable duration, or a dash."""
    return "—" if seconds is None else format_seconds(seconds, lang)


def spread(q: Quantiles | None, show: Callable[[float | None], str] | None = None,
           lang: str = i18n.DEFAULT) -> str:
    """median / p75 / p90 of a distribution (each shown by ``show``, default a duration)."""
    if q is None or not q.count:
        return "—"
    shown = show or (lambda seconds: duration(seconds, lang))
    return f"{shown(q.median)} / {shown(q.p75)} / {shown(q.p90)}"


def count(n: int, noun: str, lang: str = i18n.DEFAULT) -> str:
    """``n`` and its noun, singular for one ("1 deal", "2 deals"); ``noun`` is the English
    singular, its catalog key with dashes for spaces."""
    if lang == i18n.DEFAULT:
        return f"{n:,} {noun}{'' if n == 1 else 's'}"
    return i18n.plural(n, noun.replace(" ", "-"), lang)


def number(n: int, lang: str = i18n.DEFAULT) -> str:
    """A count with its thousands grouped as ``lang`` writes them."""
    return f"{n:,}" if lang == i18n.DEFAULT else f"{n:,}".replace(",", "\u00a0")


def share(part: int, whole: int) -> str:
    """A share as a whole percentage."""
    return f"{part / whole:.0%}" if whole else "—"


def when(text: str, lang: str = i18n.DEFAULT) -> str:
    """An ISO 8601 time of a report as shown: as it is in English, with a space for the ``T``
    in other languages."""
    return text if lang == i18n.DEFAULT else text.replace("T", " ")


def _word(key: str, lang: str, **args: object) -> str:
    return i18n.render(f"report.{key}", args, lang)


def _groups(groups: Sequence[GroupStats], label: str, lang: str) -> str:
    def n(value: int) -> str:
        return number(value, lang)

    rows = [[g.key, n(g.deals), n(g.won), n(g.lost), n(g.open),
             "—" if g.win_rate is None else f"{g.win_rate:.0%}", spread(g.cycle_won, lang=lang)]
            for g in groups]
    return table([label, *(_word(f"h.{h}", lang) for h in ("deals", "won", "lost", "open",
                                                           "win-rate", "cycle"))], rows,
                 [False, True, True, True, True, True, False])


def render_report(report: Report, lang: str = i18n.DEFAULT) -> str:
    """The analysis as text, its words in ``lang``."""
    def n(value: int) -> str:
        return number(value, lang)

    calendar = _word("calendar", lang, name=report.calendar) if report.calendar else ""
    out = [_word("title", lang, ruleset=report.ruleset, title=report.title,
                 deals=count(report.deals, "deal", lang),
                 bad=count(report.bad_records, "bad record", lang), now=when(report.now, lang),
                 calendar=calendar), "", _word("stages", lang)]
    rows = []
    for s in report.stages:
        left = s.moved_on + s.went_back + s.lost
        working = partial(s.working, lang=lang)
        rows.append([s.stage, n(s.entered), share(s.moved_on, left), share(s.went_back, left),
                     share(s.lost, left), n(s.still_there), spread(s.dwell_wall, lang=lang),
                     spread(s.dwell_working, working),
                     _limit(s.sla_limit, lang) or "—",
                     "—" if s.breach_share is None else f"{s.breach_share:.0%}",
                     s.suggested_limit or "—"])
    out.append(table([_word(f"h.{h}", lang) for h in (
        "stage", "entered", "on", "back", "lost", "still", "dwell-wall", "dwell-working", "sla",
        "over-sla", "suggested")], rows,
        [False, True, True, True, True, True, False, False, False, True, False]))
    out += ["", _word("stalls", lang)]
    for stall in report.stalls:
        out.append(f"{stall.rank:>3}. " + _word("stall", lang, stage=stall.stage,
                                               score=f"{stall.score:g}",
                                               reasons="; ".join(stall.reasons)))
    out += ["", _word("by-start", lang), _groups(report.by_start, _word("h.start", lang), lang)]
    if report.cycle_limit is not None:
        closed = sum(g.cycle_closed.count for g in report.by_start)
        out.append(_word("cycle-limit", lang, limit=report.cycle_limit,
                         closed=count(closed, "closed cycle", lang)))
    owners = report.by_owner[:OWNERS_SHOWN]
    more = len(report.by_owner) - len(owners)
    top = _word("top", lang, shown=OWNERS_SHOWN, total=n(len(report.by_owner))) if more else ""
    out += ["", _word("by-owner", lang) + top, _groups(owners, _word("h.owner", lang), lang)]
    if report.by is not None:
        shown = report.by_field[:OWNERS_SHOWN]
        extra = len(report.by_field) - len(shown)
        top = _word("top", lang, shown=OWNERS_SHOWN, total=n(len(report.by_field))) \
            if extra else ""
        out += ["", _word("by-field", lang, field=report.by) + top,
                _groups(shown, report.by, lang)]
    if report.by_month:
        out += ["", _word("by-month", lang),
                _groups(report.by_month, _word("h.started", lang), lang)]
    if report.split is not None:
        out += ["", *split_lines(report.split, lang)]
    out += ["", _word("notes", lang), *[f"- {note}" for note in report.notes]]
    return "\n".join(out) + "\n"


def _limit(text: str | None, lang: str) -> str | None:
    """An SLA limit as the ruleset writes it, in words of ``lang`` outside English."""
    if text is None or lang == i18n.DEFAULT:
        return text
    from pipeline_rules.time.durations import DurationError, parse_duration, spoken

    try:
        return spoken(parse_duration(text), lang)
    except DurationError:
        return text


def split_lines(split: Split, lang: str = i18n.DEFAULT) -> list[str]:
    """analyze --split as text: the verdict, the two sides, the stages."""
    before, after = split.before, split.after

    def rate(value: float | None) -> str:
        return "—" if value is None else f"{value:.0%}"

    def n(value: int) -> str:
        return number(value, lang)

    out = [_word("split", lang, at=when(split.at, lang)),
           *[f"  {line}" for line in split.verdict],
           table(["", *(_word(f"h.{h}", lang) for h in ("deals", "closed", "won", "win-rate",
                                                        "median-cycle"))],
                 [[_word("before", lang), n(before.deals), n(before.closed), n(before.won),
                   rate(before.win_rate), duration(before.cycle_median, lang)],
                  [_word("after", lang), n(after.deals), n(after.closed), n(after.won),
                   rate(after.win_rate), duration(after.cycle_median, lang)]],
                 [False, True, True, True, True, True])]
    if split.stages:
        out += ["", table([_word("h.stage", lang), _word("h.dwell-before", lang),
                           _word("after", lang), _word("h.over-before", lang),
                           _word("after", lang)],
                          [[s.stage, duration(s.dwell_before, lang),
                            duration(s.dwell_after, lang),
                            rate(s.over_sla_before), rate(s.over_sla_after)]
                           for s in split.stages], [False, True, True, True, True])]
    out.append(_word("split-note", lang, resamples=n(split.resamples), seed=split.seed))
    return out


def _tally(tally: Tally, title: str, lang: str) -> list[str]:
    codes = list(tally.by_code)
    out = [_word("tally", lang, title=title, alerts=count(tally.total, "alert", lang)),
           table([_word("h.code", lang), _word("h.alerts", lang)],
                 [[c, number(n, lang)] for c, n in tally.by_code.items()], [False, True])]
    for name, groups in (("stage", tally.by_stage), ("owner", tally.by_owner),
                         ("week", tally.by_week)):
        rows = [[key, *(number(counts.get(c, 0), lang) for c in codes)]
                for key, counts in groups.items()]
        out += ["", table([_word(f"h.{name}", lang), *codes], rows,
                          [False, *([True] * len(codes))])]
    return out


def _backlog(backlog: dict[str, int], name: str, lang: str) -> str:
    """The alerts already open at the start, apart from the period's."""
    total = sum(backlog.values())
    parts = ", ".join(f"{code} {number(n, lang)}" for code, n in backlog.items())
    return _word("backlog", lang, name=name, alerts=count(total, "alert", lang),
                 parts=": " + parts if parts else "")


def render_backtest(backtest: Backtest, lang: str = i18n.DEFAULT) -> str:
    """The backtest as text, its words in ``lang``."""
    out = [_word("backtest", lang, ruleset=backtest.ruleset, title=backtest.title,
                 start=when(backtest.start, lang), end=when(backtest.end, lang),
                 every=backtest.every, points=count(backtest.points, "evaluation point", lang),
                 deals=count(backtest.deals, "deal", lang),
                 bad=count(backtest.bad_records, "bad record", lang)), ""]
    out += _tally(backtest.tally, backtest.ruleset, lang)
    out += ["", _backlog(backtest.backlog, backtest.ruleset, lang)]
    if backtest.compare_tally is not None:
        compared = backtest.compare_ruleset or _word("compared", lang)
        out += ["", *_tally(backtest.compare_tally, compared, lang),
                "", _backlog(backtest.compare_backlog or {}, compared, lang)]
        rows = [[c.code, c.rule or "—", f"+{number(c.added, lang)}",
                 f"-{number(c.removed, lang)}",
                 "; ".join(c.examples_added or c.examples_removed)] for c in backtest.changes]
        out += ["", _word("changes", lang, other=backtest.compare_ruleset,
                          ruleset=backtest.ruleset),
                table([_word(f"h.{h}", lang) for h in ("code", "rule", "added", "removed",
                                                       "example")], rows,
                      [False, False, True, True, False]) if rows else _word("no-change", lang)]
        added = sum(c.added for c in backtest.changes)
        removed = sum(c.removed for c in backtest.changes)
        net = f"{backtest.net:+,}" if lang == i18n.DEFAULT \
            else f"{backtest.net:+,}".replace(",", "\u00a0")
        out.append(_word("net", lang, net=net, added=number(added, lang),
                         removed=number(removed, lang)))
    out += ["", _word("notes", lang), *[f"- {note}" for note in backtest.notes]]
    return "\n".join(out) + "\n"
