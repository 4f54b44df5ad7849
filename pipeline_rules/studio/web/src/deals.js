// The studio's deals part: load deals, move `now`, see each deal's findings, open one deal's
// timeline, and compare the draft with the saved ruleset on the loaded deals (what if).
//
// A plain ES module with no dependencies: every element is built with the DOM, the timeline
// and the dwell chart are SVG drawn here. No inline styles or scripts (the page's CSP allows
// neither); sizes are SVG attributes. It talks to /studio/api/deals* through the page's `api`
// ({get, post, file, text, say}).

const SVG = "http://www.w3.org/2000/svg";
const HOUR = 3600 * 1000;
const POLL_MS = 300;
const NOW_DELAY = 200;
const PAGE = 200;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) node.setAttribute(key, String(value));
  }
  if (text !== undefined) node.textContent = text;
  return node;
}

function tip(node, text) {
  node.append(svg("title", {}, text));
  return node;
}

// Times come from the server in the ruleset's zone ("2026-11-20T09:05:00+03:00"): shown as
// written there, so the page and the findings agree whatever the browser's zone.
function shown(iso) {
  return iso ? `${iso.slice(0, 10)} ${iso.slice(11, 16)}` : "—";
}

function ms(iso) {
  return Date.parse(iso);
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const hours = seconds / 3600;
  if (hours < 48) return `${hours.toFixed(hours < 10 ? 1 : 0)} h`;
  return `${(hours / 24).toFixed(1)} d`;
}

function problemList(error) {
  const body = (error && error.body) || {};
  const items = (body.diagnostics || []).map((d) =>
    el("li", { text: `${d.file}:${d.line}:${d.column}: [${d.rule}] ${d.message}` }));
  return items.length ? el("ul", { class: "deals-problems" }, ...items) : null;
}

export function mountDeals(element, api) {
  const state = { loaded: null, now: null, rows: [], deal: null, timer: null, loading: false, offset: 0, asked: 0, drawn: 0 };

  const status = el("p", { id: "deals-status", role: "status", "aria-live": "polite" });
  const problems = el("div", { id: "deals-problems", role: "alert" });
  const loadGiven = el("button", { id: "deals-load", type: "button", text: "Load the deals" });
  const upload = el("input", { id: "deals-upload", type: "file", accept: ".jsonl,.ndjson,.json,.csv" });
  const uploadLabel = el("label", { for: "deals-upload", text: "or upload a deals file" });
  const slider = el("input", { id: "deals-now", type: "range", min: 0, max: 1, step: HOUR,
    disabled: true, "aria-label": "now" });
  const nowText = el("input", { id: "deals-now-text", type: "text", size: 26,
    "aria-label": "now, as an ISO 8601 time", disabled: true });
  const table = el("table", { id: "deals-table" });
  const onlyFound = el("input", { id: "deals-with-findings", type: "checkbox" });
  const previous = el("button", { id: "deals-previous", type: "button", text: "Previous", disabled: true });
  const next = el("button", { id: "deals-next", type: "button", text: "Next", disabled: true });
  const pageInfo = el("span", { id: "deals-page", "aria-live": "polite" });
  const timelineBox = el("div", { id: "deals-timeline", "aria-label": "Deal timeline" });
  const whatIf = el("button", { id: "whatif-run", type: "button", text: "Compare the draft with the saved version", disabled: true });
  const from = el("input", { id: "whatif-from", type: "text", size: 26, placeholder: "from (ISO 8601)", "aria-label": "backtest from" });
  const to = el("input", { id: "whatif-to", type: "text", size: 26, placeholder: "to (ISO 8601)", "aria-label": "backtest to" });
  const every = el("input", { id: "whatif-every", type: "text", size: 6, value: "1d", "aria-label": "backtest step" });
  const whatIfBox = el("div", { id: "whatif-result", "aria-live": "polite" });

  element.replaceChildren(
    el("h2", { text: "Deals" }),
    el("div", { class: "deals-load" }, loadGiven, " ", uploadLabel, " ", upload),
    status, problems,
    el("div", { class: "deals-now" }, el("label", { for: "deals-now", text: "now " }), slider, " ", nowText),
    el("div", { class: "deals-pager" }, onlyFound, el("label", { for: "deals-with-findings", text: " only deals with findings " }),
      previous, " ", pageInfo, " ", next),
    table, timelineBox,
    el("h2", { text: "What if" }),
    el("div", { class: "whatif-controls" },
      el("label", { for: "whatif-from", text: "Backtest from " }), from,
      el("label", { for: "whatif-to", text: " to " }), to,
      el("label", { for: "whatif-every", text: " every " }), every, " ", whatIf),
    whatIfBox,
  );

  function fail(err, where = problems) {
    where.replaceChildren(el("p", { class: "error", text: err.message }));
    const list = problemList(err);
    if (list) where.append(list);
  }

  function nowIso() {
    return state.now;
  }

  // -- loading -------------------------------------------------------------------------------

  async function poll() {
    try {
      const s = await api.get("/studio/api/deals");
      // An answer that arrives after the load's own is old news.
      if (state.loading && s.state === "loading") status.textContent = `Loading… ${s.count.toLocaleString("en")} records read`;
    } catch (err) { /* the load's own answer reports failures */ }
  }

  async function load(content, filename) {
    problems.replaceChildren();
    status.textContent = "Loading…";
    loadGiven.disabled = true;
    state.loading = true;
    const timer = setInterval(poll, POLL_MS);
    let summary = null;
    try {
      const body = { file: api.file() };
      if (content !== undefined) Object.assign(body, { content, filename });
      summary = await api.post("/studio/api/deals/load", body);
    } catch (err) {
      status.textContent = "The deals were not loaded.";
      fail(err);
    } finally {
      state.loading = false;
      clearInterval(timer);
      loadGiven.disabled = false;
    }
    if (summary) loaded(summary);
  }

  function loaded(summary) {
    state.loaded = summary;
    const parts = [`${summary.deals.toLocaleString("en")} deals loaded from ${summary.source}`];
    if (summary.bad) parts.push(`${summary.bad.toLocaleString("en")} bad lines left out`);
    status.textContent = parts.join("; ") + ".";
    problems.replaceChildren();
    if (summary.capped) problems.append(el("p", { class: "warning", text: summary.capped }));
    for (const note of summary.notes || []) problems.append(el("p", { class: "note", text: note }));
    if (summary.bad_lines && summary.bad_lines.length) {
      problems.append(el("details", { id: "deals-bad" },
        el("summary", { text: `Bad lines (${summary.bad})` }),
        el("ul", {}, ...summary.bad_lines.map((b) =>
          el("li", { text: `${b.origin}${b.path ? ` at ${b.path}` : ""}: ${b.message}` })))));
    }
    if (!summary.span) return;
    const low = ms(summary.span.start);
    const high = ms(summary.span.end);
    slider.min = String(low);
    slider.max = String(high);
    slider.disabled = false;
    nowText.disabled = false;
    whatIf.disabled = false;
    const picked = Math.min(Math.max(Date.now(), low), high);
    slider.value = String(picked);
    setNow(new Date(Number(slider.value)).toISOString());
    if (!from.value) from.value = new Date(Math.max(low, picked - 30 * 24 * HOUR)).toISOString();
    if (!to.value) to.value = new Date(picked).toISOString();
  }

  // -- now and the findings ------------------------------------------------------------------

  function setNow(iso) {
    state.now = iso;
    nowText.value = iso;
    clearTimeout(state.timer);
    state.timer = setTimeout(findings, NOW_DELAY);
  }

  async function findings() {
    if (!state.loaded) return;
    const mine = ++state.asked;
    try {
      const data = await api.post("/studio/api/deals/findings", { file: api.file(), now: nowIso(),
        offset: state.offset, limit: PAGE, with_findings: onlyFound.checked });
      if (mine !== state.asked) return; // a later question was asked: its answer will come
      nowText.value = data.now;
      state.rows = data.deals;
      drawTable(data);
      if (state.deal) openTimeline(state.deal);
    } catch (err) {
      if (mine === state.asked) fail(err);
    }
  }

  function drawTable(data) {
    const head = el("tr", {}, ...["deal", "stage", "owner", "findings"].map((h) => el("th", { scope: "col", text: h })));
    const rows = data.deals.map((row) => {
      const codes = row.findings.map((f) => f.code);
      const open = el("button", { type: "button", class: "deal-open", "data-deal": row.deal || "",
        text: row.deal || row.origin, onclick: () => openTimeline(row.deal), disabled: !row.deal });
      return el("tr", { "data-deal": row.deal || "" },
        el("td", {}, open), el("td", { text: row.stage || "" }), el("td", { text: row.owner || "" }),
        el("td", { class: "codes", text: codes.length ? codes.join(", ") : "—" }));
    });
    const total = Object.entries(data.summary).map(([code, n]) => `${code} ${n}`).join(", ") || "no findings";
    table.replaceChildren(el("caption", { text: `At ${shown(data.now)}: ${total}` }), el("thead", {}, head), el("tbody", {}, ...rows));
    const last = Math.min(data.offset + data.deals.length, data.total);
    pageInfo.textContent = data.total ? `deals ${data.offset + 1}–${last} of ${data.total.toLocaleString("en")}` : "no deals";
    previous.disabled = data.offset === 0;
    next.disabled = last >= data.total;
  }

  // -- one deal's timeline -------------------------------------------------------------------

  async function openTimeline(deal) {
    state.deal = deal;
    const mine = ++state.drawn;
    try {
      const line = await api.post("/studio/api/deals/timeline", { file: api.file(), now: nowIso(), deal });
      if (mine === state.drawn) drawTimeline(line);
    } catch (err) {
      if (mine === state.drawn) fail(err, timelineBox);
    }
  }

  function drawTimeline(line) {
    if (line.error) {
      timelineBox.replaceChildren(el("h3", { text: `Deal ${line.deal || line.origin}` }),
        el("p", { class: "error", text: `${line.origin}${line.path ? ` at ${line.path}` : ""}: ${line.error}` }));
      return;
    }
    const width = 900;
    const left = 150;
    const rowH = 22;
    const spans = line.slas.filter((sla) => sla.span);
    const spanLanes = spans.length ? 1 : 0;
    const lanes = line.stages.length + spanLanes + 3; // stages, spans, tasks/events, actions
    const height = 30 + lanes * rowH + 20;
    const start = ms(line.start) - 12 * HOUR;
    const end = ms(line.end) + 12 * HOUR;
    const x = (iso) => left + ((ms(iso) - start) / Math.max(end - start, 1)) * (width - left - 10);
    const root = svg("svg", { id: "timeline-svg", width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
      "aria-label": `Timeline of deal ${line.deal}` });
    // The axis: a tick a day (a week on long spans), labelled by date.
    const days = (end - start) / (24 * HOUR);
    const step = (days > 60 ? 7 : 1) * 24 * HOUR;
    for (let t = Math.ceil(start / step) * step; t <= end; t += step) {
      const at = left + ((t - start) / (end - start)) * (width - left - 10);
      root.append(svg("line", { x1: at, x2: at, y1: 20, y2: height - 10, stroke: "#e3e3e3" }));
    }
    root.append(svg("text", { x: left, y: 12, "font-size": 11 }, shown(line.start)));
    root.append(svg("text", { x: width - 10, y: 12, "font-size": 11, "text-anchor": "end" }, shown(line.end)));
    const rowY = (i) => 30 + i * rowH;
    line.stages.forEach((bar, i) => {
      const y = rowY(i);
      root.append(svg("text", { x: 4, y: y + 14, "font-size": 12 }, bar.title || bar.stage));
      const x1 = bar.entered ? x(bar.entered) : left;
      const x2 = bar.left ? x(bar.left) : x(line.now);
      const rect = svg("rect", { class: "stage-bar", "data-stage": bar.stage, x: x1, y: y + 3,
        width: Math.max(x2 - x1, 2), height: rowH - 6, rx: 3,
        fill: bar.current ? "#7aa6d8" : "#b9cde5", stroke: bar.undated ? "#888" : "none",
        "stroke-dasharray": bar.undated ? "3 2" : null });
      root.append(tip(rect, `${bar.stage}: ${bar.entered ? shown(bar.entered) : "undated"} → ${bar.left ? shown(bar.left) : "still there"}`));
    });
    // A visit is its history entry's index; an undated first stage comes before the history.
    const offset = line.stages.length && line.stages[0].undated ? 1 : 0;
    if (spanLanes) {
      const y = rowY(line.stages.length);
      root.append(svg("text", { x: 4, y: y + 14, "font-size": 12 }, "spans"));
      for (const sla of spans) {
        const x1 = x(sla.since);
        const x2 = x(sla.deadline && ms(sla.deadline) < ms(line.now) ? sla.deadline : line.now);
        root.append(tip(svg("line", { class: "span", x1, x2: Math.max(x2, x1 + 2), y1: y + rowH / 2, y2: y + rowH / 2,
          stroke: "#8d6e63", "stroke-width": 4 }), `${sla.rule}: ${sla.from} → ${sla.to} since ${shown(sla.since)}`));
      }
    }
    for (const sla of line.slas) {
      const y = rowY(sla.span ? line.stages.length : sla.visit + offset);
      for (const w of sla.warnings) {
        if (!w.at) continue;
        root.append(tip(svg("line", { class: "sla-warning", x1: x(w.at), x2: x(w.at), y1: y, y2: y + rowH,
          stroke: "#e0a000", "stroke-width": 2 }), `${sla.rule}: ${w.percent}% of ${sla.limit} at ${shown(w.at)}`));
      }
      if (sla.deadline) {
        root.append(tip(svg("line", { class: "sla-deadline", x1: x(sla.deadline), x2: x(sla.deadline), y1: y - 2,
          y2: y + rowH + 2, stroke: "#c62828", "stroke-width": 3 }),
        `${sla.rule}: deadline ${shown(sla.deadline)} (${sla.limit})${sla.breached ? ", breached" : ""}`));
      }
    }
    const lane = line.stages.length + spanLanes;
    root.append(svg("text", { x: 4, y: rowY(lane) + 14, "font-size": 12 }, "tasks, events"));
    for (const task of line.tasks) {
      if (!task.due) continue;
      root.append(tip(svg("rect", { class: "task", x: x(task.due) - 5, y: rowY(lane) + 6, width: 10, height: 10,
        fill: task.done ? "#9e9e9e" : task.overdue ? "#c62828" : "#455a64" }),
      `task ${task.id} due ${shown(task.due)}${task.done ? " (done)" : task.overdue ? " (overdue)" : ""}`));
    }
    for (const event of line.events) {
      root.append(tip(svg("circle", { class: "event", cx: x(event.at), cy: rowY(lane) + 11, r: 6, fill: "#2e7d32" }),
        `${event.type} at ${shown(event.at)}`));
    }
    root.append(svg("text", { x: 4, y: rowY(lane + 1) + 14, "font-size": 12 }, "reminders, alerts"));
    for (const action of line.actions) {
      if (!action.due) continue;
      const cx = x(action.due);
      const cy = rowY(lane + 1) + 11;
      const who = action.recipient || action.notify || "nobody";
      root.append(tip(svg("path", { class: `action ${action.planned ? "planned" : "due"}`,
        d: `M ${cx} ${cy - 7} L ${cx + 7} ${cy + 6} L ${cx - 7} ${cy + 6} Z`,
        fill: action.planned ? "none" : "#6a1b9a", stroke: "#6a1b9a" }),
      `${action.code} (${action.rule}) to ${who}${action.channel ? ` by ${action.channel}` : ""} at ${shown(action.due)}${action.planned ? ", planned" : ""}`));
    }
    const nowX = x(line.now);
    root.append(svg("line", { id: "timeline-now", x1: nowX, x2: nowX, y1: 16, y2: height - 6, stroke: "#000", "stroke-dasharray": "4 3" }));
    root.append(svg("text", { x: nowX + 3, y: height - 8, "font-size": 11 }, "now"));

    const actions = line.actions.map((a) => el("li", { class: a.planned ? "planned" : "due",
      text: `${shown(a.due)} ${a.code} (${a.rule}) → ${a.recipient || a.notify || "nobody"}${a.channel ? ` by ${a.channel}` : ""}${a.planned ? " — planned" : ""}${a.unrouted ? ` — ${a.unrouted}` : ""}` }));
    const found = line.findings.filter((f) => f.kind === "violation").map((f) => el("li", { text: `${f.code}: ${f.message}` }));
    timelineBox.replaceChildren(
      el("h3", { text: `Deal ${line.deal}: ${line.stage} (owner ${line.owner || "—"}, manager ${line.manager || "—"})` }),
      root,
      el("h4", { text: "Reminders and alerts" }), actions.length ? el("ul", { id: "timeline-actions" }, ...actions) : el("p", { text: "none" }),
      el("h4", { text: "Violations at now" }), found.length ? el("ul", { id: "timeline-violations" }, ...found) : el("p", { text: "none" }),
    );
  }

  // -- what if -------------------------------------------------------------------------------

  async function compare() {
    whatIfBox.replaceChildren(el("p", { text: "Comparing…" }));
    whatIf.disabled = true;
    try {
      const body = { file: api.file(), draft: api.text(), now: nowIso() };
      if (from.value && to.value) Object.assign(body, { start: from.value, end: to.value, every: every.value || "1d" });
      drawWhatIf(await api.post("/studio/api/deals/what-if", body));
    } catch (err) {
      fail(err, whatIfBox);
    } finally {
      whatIf.disabled = false;
    }
  }

  function drawWhatIf(data) {
    const impact = data.impact;
    const parts = [el("p", { id: "whatif-impact",
      text: `At ${shown(data.now)}: ${impact.appears} findings appear, ${impact.disappears} disappear, ${impact.moves} move; ${impact.affected} of ${impact.deals} deals judged differently${impact.stranded.length ? `; ${impact.stranded.length} deals in removed stages` : ""}.` })];
    if (impact.changes.length) {
      parts.push(el("ul", { id: "whatif-changes" }, ...impact.changes.map((c) => {
        const f = c.new || c.old;
        const when = c.change === "moves" ? ` ${shown(c.old.at)} → ${shown(c.new.at)}` : ` at ${shown(f.at)}`;
        return el("li", { class: c.change, text: `${c.deal}: ${f.code} (${f.rule || "—"}) ${c.change}${when}` });
      })));
    }
    if (data.backtest) {
      const b = data.backtest;
      const rows = b.changes.map((c) => el("tr", {},
        el("td", { text: c.code }), el("td", { text: c.rule || "—" }),
        el("td", { class: "added", text: `+${c.added}` }), el("td", { class: "removed", text: `−${c.removed}` }),
        el("td", { text: [...c.examples_added.map((e) => `+ ${e}`), ...c.examples_removed.map((e) => `− ${e}`)].join("; ") })));
      parts.push(el("table", { id: "whatif-backtest" },
        el("caption", { text: `Backtest ${b.start} → ${b.end} every ${b.every} (${b.points} points, ${b.deals} deals): saved ${b.saved_total} alerts, draft ${b.draft_total}, net ${b.net >= 0 ? "+" : ""}${b.net}` }),
        el("thead", {}, el("tr", {}, ...["code", "rule", "added", "removed", "examples"].map((h) => el("th", { scope: "col", text: h })))),
        el("tbody", {}, ...rows)));
    }
    parts.push(el("h4", { text: "Dwell per stage beside the SLA limits" }), dwellChart(data.dwell));
    whatIfBox.replaceChildren(...parts);
  }

  function dwellChart(stages) {
    const width = 900;
    const left = 170;
    const rowH = 24;
    const height = 24 + stages.length * rowH;
    const top = Math.max(1, ...stages.flatMap((s) => [s.dwell.p90 || 0, s.saved.seconds || 0, s.draft.seconds || 0]));
    const x = (seconds) => left + (seconds / top) * (width - left - 20);
    const root = svg("svg", { id: "dwell-svg", width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
      "aria-label": "Dwell per stage beside the SLA limits" });
    root.append(svg("text", { x: left, y: 12, "font-size": 11 }, "median to p90 dwell (bar), saved limit (blue), draft limit (red dashed)"));
    stages.forEach((s, i) => {
      const y = 20 + i * rowH;
      root.append(svg("text", { x: 4, y: y + 15, "font-size": 12 }, `${s.title || s.stage} (${s.basis})`));
      if (s.dwell.count) {
        const a = x(s.dwell.median || 0);
        const b = x(s.dwell.p90 || 0);
        root.append(tip(svg("rect", { class: "dwell", "data-stage": s.stage, x: a, y: y + 5, width: Math.max(b - a, 2), height: rowH - 10, fill: "#90a4ae" }),
          `${s.stage}: median ${duration(s.dwell.median)}, p80 ${duration(s.dwell.p80)}, p90 ${duration(s.dwell.p90)} (${s.dwell.count} visits)`));
      }
      if (s.saved.seconds) {
        root.append(tip(svg("line", { class: "limit-saved", x1: x(s.saved.seconds), x2: x(s.saved.seconds), y1: y + 1, y2: y + rowH - 1, stroke: "#1565c0", "stroke-width": 3 }),
          `saved ${s.saved.rule}: ${s.saved.limit}${s.saved.breach_share !== null ? `, ${Math.round(s.saved.breach_share * 100)}% of visits over` : ""}`));
      }
      if (s.draft.seconds) {
        root.append(tip(svg("line", { class: "limit-draft", x1: x(s.draft.seconds), x2: x(s.draft.seconds), y1: y + 1, y2: y + rowH - 1, stroke: "#c62828", "stroke-width": 2, "stroke-dasharray": "4 2" }),
          `draft ${s.draft.rule}: ${s.draft.limit}${s.draft.breach_share !== null ? `, ${Math.round(s.draft.breach_share * 100)}% of visits over` : ""}`));
      }
    });
    return root;
  }

  // -- wiring --------------------------------------------------------------------------------

  loadGiven.addEventListener("click", () => load());
  upload.addEventListener("change", async () => {
    const file = upload.files && upload.files[0];
    if (!file) return;
    await load(await file.text(), file.name);
  });
  slider.addEventListener("input", () => setNow(new Date(Number(slider.value)).toISOString()));
  nowText.addEventListener("change", () => {
    const value = nowText.value.trim();
    const at = Date.parse(value);
    if (!Number.isNaN(at)) slider.value = String(at);
    setNow(value);
  });
  whatIf.addEventListener("click", compare);
  onlyFound.addEventListener("change", () => { state.offset = 0; findings(); });
  previous.addEventListener("click", () => { state.offset = Math.max(0, state.offset - PAGE); findings(); });
  next.addEventListener("click", () => { state.offset += PAGE; findings(); });

  api.get("/studio/api/deals").then((s) => {
    loadGiven.hidden = !s.given.deals;
    if (s.given.deals) loadGiven.textContent = `Load ${s.given.deals}`;
    if (s.loaded) loaded(s.loaded);
  }).catch((err) => fail(err));
}
