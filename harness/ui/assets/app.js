// The pipeline page: draws /api/overview (graph, updates), /api/flow and /api/events, and polls
// /api/version to follow a running update. Data is written with textContent only; the one
// innerHTML is the SVG Graphviz produced on this server from escaped labels.
"use strict";

const state = {
  pipeline: null,
  version: null,
  overview: null,
  selected: null,     // dataset name shown in the details panel
  userSelected: false,
  fit: null,          // null: decide from the graph's size
  filters: { level: "", event_type: "", flow: "", update: "" },
};
const POLL_IDLE_MS = 3000;
const POLL_RUNNING_MS = 1000;

const $ = (sel) => document.querySelector(sel);

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

async function getJSON(path) {
  const response = await fetch(path, { cache: "no-store" });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function api(view, params) {
  const query = new URLSearchParams({ pipeline: state.pipeline, ...(params || {}) });
  return `/api/${view}?${query}`;
}

// --- formatting ------------------------------------------------------------------------------
const fmtInt = (n) => (n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US"));
const fmtTime = (iso) => (iso ? iso.replace("T", " ").replace("Z", "") : "–");
const fmtSecond = (iso) => (iso ? fmtTime(iso).slice(0, 19) : "–");
const shortId = (id) => (id ? id.slice(0, 8) : "–");
function fmtSeconds(s) {
  if (s === null || s === undefined) return "–";
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  const total = Math.round(s);
  const [d, h, m, sec] = [Math.floor(total / 86400), Math.floor((total % 86400) / 3600), Math.floor((total % 3600) / 60), total % 60];
  if (d) return `${d} d ${h} h`;
  if (h) return `${h} h ${m} min`;
  return `${m} min ${sec} s`;
}
const phaseName = { QUEUED: "queued", INITIALIZING: "init", SETTING_UP_TABLES: "setting up tables", RESETTING: "resetting", RUNNING: "running" };
const chip = (status) => el("span", { class: `chip ${status}`, text: String(status).replace(/_/g, " ").toLowerCase() });

// --- graph -------------------------------------------------------------------------------------
async function drawGraph() {
  const box = $("#graph");
  const response = await fetch(api("graph.svg"), { cache: "no-store" });
  if (!response.ok) {
    const body = await response.json().catch(() => ({ error: response.statusText }));
    box.replaceChildren(el("div", { class: "message error", text: body.error }));
    return;
  }
  const text = await response.text();
  const holder = document.createElement("div");
  holder.innerHTML = text.slice(text.indexOf("<svg"));
  const svg = holder.querySelector("svg");
  const byId = new Map(state.overview.graph.nodes.map((n) => [n.svg_id, n]));
  svg.querySelectorAll("g.node").forEach((g) => {
    const node = byId.get(g.id);
    if (!node) return;
    const title = g.querySelector("title"); // the hover text: the error of a failed node
    if (title) title.textContent = node.error ? `${node.name} failed in flow ${node.failed_flow}:\n${node.error}` : `${node.name}: ${node.status.replace(/_/g, " ").toLowerCase()}`;
    g.dataset.dataset = node.name;
    g.dataset.status = node.status;
    g.addEventListener("click", () => select(node.name, true));
  });
  box.replaceChildren(svg);
  applyFit();
  markSelected();
}

// Fit when the whole graph can be shown at a readable scale (>= 55 %); a big graph (50 datasets)
// stays at full size in its scrolling panel instead of shrinking into unreadable type.
const MIN_READABLE_SCALE = 0.55;
const MAX_SCALE = 1.25;

function applyFit() {
  const svg = $("#graph svg");
  if (!svg) return;
  const box = $("#graph");
  const ptToPx = 4 / 3;
  const width = parseFloat(svg.getAttribute("width")) * ptToPx;
  const height = parseFloat(svg.getAttribute("height")) * ptToPx;
  const scale = Math.min((box.clientWidth - 8) / width, (box.clientHeight - 8) / height, MAX_SCALE);
  const fit = state.fit === null ? scale >= MIN_READABLE_SCALE : state.fit;
  const applied = fit ? scale : 1;
  svg.style.width = `${Math.floor(width * applied)}px`;
  svg.style.height = `${Math.floor(height * applied)}px`;
  svg.classList.toggle("fit", fit);
  $("#fit").textContent = fit ? "Full size" : "Fit";
  $("#fit").hidden = Math.abs(scale - 1) < 0.05;
  if (!fit) scrollToSelected();
}

// At full size, bring the selected (failed) dataset into view, else the graph's left middle.
function scrollToSelected() {
  const box = $("#graph");
  const target = [...box.querySelectorAll("g.node")].find((g) => g.dataset.dataset === state.selected);
  if (target) {
    const node = target.getBoundingClientRect();
    const frame = box.getBoundingClientRect();
    box.scrollLeft += node.left + node.width / 2 - (frame.left + frame.width / 2);
    box.scrollTop += node.top + node.height / 2 - (frame.top + frame.height / 2);
  } else {
    box.scrollTop = (box.scrollHeight - box.clientHeight) / 2;
  }
}

function markSelected() {
  document.querySelectorAll("#graph g.node").forEach((g) => {
    g.classList.toggle("selected", g.dataset.dataset === state.selected);
  });
}

// --- details panel ---------------------------------------------------------------------------------
async function select(name, byUser) {
  state.selected = name;
  if (byUser) state.userSelected = true;
  markSelected();
  await drawDetails();
}

async function drawDetails() {
  const node = state.overview.graph.nodes.find((n) => n.name === state.selected);
  const body = $("#details-body");
  if (!node) {
    $("#details-title").textContent = "Dataset";
    body.replaceChildren(el("p", { class: "note", text: "Click a dataset in the graph to see its flows across updates." }));
    return;
  }
  $("#details-title").textContent = node.name;
  const figures = [];
  if (node.rows !== null) figures.push(el("dt", { text: "rows written" }), el("dd", { text: fmtInt(node.rows) }));
  if (node.dropped !== null) figures.push(el("dt", { text: "dropped" }), el("dd", { text: fmtInt(node.dropped) }));
  if (node.pass_rate !== null) {
    figures.push(el("dt", { text: "expectations" }),
      el("dd", { text: `${(node.pass_rate * 100).toFixed(1)}% passed (${fmtInt(node.passed)} passed, ${fmtInt(node.failed)} failed)` }));
  }
  const active = ["QUEUED", "STARTING", "RUNNING"].includes(node.status);
  if (!figures.length && node.status !== "NOT_RUN") {
    figures.push(el("dt", { text: "figures" }), el("dd", { text: active ? "none yet: the flow is still running" : "none: the flow did not complete in that update" }));
  }
  const parts = [
    el("dl", { class: "kv" },
      el("dt", { text: "kind" }), el("dd", { text: node.kind.replace(/_/g, " ").toLowerCase() }),
      el("dt", { text: "status" }), el("dd", {}, chip(node.status), node.update_id ? ` in update ${shortId(node.update_id)}` : ""),
      ...figures),
  ];
  if (node.error) {
    parts.push(el("h3", { text: `Error in flow ${node.failed_flow}` }), el("pre", { class: "error", id: "node-error", text: node.error }));
  }
  for (const flow of node.flows) {
    const history = await getJSON(api("flow", { name: flow }));
    parts.push(el("h3", { text: `Flow ${flow}` }), flowTable(history.runs));
  }
  body.replaceChildren(...parts);
}

function flowTable(runs) {
  if (!runs.length) return el("p", { class: "note", text: "No run yet (a view is evaluated inside the flows that read it)." });
  const rows = [];
  for (const run of runs.slice().reverse()) {
    rows.push(el("tr", {},
      el("td", { class: "mono", text: shortId(run.update_id) }),
      el("td", {}, chip(run.status)),
      el("td", { text: fmtInt(run.rows ?? run.upserted) }),
      el("td", { text: fmtSeconds(run.duration_s) }),
      el("td", { text: fmtInt(run.files_read) })));
    if (run.expectations.length) rows.push(el("tr", {}, el("td", { class: "exp", colspan: "5" }, expectationList(run, rows.length === 1))));
  }
  return el("table", { class: "flowtable" },
    el("colgroup", {}, el("col", { width: "21%" }), el("col", { width: "25%" }), el("col", { width: "16%" }), el("col", { width: "18%" }), el("col", { width: "20%" })),
    el("thead", {}, el("tr", {}, ...["update", "status", "rows", "time", "files"].map((h) => el("th", { text: h })))),
    el("tbody", {}, ...rows));
}

// Each expectation's passed / failed records of one run; runs before the newest start folded.
function expectationList(run, open) {
  const failing = run.expectations.filter((e) => e.failed).length;
  const summary = el("summary", { text: `${run.expectations.length} expectation(s), ${failing} with failed records` });
  const table = el("table", { class: "exptable" },
    el("thead", {}, el("tr", {}, el("th", { text: "expectation" }), el("th", { text: "passed" }), el("th", { text: "failed" }))),
    el("tbody", {}, ...run.expectations.map((e) => el("tr", {},
      el("td", { text: e.name }),
      el("td", { text: fmtInt(e.passed) }),
      el("td", { class: e.failed ? "failed" : "", text: fmtInt(e.failed) })))));
  const details = el("details", {}, summary, table);
  details.open = open;
  return details;
}

// --- updates -----------------------------------------------------------------------------------------
function drawUpdates() {
  const rows = state.overview.updates.map((u) => {
    const total = u.phases.reduce((sum, p) => sum + (p.seconds || 0), 0) || 1;
    const bar = el("div", { class: "phases", title: u.phases.map((p) => `${phaseName[p.state] || p.state}: ${fmtSeconds(p.seconds)}`).join("\n") },
      ...u.phases.map((p) => {
        const span = el("span", { class: `phase-${p.state}` });
        span.style.width = `${(100 * (p.seconds || 0)) / total}%`;
        return span;
      }));
    const text = el("div", { class: "phase-text", text: u.phases.filter((p) => p.state !== "QUEUED").map((p) => `${phaseName[p.state] || p.state} ${fmtSeconds(p.seconds)}`).join(" · ") });
    const tr = el("tr", { "data-update": u.update_id, class: state.filters.update === u.update_id ? "selected" : "", onclick: () => filterByUpdate(u.update_id) },
      el("td", { class: "mono", title: u.update_id, text: shortId(u.update_id) }),
      el("td", { title: u.start, text: fmtSecond(u.start) }),
      el("td", { class: "num", text: fmtSeconds(u.duration_s) }),
      el("td", {}, chip(u.state)),
      el("td", { text: u.refresh }),
      el("td", {}, bar, text),
      el("td", {}, u.error ? el("div", { class: "err", title: u.error, text: u.error.length > 240 ? `${u.error.slice(0, 240)}…` : u.error }) : ""));
    return tr;
  });
  $("#updates tbody").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: "7", class: "note", text: "No update yet." }))]));
}

function filterByUpdate(id) {
  state.filters.update = state.filters.update === id ? "" : id;
  drawUpdates();
  drawEvents();
}

// --- event log ----------------------------------------------------------------------------------------
async function drawEvents() {
  const data = await getJSON(api("events", { ...state.filters, limit: 300 }));
  const form = $("#filters");
  for (const [name, values] of Object.entries(data.choices)) {
    const select = form.elements[name];
    const current = state.filters[name];
    const options = [el("option", { value: "", text: "all" }), ...values.map((v) => el("option", { value: v, text: name === "update" ? shortId(v) : v }))];
    if (current && !values.includes(current)) options.push(el("option", { value: current, text: current }));
    select.replaceChildren(...options);
    select.value = current;
  }
  const rows = data.events.map((e) => el("tr", { "data-seq": e.seq },
    el("td", { text: fmtTime(e.timestamp) }),
    el("td", { class: `level-${e.level}`, text: e.level }),
    el("td", { text: e.event_type }),
    el("td", { text: e.flow_name || "" }),
    el("td", { class: "mono", title: e.update_id || "", text: shortId(e.update_id) }),
    el("td", {}, e.message, e.error ? el("div", { class: "err", text: e.error }) : null)));
  $("#events tbody").replaceChildren(...rows);
  $("#events-count").textContent = `${data.events.length} of ${data.total} event(s), newest first`;
}

// --- refresh loop -----------------------------------------------------------------------------------
async function refresh() {
  const overview = await getJSON(api("overview"));
  state.overview = overview;
  state.version = overview.version;
  $("#pipeline-name").textContent = overview.pipeline;
  document.title = `${overview.pipeline} · pipeline`;
  const note = overview.graph.defined_in ? `${overview.graph.nodes.length} datasets · as defined by update ${shortId(overview.graph.defined_in)}` : "no update has defined the graph yet";
  $("#graph-note").textContent = note;
  if (!state.userSelected) {
    const failed = overview.graph.nodes.find((n) => n.status === "FAILED");
    state.selected = failed ? failed.name : state.selected;
  }
  drawUpdates();
  await Promise.all([drawGraph(), drawEvents()]);
  await drawDetails();
  const running = overview.updates.find((u) => u.running);
  const live = $("#live");
  live.classList.toggle("running", Boolean(running));
  live.textContent = running
    ? `live · update ${shortId(running.update_id)} ${running.state.replace(/_/g, " ").toLowerCase()} for ${fmtSeconds(running.duration_s)}`
    : `up to date · event log version ${overview.version} · checked ${new Date().toISOString().slice(11, 19)} UTC`;
  document.body.dataset.ready = "true";
  return Boolean(running);
}

async function poll() {
  let running = false;
  try {
    const { version } = await getJSON(api("version"));
    running = Boolean(state.overview && state.overview.updates.some((u) => u.running));
    if (version !== state.version || running) running = await refresh();
    else $("#live").textContent = $("#live").textContent.replace(/checked .*$/, `checked ${new Date().toISOString().slice(11, 19)} UTC`);
  } catch (error) {
    $("#live").textContent = `cannot reach the harness: ${error.message}`;
  }
  setTimeout(poll, running ? POLL_RUNNING_MS : POLL_IDLE_MS);
}

async function start() {
  const { pipelines, first } = await getJSON("/api/pipelines");
  const params = new URLSearchParams(location.search);
  const requested = params.get("pipeline");
  if (params.get("dataset")) {
    state.selected = params.get("dataset");
    state.userSelected = true;
  }
  state.pipeline = pipelines.includes(requested) ? requested : first;
  const chooser = $("#pipeline-select");
  if (pipelines.length > 1) {
    chooser.replaceChildren(...pipelines.map((p) => el("option", { value: p, text: p })));
    chooser.value = state.pipeline;
    chooser.hidden = false;
    chooser.addEventListener("change", () => { location.search = `?pipeline=${encodeURIComponent(chooser.value)}`; });
  }
  $("#filters").addEventListener("change", (event) => {
    state.filters[event.target.name] = event.target.value;
    drawUpdates();
    drawEvents();
  });
  $("#fit").addEventListener("click", () => {
    state.fit = !$("#graph svg")?.classList.contains("fit");
    applyFit();
  });
  try {
    const running = await refresh();
    setTimeout(poll, running ? POLL_RUNNING_MS : POLL_IDLE_MS);
  } catch (error) {
    $("#graph").replaceChildren(el("div", { class: "message error", text: error.message }));
    $("#live").textContent = "error";
    document.body.dataset.ready = "error";
    setTimeout(poll, POLL_IDLE_MS);
  }
}

start();
