"""The HTML report: its markup as text, and the page as a real browser draws it.

The reports here are built by hand (realistic figures for the b2b_sales stages) so the page is
tested apart from the analysis that fills them. The browser test opens the page in headless
Chromium and checks what a reader would notice: errors in the console, requests to the network
(the page must work offline), charts that do not draw, labels cut off at a chart's edge.
"""

from __future__ import annotations

import re
import shutil
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from helpers import ROOT

from pipeline_rules.analytics.report import (
    Backtest,
    Change,
    GroupStats,
    Quantiles,
    Report,
    StageStats,
    Stall,
    Tally,
)
from pipeline_rules.outputs import svg
from pipeline_rules.outputs.html import render_html
from pipeline_rules.ruleset.catalog import compile_path
from pipeline_rules.ruleset.compiled import CompiledRuleset

B2B = ROOT / "rulesets" / "b2b_sales.yaml"
HOSTILE = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
# Would fetch "x" if it were ever written out unescaped: the browser test sees that request.
HOSTILE_TITLE = 'B2B sales <img src="x" onerror="alert(2)">'
H, D = 3600.0, 86400.0


# ----------------------------------------------------------------- fixtures


def q(count: int, median: float, p75: float, p80: float, p90: float) -> Quantiles:
    return Quantiles(count, median, p75, p80, p90)


def stages(meeting_title: str = "Встреча назначена") -> tuple[StageStats, ...]:
    return (
        StageStats("find_dm", "Поиск ЛПР", 412, 168, 0, 214, 30,
                   q(382, 3.2 * D, 6.5 * D, 8 * D, 12.4 * D), q(382, 9.5 * H, 20 * H, 25 * H,
                                                                 38 * H),
                   q(30, 5 * D, 11 * D, 14 * D, 23 * D),
                   suggested_limit="8d", suggested_seconds=8 * D, suggested_basis="wall"),
        StageStats("request", "Заявка получена", 1598, 1489, 0, 77, 32,
                   q(1566, 3.5 * H, 19 * H, 1.1 * D, 2.3 * D), q(1566, 2 * H, 5 * H, 6 * H, 9 * H),
                   q(32, 6 * H, D, 1.2 * D, 2 * D),
                   suggested_limit="1d", suggested_seconds=D, suggested_basis="wall"),
        StageStats("qualification", "Выявление потребностей", 1671, 1402, 12, 198, 59,
                   q(1612, 2.1 * D, 4.8 * D, 6 * D, 9.5 * D),
                   q(1612, 7 * H, 15 * H, 18 * H, 28 * H),
                   q(59, 3 * D, 6 * D, 8 * D, 12 * D),
                   suggested_limit="6d", suggested_seconds=6 * D, suggested_basis="wall"),
        StageStats("meeting", meeting_title, 1410, 1331, 14, 41, 24,
                   q(1386, 4.5 * D, 7.9 * D, 9 * D, 13.2 * D), q(1386, 13 * H, 24 * H, 27 * H,
                                                                 40 * H),
                   q(24, 6 * D, 12 * D, 15 * D, 31 * D),
                   sla_id="meeting-stall", sla_limit="7d", breached=358, breach_share=0.254,
                   suggested_limit="9d", suggested_seconds=9 * D, suggested_basis="wall"),
        StageStats("proposal", "Выставлено КП", 1331, 1203, 9, 88, 31,
                   q(1300, 5.2 * D, 9 * D, 10.5 * D, 16 * D), q(1300, 26 * H, 44 * H, 52 * H,
                                                                70 * H),
                   q(31, 4 * D, 8 * D, 9 * D, 14 * D),
                   sla_id="proposal-decision", sla_limit="5 business days", breached=286,
                   breach_share=0.215, suggested_limit="7 business days",
                   suggested_seconds=56 * H, suggested_basis="working"),
        StageStats("invoice", "Выставлен счет", 1203, 1171, 0, 18, 14,
                   q(1189, 6 * D, 11 * D, 13 * D, 19 * D), q(1189, 30 * H, 58 * H, 66 * H, 90 * H),
                   q(14, 5 * D, 9 * D, 10 * D, 17 * D),
                   sla_id="invoice-payment", sla_limit="10 business days", breached=128,
                   breach_share=0.108, suggested_limit="9 business days",
                   suggested_seconds=72 * H, suggested_basis="working"),
        StageStats("paid", "Оплачено", 1171, 0, 0, 0, 0, Quantiles(), Quantiles(), Quantiles()),
        StageStats("lost", "Отказ", 636, 0, 0, 0, 0, Quantiles(), Quantiles(), Quantiles()),
    )


def report(meeting_title: str = "Встреча назначена", owner: str = "Олег Кузнецов",
           title: str = "B2B sales cycle") -> Report:
    return Report(
        ruleset="b2b-sales", title=title, now="2026-09-01T09:00:00+03:00",
        calendar="workdays", deals=2010, bad_records=3,
        stages=stages(meeting_title),
        stalls=(
            Stall("meeting", 1, 0.74, ("25.4% of visits went over the 7d SLA",
                                       "p90 dwell 13d5h is 1.9 times the limit",
                                       "24 deals still there, the oldest for 31d")),
            Stall("proposal", 2, 0.61, ("21.5% of visits went over the 5 business days SLA",)),
            Stall("find_dm", 3, 0.48, ("56.0% of the deals that left were lost",)),
        ),
        by_start=(
            GroupStats("cold", 412, 61, 280, 71, 0.179, q(61, 38 * D, 47 * D, 51 * D, 60 * D),
                       q(341, 21 * D, 33 * D, 36 * D, 48 * D)),
            GroupStats("inbound", 1598, 1110, 356, 132, 0.757,
                       q(1110, 19 * D, 26 * D, 29 * D, 37 * D),
                       q(1466, 16 * D, 24 * D, 27 * D, 35 * D)),
        ),
        by_owner=(
            GroupStats("Anna Petrova", 820, 512, 240, 68, 0.681,
                       q(512, 22 * D, 30 * D, 33 * D, 41 * D), q(752, 18 * D, 27 * D, 30 * D,
                                                                 39 * D)),
            GroupStats("Ivan Sidorov", 690, 401, 231, 58, 0.634,
                       q(401, 24 * D, 32 * D, 35 * D, 44 * D), q(632, 19 * D, 28 * D, 31 * D,
                                                                 41 * D)),
            GroupStats(owner, 500, 258, 165, 77, 0.61, q(258, 25 * D, 33 * D, 36 * D, 46 * D),
                       q(423, 20 * D, 29 * D, 32 * D, 42 * D)),
        ),
        notes=("3 records could not be read and were skipped",),
    )


WEEKS = [f"2026-{m:02d}-{d:02d}" for m, d in ((6, 1), (6, 8), (6, 15), (6, 22), (6, 29), (7, 6),
                                            (7, 13), (7, 20), (7, 27), (8, 3), (8, 10), (8, 17))]
WEEKLY = {
    "sla-warning": [18, 22, 25, 21, 19, 24, 27, 23, 20, 26, 22, 19],
    "sla-breach": [9, 11, 14, 12, 10, 13, 15, 12, 11, 14, 12, 10],
    "no-next-task": [7, 8, 6, 9, 7, 8, 10, 7, 6, 9, 8, 7],
    "task-overdue": [5, 6, 7, 5, 6, 8, 6, 5, 7, 6, 5, 6],
    "cycle-breach": [1, 2, 2, 1, 3, 2, 2, 1, 2, 3, 2, 1],
    "illegal-transition": [0, 1, 0, 0, 2, 0, 1, 0, 0, 1, 0, 0],
}


def tally(scale: dict[str, float] | None = None, owner: str = "Олег Кузнецов") -> Tally:
    factor = scale or {}
    weekly = {c: [round(n * factor.get(c, 1.0)) for n in ns] for c, ns in WEEKLY.items()}
    by_week = {w: {c: ns[i] for c, ns in weekly.items() if ns[i]} for i, w in enumerate(WEEKS)}
    by_code = {c: sum(ns) for c, ns in weekly.items()}
    return Tally(
        by_code=by_code,
        by_stage={
            "meeting": {"sla-warning": by_code["sla-warning"] // 2,
                        "sla-breach": by_code["sla-breach"] // 2, "no-next-task": 31},
            "proposal": {"sla-warning": by_code["sla-warning"] // 3,
                         "sla-breach": by_code["sla-breach"] // 3, "task-overdue": 40},
            "invoice": {"sla-breach": by_code["sla-breach"] // 6, "task-overdue": 24},
            "qualification": {"no-next-task": 29, "illegal-transition": 5},
        },
        by_owner={
            "Anna Petrova": {"sla-warning": 101, "sla-breach": 52, "no-next-task": 36},
            "Ivan Sidorov": {"sla-warning": 92, "sla-breach": 48, "task-overdue": 30},
            owner: {"sla-warning": 73, "sla-breach": 43, "cycle-breach": 22},
        },
        by_week=by_week,
    )


def backtest(owner: str = "Олег Кузнецов", title: str = "B2B sales cycle") -> Backtest:
    return Backtest(
        ruleset="b2b-sales", title=title, start="2026-06-01T00:00:00+03:00",
        end="2026-08-24T00:00:00+03:00", every="1d", points=84, deals=2010, bad_records=3,
        tally=tally(owner=owner), compare_ruleset="b2b-sales-strict",
        compare_tally=tally({"sla-breach": 1.4, "sla-warning": 0.85}, owner=owner),
        changes=(
            Change("sla-breach", "meeting-stall", 58, 0,
                   examples_added=("deal D-1017 at 2026-06-03 12:00",
                                   "deal D-1102 at 2026-06-11 09:15")),
            Change("sla-warning", "proposal-decision", 0, 41,
                   examples_removed=("deal D-0988 at 2026-06-08 10:00",)),
            Change("no-next-task", None, 3, 5, examples_added=(f"deal {owner} at 2026-07-01",)),
        ),
        notes=("evaluated on the workdays calendar",),
    )


def empty_report() -> Report:
    return Report(ruleset="b2b-sales", title="B2B sales cycle", now="2026-09-01T09:00:00+03:00",
                  calendar=None, deals=0, bad_records=0, stages=(), stalls=(), by_start=(),
                  by_owner=())


def empty_backtest() -> Backtest:
    return Backtest(ruleset="b2b-sales", title="B2B sales cycle", start="2026-06-01",
                    end="2026-06-01", every="1d", points=0, deals=0, bad_records=0, tally=Tally())


@pytest.fixture(scope="module")
def b2b() -> CompiledRuleset:
    return compile_path(B2B)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> CompiledRuleset:
    """b2b_sales with markup in the ruleset's title and a stage title."""
    text = B2B.read_text(encoding="utf-8")
    text = text.replace('title: "B2B sales cycle"', f"title: '{HOSTILE_TITLE}'")
    text = text.replace('title: "Встреча назначена"', f'title: "{HOSTILE}"')
    path = tmp_path_factory.mktemp("hostile") / "b2b_hostile.yaml"
    path.write_text(text, encoding="utf-8")
    return compile_path(path)


def hostile_page(compiled: CompiledRuleset, lang: str = "en") -> str:
    return render_html(report(HOSTILE, HOSTILE, HOSTILE_TITLE), backtest(HOSTILE, HOSTILE_TITLE),
                       compiled, lang)


# ----------------------------------------------------------------- reading the markup


class _Tables(HTMLParser):
    """Collects each table's body rows as lists of cell texts, keyed by the table's class."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[tuple[str, list[list[str]]]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append((dict(attrs).get("class") or "", []))
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self._row = []
        elif tag == "td" and self._row is not None:
            self._cell = []
        elif tag in ("small", "li") and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._in_body = False
        elif tag == "td" and self._row is not None and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1][1].append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def table_rows(page: str, cls: str) -> list[list[str]]:
    parser = _Tables()
    parser.feed(page)
    return next(rows for klass, rows in parser.tables if klass == cls)


def section(page: str, anchor: str) -> str:
    match = re.search(rf'<section id="{anchor}">(.*?)</section>', page, re.S)
    assert match, f"no section {anchor}"
    return match.group(1)


def svgs(markup: str) -> list[str]:
    return re.findall(r"<svg\b.*?</svg>", markup, re.S)


# ----------------------------------------------------------------- the page as text

SECTIONS = {
    "pipeline": "Pipeline", "dwell": "Dwell per stage against SLA",
    "distributions": "Dwell distributions", "stalls": "Where deals stall", "stages": "Stages",
    "cycles": "Cycle length and win rate", "backtest": "Backtest",
    "backtest-counts": "Alerts by code, stage and owner",
    "compare": "Changes against the compared ruleset",
}


def test_page_is_one_self_contained_html5_document(b2b: CompiledRuleset) -> None:
    page = render_html(report(), backtest(), b2b)
    assert page.startswith("<!DOCTYPE html>\n<html lang=\"en\">")
    assert '<meta charset="utf-8">' in page
    assert "<style>" in page
    assert page.count("<html") == 1
    assert page.rstrip().endswith("</html>")
    # Nothing that could fetch: no scripts, no external links, no CSS imports or urls.
    for needle in ("<script", " src=", "@import", "url(", "<link rel=\"stylesheet\"", "<iframe"):
        assert needle not in page
    urls = set(re.findall(r"https?://[^\s\"'<>]+", page))
    assert urls == {"http://www.w3.org/2000/svg"}  # the SVG namespace, a name, not a request
    assert "default-src 'none'" in page


def test_every_section_is_present_with_its_heading(b2b: CompiledRuleset) -> None:
    page = render_html(report(), backtest(), b2b)
    for anchor, heading in SECTIONS.items():
        assert f"<h2>{heading}</h2>" in section(page, anchor)
        assert f'<a href="#{anchor}">{heading}</a>' in page
    header = page.split("<nav", 1)[0]
    assert "<h1>B2B sales cycle</h1>" in header
    assert "2026-09-01T09:00:00+03:00" in header  # generated at the report's `now`
    assert "3 records could not be read and were skipped" in header
    assert "By start definition" in section(page, "cycles")
    assert "By owner" in section(page, "cycles")
    counts = section(page, "backtest-counts")
    assert all(f"<h3>{h}</h3>" in counts for h in ("By code", "By stage", "By owner"))


def test_only_the_parts_given_are_rendered(b2b: CompiledRuleset) -> None:
    analysis = render_html(report(), None, b2b)
    assert 'id="stages"' in analysis
    assert 'id="backtest"' not in analysis and 'id="compare"' not in analysis
    only_backtest = render_html(None, backtest(), b2b)
    assert 'id="backtest"' in only_backtest and 'id="pipeline"' in only_backtest
    assert 'id="stages"' not in only_backtest and 'id="dwell"' not in only_backtest
    assert "2026-06-01T00:00:00+03:00 to 2026-08-24T00:00:00+03:00" in only_backtest
    no_compare = render_html(None, Backtest(**{**backtest().__dict__, "compare_ruleset": None,
                                               "compare_tally": None, "changes": ()}), b2b)
    assert 'id="compare"' not in no_compare
    assert len(svgs(section(no_compare, "backtest"))) == 1


def test_markup_in_titles_and_names_appears_escaped_only(hostile: CompiledRuleset) -> None:
    page = hostile_page(hostile)
    assert "<script" not in page.lower()
    assert "<img" not in page.lower()
    assert "onerror=\"" not in page
    # The stage title: in the diagram, both charts, the stall ranking and the stage table; the
    # owner name: in the owner tables, the backtest matrix and a change example.
    for anchor in ("pipeline", "dwell", "distributions", "stalls", "stages", "cycles",
                   "backtest-counts", "compare"):
        assert ESCAPED in section(page, anchor), anchor
    assert "B2B sales &lt;img src=&quot;x&quot; onerror=&quot;alert(2)&quot;&gt;" in page
    assert "<title>B2B sales &lt;img" in page


def test_numbers_are_formatted_for_people(b2b: CompiledRuleset) -> None:
    page = render_html(report(), backtest(), b2b)
    rows = {r[0].split()[-1]: r for r in table_rows(page, "stages")}
    meeting = rows["meeting"]
    assert meeting[:6] == ["Встреча назначена meeting", "1,410", "1,331", "14", "41 3.0%", "24"]
    assert meeting[6:9] == ["4d12h", "7d22h", "13d5h"]  # wall clock
    assert meeting[9:12] == ["13h", "1d", "1d16h"]  # working time
    assert meeting[12:] == ["7d meeting-stall", "358 25.4%", "9d wall"]
    assert rows["request"][1:3] == ["1,598", "1,489"]
    assert rows["find_dm"][12:] == ["—", "—", "8d wall"]
    assert rows["paid"][4:9] == ["0", "0", "—", "—", "—"]
    cold = table_rows(page, "groups")[0]
    assert cold == ["cold", "412", "61", "280", "71", "17.9%", "38d", "47d", "60d", "61", "3w",
                    "48d", "341"]
    assert "<dd>2,010</dd>" in page
    stall = table_rows(page, "stalls")[0]
    assert stall[:3] == ["1", "Встреча назначена meeting", "0.74"]
    assert "25.4% of visits went over the 7d SLA" in stall[3]


def test_backtest_tables_count_by_code_stage_owner_and_changes(b2b: CompiledRuleset) -> None:
    page = render_html(None, backtest(), b2b)
    counts = section(page, "backtest-counts")
    code_rows = table_rows(counts, "")
    assert code_rows[0] == ["sla-warning", "266", "226", "-40"]
    assert code_rows[1] == ["sla-breach", "143", "201", "+58"]
    stage_rows = table_rows(counts, "matrix")
    assert stage_rows[0][0] == "Встреча назначена meeting"
    assert stage_rows[0][-1] == str(133 + 71 + 31)
    compare = section(page, "compare")
    change_rows = table_rows(compare, "")
    assert change_rows[0][:5] == ["sla-breach", "meeting-stall", "58", "0", "+58"]
    assert "added: deal D-1017 at 2026-06-03 12:00" in change_rows[0][5]
    assert change_rows[1][:5] == ["sla-warning", "proposal-decision", "0", "41", "-41"]
    assert "removed: deal D-0988" in change_rows[1][5]
    assert change_rows[2][1] == "—"  # a change not tied to one rule
    # The two timelines share their axis and give each code the same colour.
    legends = [dict((code, colour) for colour, code in re.findall(
        r'<g class="legend"><rect [^>]*fill="(#[0-9a-f]+)"/><text [^>]*>([\w-]+) \(', chart))
        for chart in svgs(section(page, "backtest"))]
    assert len(legends) == 2 and legends[0] == legends[1]
    tops = [re.findall(r'text-anchor="end" font-size="10" fill="#6b7280">([\d,]+)<', chart)[-1]
            for chart in svgs(section(page, "backtest"))]
    assert tops == ["80", "80"]


def test_every_chart_is_well_formed_accessible_svg(b2b: CompiledRuleset) -> None:
    page = render_html(report(), backtest(), b2b)
    charts = svgs(page)
    # diagram, dwell, six stage distributions, two timelines
    assert len(charts) == 10
    for chart in charts:
        root = ET.fromstring(chart)
        assert root.get("role") == "img"
        label = root.get("aria-label")
        assert label
        title = root.find("{http://www.w3.org/2000/svg}title")
        assert title is not None and title.text == label
        _, _, width, height = (float(v) for v in (root.get("viewBox") or "").split())
        assert 100 <= width <= 2000 and 40 <= height <= 1200
        assert (root.get("width"), root.get("height")) == (svg._n(width), svg._n(height))


def test_the_dwell_chart_reads_business_sla_against_working_time(b2b: CompiledRuleset) -> None:
    page = render_html(report(), None, b2b)
    chart = svgs(section(page, "dwell"))[0]
    # Terminal stages are left out: deals do not dwell in won or lost.
    assert chart.count('class="row"') == 6
    assert "SLA 5 business days · working time" in chart
    assert "SLA 7d · wall clock" in chart
    assert chart.count('class="sla"') == 3
    # 4d12h median over a 7d limit is under it; the working medians are under their limits too.
    assert f'fill="{svg.OVER}" class="bar median"' not in chart


def test_empty_reports_render_with_no_data_charts(b2b: CompiledRuleset) -> None:
    page = render_html(empty_report(), empty_backtest(), b2b)
    assert 'id="dwell"' in page and 'id="backtest"' in page
    assert "no data" in section(page, "dwell")
    assert "no alerts in the period" in section(page, "backtest")
    assert "No stage histories." in section(page, "stages")
    assert "No stage stands out" in section(page, "stalls")
    assert "No deals." in section(page, "cycles")
    assert 'id="compare"' not in page
    for chart in svgs(page):
        ET.fromstring(chart)


# ----------------------------------------------------------------- the charts on their own


def test_charts_of_nothing_say_no_data() -> None:
    for chart in (svg.dwell_chart([]), svg.dwell_chart([svg.DwellBar("a", None, None, None)]),
                  svg.distribution_chart("x", []),
                  svg.distribution_chart("x", [("wall", Quantiles())]),
                  svg.timeline_chart({}), svg.timeline_chart({"2026-06-01": {"a": 0}})):
        root = ET.fromstring(chart)
        assert "no-data" in (root.get("class") or "")
        assert root.get("role") == "img"


def test_zero_durations_still_draw_an_axis() -> None:
    chart = svg.dwell_chart([svg.DwellBar("instant", 0.0, 0.0, 0.0)])
    ET.fromstring(chart)
    assert ">0m<" in chart and ">1m<" in chart


def test_timeline_fills_missing_weeks_and_folds_rare_codes() -> None:
    by_week = {"2026-06-01": {f"code-{i}": 10 - i for i in range(9)}, "2026-06-22": {"code-0": 4}}
    chart = svg.timeline_chart(by_week)
    labels = re.findall(r'font-size="10" fill="#6b7280">([A-Z][a-z]{2} \d+)<', chart)
    assert labels == ["Jun 1", "Jun 8", "Jun 15", "Jun 22"]
    legend = re.findall(r'<g class="legend">.*?>([^<>]+)</text></g>', chart)
    assert legend[0] == "code-0 (14)"
    assert legend[-1] == "other (9)"  # code-6, code-7 and code-8: past the palette
    assert len(legend) == len(svg.PALETTE)


def test_pipeline_diagram_draws_each_stage_once_and_star_moves_once(b2b: CompiledRuleset) -> None:
    chart = svg.pipeline_diagram(b2b)
    ET.fromstring(chart)
    assert chart.count('<g class="stage ') == 8
    assert chart.count('<g class="stage start">') == 2
    assert chart.count('<g class="stage won">') == 1
    assert chart.count('<g class="stage lost">') == 1
    assert chart.count('<g class="any">') == 1
    # Six declared moves, plus one arrow from the "any open stage" box for the six `*` moves.
    assert chart.count('<g class="move">') == 7
    assert "any open stage → Отказ" in chart
    assert "Выставлено КП → Выставлен счет (require amount)" in chart
    assert "start inbound: source in [web_form, inbound_call, email]" in chart


TANGLED = """\
version: 1
id: tangled
title: "Moves back, skips, two won and two lost ends"
stages:
  - {id: a, title: "A stage title far too long for its box"}
  - {id: b, title: B}
  - {id: c, title: C}
  - {id: hold, title: Postponed}
  - {id: won1, title: Won one, terminal: won}
  - {id: won2, title: Won two, terminal: won}
  - {id: lost1, title: Lost early, terminal: lost}
  - {id: lost2, title: Lost late, terminal: lost}
start:
  - {id: s1, stage: a, when: {source: cold}}
  - {id: s2, stage: b}
end: {won: [won1, won2], lost: [lost1, lost2]}
transitions:
  - {from: a, to: b}
  - {from: b, to: c}
  - {from: c, to: hold}
  - {from: hold, to: b}
  - {from: c, to: a}
  - {from: hold, to: won1}
  - {from: a, to: won2}
  - {from: b, to: lost1}
  - {from: "*", to: lost2}
  - {from: "*", to: hold}
"""


def test_pipeline_diagram_routes_back_moves_skips_and_several_ends(tmp_path: Path) -> None:
    path = tmp_path / "tangled.yaml"
    path.write_text(TANGLED, encoding="utf-8")
    chart = svg.pipeline_diagram(compile_path(path))
    root = ET.fromstring(chart)
    assert chart.count('<g class="stage won">') == 2 and chart.count('<g class="stage lost">') == 2
    assert chart.count('<g class="move">') == 8 + 2  # declared moves + two from "any"
    assert ">A stage title<" in chart and ">far too long f…<" in chart  # two lines, clipped
    assert "<title>A stage title far too long for its box (a · start)</title>" in chart
    _, _, width, height = (float(v) for v in root.get("viewBox", "").split())
    for d in re.findall(r'<path d="([^"]+)"', chart):
        for x, y in re.findall(r"([\d.]+),([\d.]+)", d):
            assert 0 <= float(x) <= width and 0 <= float(y) <= height


@pytest.mark.parametrize("path", sorted((ROOT / "rulesets").glob("*.yaml")), ids=lambda p: p.stem)
def test_pipeline_diagram_of_every_shipped_ruleset(path: Path) -> None:
    compiled = compile_path(path)
    chart = svg.pipeline_diagram(compiled)
    root = ET.fromstring(chart)
    assert chart.count('<g class="stage ') == len(compiled.graph.order)
    assert root.get("aria-label", "").startswith("Pipeline of ")


# ----------------------------------------------------------------- in a real browser

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

# For each chart: its box on the page, how many shapes it draws with a non-zero size (lines
# count when they have a length), how many of them have an area, and the texts that spill
# out of the chart's viewBox (a label cut off at the edge).
MEASURE = """
() => Array.from(document.querySelectorAll('svg[role="img"]')).map(svg => {
  const box = svg.getBoundingClientRect();
  const view = svg.viewBox.baseVal;
  const shapes = Array.from(svg.querySelectorAll('rect, path, line, polyline, polygon, circle'));
  const sized = shapes.map(el => el.getBBox()).filter(b => b.width > 0 || b.height > 0);
  const spill = Array.from(svg.querySelectorAll('text')).filter(t => {
    const b = t.getBBox();
    return b.x < view.x - 1 || b.y < view.y - 1 || b.x + b.width > view.x + view.width + 1 ||
      b.y + b.height > view.y + view.height + 1;
  }).map(t => t.textContent);
  return {label: svg.getAttribute('aria-label'), kind: svg.getAttribute('class'),
          width: box.width, height: box.height, drawn: sized.length,
          areas: sized.filter(b => b.width > 0 && b.height > 0).length, spill};
})
"""

# Shapes that must have a real size for the chart to show its data.
MARKS = """
() => ({
  stages: Array.from(document.querySelectorAll('svg.pipeline g.stage rect')).map(r => {
    const b = r.getBBox(); return b.width * b.height; }),
  moves: Array.from(document.querySelectorAll('svg.pipeline g.move path')).map(p =>
    p.getTotalLength()),
  medians: Array.from(document.querySelectorAll('svg.dwell rect.median')).map(r =>
    r.getBBox().width),
  boxes: Array.from(document.querySelectorAll('svg.distribution rect.box')).map(r =>
    r.getBBox().width),
  segments: Array.from(document.querySelectorAll('svg.timeline g.segment rect')).map(r =>
    r.getBBox().height),
  resources: performance.getEntriesByType('resource').length,
  // Stage titles wider than their box.
  cramped: Array.from(document.querySelectorAll('svg.pipeline g.stage')).filter(g => {
    const r = g.querySelector('rect').getBBox();
    return Array.from(g.querySelectorAll('text')).some(t => {
      const b = t.getBBox(); return b.x < r.x + 2 || b.x + b.width > r.x + r.width - 2; });
  }).map(g => g.textContent),
})
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("needs the chromium binary, a Debian package (not on PyPI) that .ci/run "
                    "installs with apt when the mirror is reachable")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser: Any, path: Path) -> tuple[Any, dict[str, list[str]]]:
    """Open ``path``, recording console messages, page errors, dialogs and every request."""
    seen: dict[str, list[str]] = {"console": [], "errors": [], "dialogs": [], "requests": []}
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.on("request", lambda r: seen["requests"].append(r.url))
    page = context.new_page()
    page.on("console", lambda m: seen["console"].append(f"{m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_timeout(200)  # late console messages and lazy requests, if any
    return page, seen


def assert_quiet(seen: dict[str, list[str]], url: str) -> None:
    assert seen["console"] == []
    assert seen["errors"] == []
    assert seen["dialogs"] == []
    # Only the page itself; a data: URL would be allowed, anything else is the network.
    assert [u for u in seen["requests"] if u != url and not u.startswith("data:")] == []
    assert url in seen["requests"]


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_the_page_in_chromium_is_quiet_offline_and_draws_its_charts(
        browser: Any, hostile: CompiledRuleset, tmp_path: Path, lang: str) -> None:
    """The page (in English, and in Russian, whose longer words must fit the charts too)."""
    path = tmp_path / "report.html"
    path.write_text(hostile_page(hostile, lang), encoding="utf-8")
    started = time.perf_counter()
    page, seen = open_page(browser, path)
    assert_quiet(seen, path.as_uri())
    charts = page.evaluate(MEASURE)
    assert len(charts) == 10
    for chart in charts:
        assert chart["width"] > 50 and chart["height"] > 30, chart
        assert chart["drawn"] >= 5 and chart["areas"] >= 1, chart
        assert chart["spill"] == [], chart
    marks = page.evaluate(MARKS)
    assert len(marks["stages"]) == 8 and min(marks["stages"]) > 0
    assert len(marks["moves"]) == 7 and min(marks["moves"]) > 0
    assert len(marks["medians"]) == 6 and min(marks["medians"]) > 0
    assert len(marks["boxes"]) == 18 and min(marks["boxes"]) > 0
    bt = backtest()
    stacked = sum(1 for t in (bt.tally, bt.compare_tally) if t for counts in t.by_week.values()
                  for n in counts.values() if n > 0)
    assert len(marks["segments"]) == stacked and min(marks["segments"]) > 0
    assert marks["resources"] == 0
    assert marks["cramped"] == []
    # Print: the charts still draw on the page, nothing new is fetched or complained about.
    page.emulate_media(media="print")
    printed = page.evaluate(MEASURE)
    assert all(c["width"] > 50 and c["areas"] >= 1 for c in printed)
    assert page.evaluate("document.title").startswith("B2B sales <img")
    assert_quiet(seen, path.as_uri())
    page.context.close()
    assert time.perf_counter() - started < 30


def test_an_empty_report_in_chromium_is_quiet_too(browser: Any, b2b: CompiledRuleset,
                                                   tmp_path: Path) -> None:
    path = tmp_path / "empty.html"
    path.write_text(render_html(empty_report(), empty_backtest(), b2b), encoding="utf-8")
    page, seen = open_page(browser, path)
    assert_quiet(seen, path.as_uri())
    charts = page.evaluate(MEASURE)
    assert {c["kind"] for c in charts} == {"chart pipeline", "chart no-data"}
    assert all(c["width"] > 50 and c["areas"] >= 1 and c["spill"] == [] for c in charts)
    page.context.close()


def test_the_browser_checks_do_catch_requests_and_console_noise(browser: Any,
                                                                tmp_path: Path) -> None:
    # A control: a page that fetches (from a closed local port, so nothing leaves the machine)
    # and warns must fail the checks the report passes.
    path = tmp_path / "noisy.html"
    path.write_text('<!DOCTYPE html><meta charset="utf-8"><img src="http://127.0.0.1:9/x.png">'
                    '<script>console.warn("careful")</script>', encoding="utf-8")
    page, seen = open_page(browser, path)
    assert "http://127.0.0.1:9/x.png" in seen["requests"]
    assert "warning: careful" in seen["console"]
    with pytest.raises(AssertionError):
        assert_quiet(seen, path.as_uri())
    page.context.close()


# ----------------------------------------------------------------- in Russian


class _Read(HTMLParser):
    """What a person reads on a page: its text, and the tooltips and labels of its charts."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.in_style = tag == "style"
        self.parts += [v for k, v in attrs if k in ("aria-label", "alt") and v]

    def handle_endtag(self, tag: str) -> None:
        self.in_style = False

    def handle_data(self, data: str) -> None:
        if not self.in_style:
            self.parts.append(data)


def _given(*values: object) -> set[str]:
    """Every Latin-letter word of the strings in ``values`` (dataclasses, tuples, mappings
    walked): names and values the inputs gave, not words the page adds."""
    import dataclasses

    words: set[str] = set()
    for value in values:
        if isinstance(value, str):
            words |= set(re.findall(r"[A-Za-z][A-Za-z0-9_.\-#]*", value))
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            words |= _given(*(getattr(value, f.name) for f in dataclasses.fields(value)))
        elif isinstance(value, dict):
            words |= _given(*value.keys(), *value.values())
        elif isinstance(value, (tuple, list)):
            words |= _given(*value)
    return words


def _english_on(page: str, allowed: set[str]) -> list[str]:
    """The Latin-letter words a person reads on ``page`` that are not ``allowed`` (quoted
    names and ISO times left out)."""
    reader = _Read()
    reader.feed(page)
    text = re.sub(r"'[^']*'|«[^»]*»", " ", "\n".join(reader.parts))
    text = re.sub(r"\d{4}-\d\d-\d\dT[\d:+]+", " ", text)
    words = {w.rstrip(".-") for w in re.findall(r"[A-Za-z][A-Za-z0-9_.\-#]*", text)}
    return sorted(words - allowed - {""})


def test_the_russian_page_has_no_english_words(b2b: CompiledRuleset) -> None:
    """`--lang ru`'s page: headings, column names, facts, captions, legends, chart labels and
    tooltips in Russian. The Latin-letter words left are names the inputs gave (stage, rule,
    code, ruleset ids and titles, owners; the report's notes, which come in the run's
    language, are left out here), the YAML's words in a move's or start's condition
    (`source in [...]`, `require`, `from: "*"`), the statistics' names (p75, p80, p90, n) and
    the program's name. The same scan of the English page finds its words (the scan can
    fail)."""
    import dataclasses

    given = (dataclasses.replace(report(), notes=()), dataclasses.replace(backtest(), notes=()))
    page = render_html(*given, b2b, "ru")
    assert page.startswith('<!DOCTYPE html>\n<html lang="ru">')
    for anchor, heading in {"pipeline": "Воронка", "dwell": "Время на этапах и нормативы",
                            "stalls": "Где сделки застревают", "backtest-counts":
                            "Оповещения по коду, этапу и ответственному"}.items():
        assert f"<h2>{heading}</h2>" in section(page, anchor)
    assert "медиана выше норматива" in page
    assert "норматив 5 рабочих дней" in page  # an SLA limit as the chart labels it
    conditions = " ".join([*(c.describe() for st in b2b.starts for c in st.when),
                           *(c.describe() for m in b2b.moves for c in (*m.when, *m.unless)),
                           *(" ".join(m.require) for m in b2b.moves)])
    allowed = _given(*given) | {s.id for s in b2b.ruleset.stages} | {st.id for st in b2b.starts}
    allowed |= set(re.findall(r"[A-Za-z][A-Za-z0-9_.\-#]*", conditions))
    allowed |= {"p75", "p80", "p90", "n", "pipeline-rules", "in", "require", "from"}
    assert _english_on(page, allowed) == []
    assert {"Stages", "median", "Alerts"} <= set(_english_on(render_html(*given, b2b), allowed))
    empty = render_html(empty_report(), empty_backtest(), b2b, "ru")
    assert "нет данных" in empty and "за период оповещений нет" in empty
    assert _english_on(empty, allowed) == []
