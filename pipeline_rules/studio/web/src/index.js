// The studio page: the editor (CodeMirror 6) with live lint, the live diagram, saving, and
// the deals part mounted beside them.

import { EditorState } from "@codemirror/state";
import {
  EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter,
  drawSelection, hoverTooltip,
} from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { syntaxHighlighting, defaultHighlightStyle, indentOnInput, bracketMatching } from "@codemirror/language";
import { yaml } from "@codemirror/lang-yaml";
import { linter, lintGutter, lintKeymap, forceLinting } from "@codemirror/lint";
import { autocompletion, completionKeymap } from "@codemirror/autocomplete";
import { searchKeymap } from "@codemirror/search";
import { schemaCompletion, keyDocAt } from "./schema.js";
import { drawDiagram } from "./diagram.js";
import { mountDeals } from "studio-deals";

const $ = (id) => document.getElementById(id);
const LINT_DELAY = 150;

// The token, when the studio was started with one, comes in the address's fragment (never
// sent to the server in a URL) and goes in each API call's header.
const token = new URLSearchParams(location.hash.slice(1)).get("token");

class ApiError extends Error {
  constructor(status, body) {
    super(body && body.message ? body.message : `the studio answered ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

async function call(method, path, body) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw new ApiError(0, { message: "the studio is not answering: is `pipeline-rules studio` still running?" });
  }
  let data = null;
  try { data = await response.json(); } catch (err) { data = null; }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

const state = {
  file: null, digest: null, versioned: false, schema: null, rules: {}, diagram: null,
  diagnostics: [], listeners: [], files: [],
};

const api = {
  get: (path) => call("GET", path),
  post: (path, body) => call("POST", path, body),
  file: () => state.file,
  text: () => view.state.doc.toString(),
  onChange: (listener) => state.listeners.push(listener),
  say: (text, kind) => say(text, kind),
};

function say(text, kind = "info", actions = []) {
  const box = $("message");
  box.replaceChildren();
  box.className = `message ${kind}`;
  box.hidden = !text;
  if (!text) return;
  const span = document.createElement("span");
  span.textContent = text;
  box.append(span);
  for (const [label, act, id] of actions) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    if (id) b.id = id;
    b.addEventListener("click", act);
    box.append(b);
  }
}

function offsetOf(doc, line, column) {
  const l = doc.line(Math.min(Math.max(line, 1), doc.lines));
  return Math.min(l.from + Math.max(column - 1, 0), l.to);
}

function ruleDoc(rule) {
  const page = state.rules[rule];
  const box = document.createElement("div");
  box.className = "rule-doc";
  if (!page) return box;
  const summary = document.createElement("strong");
  summary.textContent = `${rule}: ${page.summary}`;
  const body = document.createElement("pre");
  body.textContent = page.doc.split("\n").slice(1).join("\n").trim();
  box.append(summary, body);
  return box;
}

function toEditor(doc, d) {
  const from = offsetOf(doc, d.line, d.column);
  const to = Math.max(from, offsetOf(doc, d.line, d.end_column || d.column + 1));
  const actions = [];
  if (d.fix) {
    const fix = d.fix;
    actions.push({
      name: `Change to '${fix.insert}'`,
      apply(v) {
        const a = offsetOf(v.state.doc, fix.line, fix.from);
        const b = offsetOf(v.state.doc, fix.line, fix.to);
        v.dispatch({ changes: { from: a, to: b, insert: fix.insert } });
      },
    });
  }
  return {
    from, to, severity: d.severity === "info" ? "info" : d.severity, source: d.rule,
    message: d.message, actions,
    renderMessage: () => {
      const wrap = document.createElement("div");
      const text = document.createElement("div");
      text.textContent = d.related ? `${d.message} (reported at line ${d.related})` : d.message;
      wrap.append(text, ruleDoc(d.rule));
      return wrap;
    },
  };
}

let checks = 0;
async function check(view) {
  if (!state.file) return [];
  const text = view.state.doc.toString();
  const mine = ++checks;
  let answer;
  try {
    answer = await api.post("/studio/api/check", { name: state.file, text });
  } catch (err) {
    say(err.message, "error");
    return [];
  }
  if (mine !== checks) return [];
  state.diagnostics = answer.diagnostics;
  state.diagram = answer.diagram;
  showSummary(answer.summary);
  // The markers first; the diagram and the problem list right after, so a big pipeline's
  // drawing does not hold the markers back.
  setTimeout(() => {
    if (mine !== checks) return;
    showProblems(answer.diagnostics);
    drawDiagram($("diagram"), answer.diagram, showStage);
    document.body.dataset.checked = String(mine);
    for (const listener of state.listeners) {
      try { listener({ file: state.file, text, summary: answer.summary }); } catch (err) { console.warn(err); }
    }
  }, 0);
  return answer.diagnostics.map((d) => toEditor(view.state.doc, d));
}

function showSummary(summary) {
  const parts = [];
  for (const [kind, n] of Object.entries(summary)) if (n) parts.push(`${n} ${kind}${n === 1 ? "" : kind === "info" ? "" : "s"}`);
  $("summary").textContent = parts.length ? parts.join(", ") : "no problems";
  $("summary").className = summary.error ? "summary error" : summary.warning ? "summary warning" : "summary ok";
}

function showProblems(list) {
  const ul = $("problems");
  ul.replaceChildren();
  for (const d of list) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.className = `problem ${d.severity}`;
    b.textContent = `${d.line}:${d.column} ${d.severity} [${d.rule}] ${d.message}`;
    b.addEventListener("click", () => jump(d.line, d.line, true));
    li.append(b);
    if (d.fix) {
      const f = document.createElement("button");
      f.type = "button";
      f.className = "fix";
      f.textContent = `Change to '${d.fix.insert}'`;
      f.addEventListener("click", () => {
        const a = offsetOf(view.state.doc, d.fix.line, d.fix.from);
        const z = offsetOf(view.state.doc, d.fix.line, d.fix.to);
        view.dispatch({ changes: { from: a, to: z, insert: d.fix.insert } });
      });
      li.append(f);
    }
    ul.append(li);
  }
}

function jump(first, last, focus) {
  const doc = view.state.doc;
  if (!first || first > doc.lines) return;
  const from = doc.line(first).from;
  const to = doc.line(Math.min(Math.max(last, first), doc.lines)).to;
  view.dispatch({ selection: { anchor: from, head: to }, effects: EditorView.scrollIntoView(from, { y: "center" }) });
  if (focus) view.focus();
}

function item(parent, text, line) {
  const li = document.createElement("li");
  if (line) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "line-link";
    b.textContent = `line ${line}`;
    b.addEventListener("click", () => jump(line, line, true));
    li.append(b, " ");
  }
  li.append(text);
  parent.append(li);
}

function section(box, title, entries) {
  const h = document.createElement("h3");
  h.textContent = title;
  const ul = document.createElement("ul");
  if (!entries.length) item(ul, "none");
  for (const [text, line] of entries) item(ul, text, line);
  box.append(h, ul);
}

function showStage(stage) {
  const box = $("stage-details");
  box.replaceChildren();
  box.hidden = false;
  const h = document.createElement("h2");
  h.textContent = `${stage.title} (${stage.id})`;
  box.append(h);
  if (!stage.declared) {
    const p = document.createElement("p");
    p.textContent = "This stage is named by a move or a start but not declared under 'stages'.";
    box.append(p);
  }
  if (stage.description) {
    const p = document.createElement("p");
    p.textContent = stage.description;
    box.append(p);
  }
  section(box, "SLAs", (stage.slas || []).map((s) => [
    `${s.id}: limit ${s.limit}${s.warn.length ? `, warn at ${s.warn.join("%, ")}%` : ""}${s.calendar ? `, calendar ${s.calendar}` : ""}`, s.line]));
  section(box, "Task rules", stage.tasks ? [[
    `next task required: ${stage.tasks.require_next ? "yes" : "no"}${stage.tasks.max_gap ? `; gap between tasks at most ${stage.tasks.max_gap}` : ""}`, stage.tasks.line]] : []);
  section(box, "Entry actions", (stage.entry || []).map((a) => [`${a.kind}${a.title ? ": " + a.title : ""}${a.due ? ` (due ${a.due})` : ""}`, a.line]));
  section(box, "Lint", (stage.flags || []).map((f) => [`${f.severity} [${f.rule}] ${f.message}`, f.line]));
  for (const g of document.querySelectorAll("g.stage.selected")) g.classList.remove("selected");
  const node = document.querySelector(`g.stage[data-stage="${CSS.escape(stage.id)}"]`);
  if (node) node.classList.add("selected");
  if (stage.line) jump(stage.line, stage.end_line, false);
}

function setText(text) {
  view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text }, selection: { anchor: 0 } });
}

async function open(name, reload = false) {
  try {
    const file = await api.get(`/studio/api/file?name=${encodeURIComponent(name)}${reload ? "&reload=true" : ""}`);
    state.file = file.name;
    state.digest = file.digest;
    state.versioned = file.versioned;
    $("version-controls").hidden = !file.versioned;
    $("file").value = file.name;
    setText(file.text);
    say(reload ? `reloaded ${file.name} from disk` : "", "info");
    forceLinting(view);
  } catch (err) {
    say(err.message, "error");
  }
}

async function save(force) {
  if (!state.file) return;
  const text = view.state.doc.toString();
  try {
    const saved = await api.post("/studio/api/save", { name: state.file, text, digest: state.digest, force });
    state.digest = saved.digest;
    say(saved.message, "ok");
  } catch (err) {
    refused(err, () => save(true));
  }
}

async function saveVersion(force) {
  if (!state.file) return;
  const text = view.state.doc.toString();
  const effective = $("effective").value;
  try {
    const saved = await api.post("/studio/api/save-version", { name: state.file, text, effective, force });
    await listFiles();
    say(saved.message, "ok");
  } catch (err) {
    refused(err, () => saveVersion(true));
  }
}

function refused(err, anyway) {
  const code = err.body && err.body.error;
  if (code === "lint-errors") {
    say(err.message, "error", [["Save anyway", anyway, "save-anyway"]]);
  } else if (code === "changed-on-disk") {
    say(err.message, "error", [["Reload from disk", () => open(state.file, true), "reload"]]);
  } else {
    say(err.message, "error");
  }
}

async function listFiles() {
  const listing = await api.get("/studio/api/files");
  state.files = listing.files;
  const select = $("file");
  const current = select.value;
  select.replaceChildren();
  for (const name of listing.files) {
    const option = document.createElement("option");
    option.value = option.textContent = name;
    select.append(option);
  }
  if (current && listing.files.includes(current)) select.value = current;
  $("directory").textContent = listing.directory;
  return listing;
}

// The editor lives in a shadow root: CodeMirror then styles itself through constructed style
// sheets, which the page's CSP (style-src 'self', no inline styles) allows.
const editorRoot = $("editor").attachShadow({ mode: "open" });
const theme = EditorView.theme({
  "&": { height: "100%", fontSize: "13px", backgroundColor: "#fff" },
  ".cm-scroller": { fontFamily: "ui-monospace, SFMono-Regular, Menlo, monospace", overflow: "auto" },
  ".rule-doc": { maxWidth: "560px", marginTop: "6px" },
  ".rule-doc pre": { whiteSpace: "pre-wrap", fontSize: "11px", maxHeight: "220px", overflow: "auto", background: "#f5f7fa", padding: "6px", margin: "4px 0 0" },
  ".key-doc": { maxWidth: "480px", padding: "4px 8px" },
  ".key-doc p": { margin: "4px 0", whiteSpace: "pre-wrap" },
  ".cm-diagnosticAction": { font: "inherit", padding: "2px 8px" },
});

const view = new EditorView({
  parent: editorRoot,
  root: editorRoot,
  state: EditorState.create({
    doc: "",
    extensions: [
      lineNumbers(), highlightActiveLineGutter(), highlightActiveLine(), drawSelection(),
      history(), indentOnInput(), bracketMatching(),
      syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
      yaml(),
      lintGutter(),
      linter(check, { delay: LINT_DELAY }),
      autocompletion({ override: [schemaCompletion(() => state.schema)] }),
      hoverTooltip((v, pos) => {
        const found = keyDocAt(state.schema, v.state.doc, pos);
        if (!found) return null;
        return {
          pos: found.from, end: found.to, above: true,
          create() {
            const dom = document.createElement("div");
            dom.className = "key-doc";
            const b = document.createElement("strong");
            b.textContent = found.key;
            const p = document.createElement("p");
            p.textContent = found.text;
            dom.append(b, p);
            return { dom };
          },
        };
      }),
      keymap.of([indentWithTab, ...defaultKeymap, ...historyKeymap, ...completionKeymap, ...lintKeymap, ...searchKeymap]),
      EditorView.contentAttributes.of({ "aria-label": "Ruleset YAML" }),
      theme,
    ],
  }),
});

async function start() {
  $("save").addEventListener("click", () => save(false));
  $("save-version").addEventListener("click", () => saveVersion(false));
  $("file").addEventListener("change", (e) => open(e.target.value));
  document.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === "s") { e.preventDefault(); save(false); }
  });
  try {
    const [listing, schema, rules] = await Promise.all([
      listFiles(), api.get("/studio/api/schema"), api.get("/studio/api/rules")]);
    state.schema = schema;
    state.rules = rules;
    const wanted = new URLSearchParams(location.search).get("file");
    await open(wanted && listing.files.includes(wanted) ? wanted : listing.files[0]);
  } catch (err) {
    say(err.message, "error");
  }
  try {
    mountDeals($("deals"), api);
  } catch (err) {
    console.warn("the deals part did not start:", err);
  }
}

window.studio = { view, api, state };
start();
