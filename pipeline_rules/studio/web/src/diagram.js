// The pipeline drawn as SVG from the server's diagram model (stages placed in columns, moves,
// starts, SLA limits), broken and flagged parts marked. Presentation is in studio.css classes
// and SVG attributes: the page's CSP allows no inline styles.

const SVG = "http://www.w3.org/2000/svg";
// Top to bottom: the main path runs down the panel, alternatives side by side.
const W = 170;
const H = 58;
const COL = 200;
const ROW = 96;
const PAD = 24;

function el(name, attrs = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function short(text, n) {
  return text.length > n ? text.slice(0, n - 1) + "…" : text;
}

export function drawDiagram(container, model, onStage) {
  container.replaceChildren();
  if (model.message) {
    const p = document.createElement("p");
    p.className = "diagram-message";
    p.textContent = model.message;
    container.append(p);
  }
  const stages = model.stages || [];
  if (!stages.length) return null;
  const hasStarts = (model.starts || []).length > 0;
  const offset = hasStarts ? 1 : 0;
  const anyMoves = (model.moves || []).filter((m) => m.from === "*");
  const place = new Map();
  let rows = 0;
  for (const s of stages) {
    const x = PAD + s.row * COL;
    const y = PAD + (s.rank + offset) * ROW;
    place.set(s.id, { x, y });
    rows = Math.max(rows, s.row + 1);
  }
  const columns = (model.columns || 0) + offset;
  if (anyMoves.length) {
    const ends = stages.filter((s) => s.kind !== "open").map((s) => s.rank);
    const rank = Math.max(0, (ends.length ? Math.min(...ends) : columns) - 1);
    const used = stages.filter((s) => s.rank === rank).length;
    place.set("*", { x: PAD + used * COL, y: PAD + (rank + offset) * ROW, any: true });
    rows = Math.max(rows, used + 1);
  }
  (model.starts || []).forEach((s, i) => {
    place.set("start:" + s.id, { x: PAD + i * COL, y: PAD, start: true });
    rows = Math.max(rows, i + 1);
  });
  const width = PAD * 2 + rows * COL + 60;
  const height = PAD * 2 + Math.max(columns, 1) * ROW;
  const svg = el("svg", {
    viewBox: `0 0 ${width} ${height}`, width, height, role: "group",
    "aria-label": `Pipeline ${model.title || model.id || ""}: ${stages.length} stages`,
    class: "pipeline",
  });
  const defs = el("defs");
  for (const [id, cls] of [["arrow", "arrowhead"], ["arrow-broken", "arrowhead broken"]]) {
    const marker = el("marker", { id, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
    marker.append(el("path", { d: "M 0 0 L 10 5 L 0 10 z", class: cls }));
    defs.append(marker);
  }
  svg.append(defs);
  const edges = el("g", { class: "edges" });
  svg.append(edges);
  const edge = (from, to, label, broken, dashed, line) => {
    const a = place.get(from);
    const b = place.get(to);
    if (!a || !b) return;
    const x1 = a.x + (a.start ? 20 : W / 2);
    const y1 = a.y + (a.start ? 40 : H);
    const x2 = b.x + W / 2;
    const y2 = b.y;
    let d;
    let tx;
    let ty;
    if (y2 > y1) {
      const my = (y1 + y2) / 2;
      d = `M ${x1} ${y1} C ${x1} ${my}, ${x2} ${my}, ${x2} ${y2}`;
      tx = (x1 + x2) / 2 + 4;
      ty = my + 4;
    } else {
      // A move back up (or within a row): a loop to the right of the boxes.
      const side = Math.max(a.x, b.x) + W + 30;
      d = `M ${a.x + W} ${a.y + H / 2} C ${side} ${a.y + H / 2}, ${side} ${b.y + H / 2}, ${b.x + W} ${b.y + H / 2}`;
      tx = side - 4;
      ty = (a.y + b.y + H) / 2;
    }
    const cls = ["move", broken ? "broken" : "", dashed ? "dashed" : ""].join(" ").trim();
    const path = el("path", { d, class: cls, "marker-end": broken ? "url(#arrow-broken)" : "url(#arrow)" });
    path.dataset.from = from;
    path.dataset.to = to;
    path.append(el("title", {}, `${from} → ${to}${label ? ": " + label : ""}${broken ? " (broken)" : ""} — line ${line}`));
    edges.append(path);
    if (label) {
      edges.append(el("text", { x: tx, y: ty, class: "move-label" }, short(label, 28)));
    }
  };
  for (const s of model.starts || []) edge("start:" + s.id, s.to, "", s.broken, false, s.line);
  for (const m of model.moves || []) edge(m.from, m.to, m.label, m.broken, m.from === "*", m.line);

  const nodes = el("g", { class: "nodes" });
  svg.append(nodes);
  (model.starts || []).forEach((s) => {
    const p = place.get("start:" + s.id);
    const g = el("g", { class: "start" + (s.broken ? " broken" : "") });
    g.append(el("circle", { cx: p.x + 20, cy: p.y + 20, r: 20 }));
    g.append(el("text", { x: p.x + 46, y: p.y + 24, class: "start-label" }, short(s.id + (s.label ? ": " + s.label : ""), 24)));
    g.append(el("title", {}, `start ${s.id}${s.label ? ": " + s.label : ""} → ${s.to}`));
    nodes.append(g);
  });
  if (place.has("*")) {
    const p = place.get("*");
    const g = el("g", { class: "any" });
    g.append(el("rect", { x: p.x, y: p.y, width: W, height: H - 20, rx: 16 }));
    g.append(el("text", { x: p.x + W / 2, y: p.y + 26, "text-anchor": "middle" }, "any open stage"));
    nodes.append(g);
  }
  for (const s of stages) {
    const p = place.get(s.id);
    const flagged = (s.flags || []).some((f) => f.severity === "error" || f.severity === "warning");
    const cls = ["stage", s.kind, s.broken ? "broken" : "", flagged ? "flagged" : ""].join(" ").replace(/\s+/g, " ").trim();
    const g = el("g", {
      class: cls, tabindex: 0, role: "button",
      "aria-label": `Stage ${s.title} (${s.id})${s.broken ? ", broken" : ""}${flagged ? ", " + s.flags.map((f) => f.rule).join(", ") : ""}`,
    });
    g.dataset.stage = s.id;
    g.append(el("rect", { x: p.x, y: p.y, width: W, height: H, rx: s.kind === "open" ? 6 : 22 }));
    g.append(el("text", { x: p.x + 10, y: p.y + 18, class: "title" }, short(s.title, 22)));
    g.append(el("text", { x: p.x + 10, y: p.y + 33, class: "id" }, short(s.id, 26)));
    const limits = (s.slas || []).map((x) => x.limit);
    if (limits.length) g.append(el("text", { x: p.x + 10, y: p.y + 48, class: "sla" }, short("SLA " + limits.join(", "), 26)));
    if (flagged) {
      const rules = [...new Set(s.flags.map((f) => f.rule))].join(", ");
      g.append(el("text", { x: p.x + 4, y: p.y + H + 13, class: "flag" }, "⚠ " + short(rules, 30)));
    }
    g.append(el("title", {}, `${s.title} (${s.id})${limits.length ? " — SLA " + limits.join(", ") : ""}${flagged ? " — " + s.flags.map((f) => f.message).join("; ") : ""}`));
    const choose = () => onStage(s);
    g.addEventListener("click", choose);
    g.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); choose(); }
    });
    nodes.append(g);
  }
  container.append(svg);
  const spans = model.spans || [];
  if (spans.length) {
    const p = document.createElement("p");
    p.className = "spans";
    p.textContent = "Span SLAs: " + spans.map((x) => `${x.id} (${x.from || "?"} → ${x.to || "?"}): ${x.limit}`).join("; ");
    container.append(p);
  }
  return svg;
}
