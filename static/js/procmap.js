// The process map: the Workers panel's "Map" view. The processes as a tree by parent on the
// left, the shared objects in a column on the right, and between them who waits on what (red
// arrows), who holds a lock, items per second into and out of each object, and a deadlock
// cycle highlighted — drawn as one SVG from the page's model (procmap-graph.js builds the
// graph), at most once per animation frame and only while the view is shown.

import { FlowCounter, formatRate } from "./procmap-flows.js";
import { buildGraph } from "./procmap-graph.js";

const SVG = "http://www.w3.org/2000/svg";
const ROW = 44; // a node's row
const NODE_H = 36;
const TOP = 22; // the column captions
const PAD = 6;
const INDENT = 14; // a child under its parent
const MIN_WIDTH = 330; // narrower boxes scroll sideways inside themselves
const VIEW_KEY = "mpscope.workersView";
const MIN_INTERVAL = 100; // ms between two looks at the model

function svg(tag, attrs = {}, text = "") {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text) node.textContent = text;
  return node;
}

const measure = document.createElement("canvas").getContext("2d");
const fitted = new Map(); // "font|width|text" -> the cut text: most texts are the same from one draw to the next
/** `text` cut with an ellipsis to `width` px in `font` (the whole text is in the node's title). */
function fit(text, width, font) {
  const key = `${font}|${width}|${text}`;
  let cut = fitted.get(key);
  if (cut !== undefined) return cut;
  measure.font = font;
  cut = text;
  if (measure.measureText(text).width > width) {
    let lo = 0, hi = text.length;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (measure.measureText(`${text.slice(0, mid)}…`).width <= width) lo = mid; else hi = mid - 1;
    }
    cut = `${text.slice(0, lo)}…`;
  }
  if (fitted.size > 5000) fitted.clear(); // bounded
  fitted.set(key, cut);
  return cut;
}
const FONT = getComputedStyle(document.body).fontFamily || "system-ui, sans-serif";

export class ProcessMap {
  /**
   * @param {{box: HTMLElement, table: HTMLElement, tabs: HTMLElement[], workers: Map, objects: Map,
   *   requestRender: () => void}} parts  the map's box, the table view it alternates with, the
   *   two tabs (Table, Map), the model's workers and objects (by PID, by id) and the page's
   *   once-per-frame render request
   */
  constructor({ box, table, tabs, workers, objects, requestRender }) {
    Object.assign(this, { box, table, tabs, workers, objects, requestRender });
    this.flows = new FlowCounter();
    this.diagnoses = [];
    this.drawnKey = "";
    this.builtAt = -Infinity;
    this.later = null;
    this.note = box.appendChild(document.createElement("p"));
    this.note.className = "pm-note";
    this.note.setAttribute("role", "status");
    this.scroller = box.appendChild(document.createElement("div"));
    this.scroller.className = "pm-scroll";
    this.scroller.tabIndex = 0; // scrolled with the keyboard at 390 px
    this.scroller.setAttribute("aria-label", "Process map");
    this.legend = box.appendChild(document.createElement("p"));
    this.legend.className = "pm-legend hint";
    this.legend.innerHTML = '<span class="pm-key wait">waits for</span> <span class="pm-key hold">held by</span> ' +
      '<span class="pm-key flow">puts / gets (items/s)</span> <span class="pm-key cycle">deadlock cycle</span>';
    tabs.forEach((tab, i) => {
      tab.addEventListener("click", () => this.show(tab.id === "view-map" ? "map" : "table", true));
      tab.addEventListener("keydown", (event) => { // arrow keys move between the tabs (ARIA tabs)
        const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
        if (!step) return;
        event.preventDefault();
        const next = tabs[(i + step + tabs.length) % tabs.length];
        next.focus();
        next.click();
      });
    });
    new ResizeObserver(() => { if (!this.box.hidden) this.requestRender(); }).observe(box);
    let saved = null;
    try { saved = localStorage.getItem(VIEW_KEY); } catch { /* storage may be off */ }
    this.show(saved === "map" ? "map" : "table", false);
  }

  /** Show the table or the map (and remember the choice for the next visit). */
  show(view, remember) {
    this.view = view;
    this.table.hidden = view !== "table";
    this.box.hidden = view !== "map";
    for (const tab of this.tabs) {
      const on = (tab.id === "view-map") === (view === "map");
      tab.setAttribute("aria-selected", String(on));
      tab.tabIndex = on ? 0 : -1;
    }
    if (remember) try { localStorage.setItem(VIEW_KEY, view); } catch { /* storage may be off */ }
    this.requestRender();
  }

  /** The diagnoses in force (a snapshot's or a `diagnoses` event's): a deadlock's cycle is highlighted. */
  setDiagnoses(items) {
    this.diagnoses = items || [];
    this.requestRender();
  }

  /** Called on each page render: redraw when the view is shown and what it draws changed. */
  render() {
    if (this.box.hidden) return;
    // at most 10 looks a second: a busy model changes every frame, and a map is read, not
    // watched frame by frame (the last change is drawn when the 100 ms are over)
    const now = performance.now();
    if (now - this.builtAt < MIN_INTERVAL) {
      if (!this.later) this.later = setTimeout(() => { this.later = null; this.requestRender(); }, MIN_INTERVAL);
      return;
    }
    this.builtAt = now;
    const graph = buildGraph({ workers: this.workers, objects: this.objects, diagnoses: this.diagnoses, flows: this.flows });
    const width = Math.max(MIN_WIDTH, this.scroller.clientWidth - 2);
    const key = JSON.stringify([width, graph.procs.map((p) => [p.key, p.depth, p.label, p.sub, p.ended, p.blocked, p.title]),
      graph.objects.map((o) => [o.key, o.sub, o.title]), graph.edges.map((e) => [e.type, e.from, e.to, e.title, e.cycle,
        e.rate ? formatRate(e.rate) : ""]), [...graph.cycle], graph.hidden]);
    if (key === this.drawnKey) return;
    this.drawnKey = key;
    this.draw(graph, width);
  }

  draw(graph, room) {
    const focused = document.activeElement?.closest?.(".pm-node")?.dataset.key;
    const clamp = (v, lo, hi) => Math.round(Math.min(hi, Math.max(lo, v)));
    // a wide box: columns of a readable width and a gap that does not push the objects out of
    // sight; a phone: the whole box, shared out (the texts are cut, whole in their titles)
    const wide = room >= 640;
    const procW = wide ? clamp(room * 0.34, 220, 340) : Math.round(room * 0.45);
    const objW = wide ? clamp(room * 0.26, 180, 300) : Math.round(room * 0.32);
    const gap = wide ? clamp(room - procW - objW - 2 * PAD, 120, 260) : room - procW - objW - 2 * PAD;
    const objX = PAD + procW + gap;
    const width = objX + objW + PAD;
    const pos = new Map(); // node key -> {x, y, w, side}
    graph.procs.forEach((p, i) => {
      const indent = Math.min(p.depth, 6) * INDENT;
      pos.set(p.key, { x: PAD + indent, y: TOP + i * ROW, w: procW - indent, proc: true });
    });
    this.placeObjects(graph, pos, objX, objW);
    const rows = Math.max(graph.procs.length, ...[...pos.values()].map((p) => (p.y - TOP) / ROW + 1), 1);
    const height = TOP + rows * ROW;
    const root = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, class: "pm-svg", role: "group",
      "aria-label": `Process map: ${graph.procs.length} processes, ${graph.objects.length} objects` });
    root.append(this.markers(),
      svg("text", { x: PAD, y: 14, class: "pm-caption" }, "Processes"),
      svg("text", { x: objX, y: 14, class: "pm-caption" }, graph.objects.length ? "Shared objects" : ""));
    for (const p of graph.procs) { // the tree's elbows
      if (!p.parent || !pos.has(p.parent)) continue;
      const a = pos.get(p.parent), b = pos.get(p.key);
      root.append(svg("path", { class: "pm-tree", d: `M${a.x + 7} ${a.y + NODE_H} V${b.y + NODE_H / 2} H${b.x}` }));
    }
    const ports = this.ports(graph.edges);
    this.placed = []; // the items-per-second figures drawn so far: [x, y]
    graph.edges.forEach((e, i) => root.append(this.edge(e, i, pos, ports)));
    for (const p of graph.procs) root.append(this.node(p, pos.get(p.key), graph.cycle.has(p.key), "pm-proc"));
    for (const o of graph.objects) root.append(this.node(o, pos.get(o.key), graph.cycle.has(o.key), "pm-obj"));
    this.scroller.replaceChildren(root);
    if (focused) root.querySelector(`.pm-node[data-key="${CSS.escape(focused)}"]`)?.focus();
    this.noteText(graph);
  }

  noteText(graph) {
    const parts = [];
    const pids = graph.procs.filter((p) => graph.cycle.has(p.key)).map((p) => p.pid);
    if (pids.length) parts.push(`Deadlock: ${pids.join(", ")} wait on each other (in red).`);
    if (!graph.procs.length) parts.push("No process to draw yet.");
    if (graph.hidden.procs) parts.push(`${graph.hidden.procs} more processes not drawn.`);
    if (graph.hidden.objects) parts.push(`${graph.hidden.objects} more objects not drawn.`);
    this.note.textContent = parts.join(" ");
    this.note.hidden = parts.length === 0;
    this.note.classList.toggle("bad", pids.length > 0);
  }

  /** Each object in the row nearest the processes it is joined to (fewer crossings), never two in a row. */
  placeObjects(graph, pos, x, w) {
    const rowOf = new Map(graph.procs.map((p, i) => [p.key, i]));
    const want = graph.objects.map((o, order) => {
      const rows = graph.edges.filter((e) => e.from === o.key || e.to === o.key)
        .map((e) => rowOf.get(e.from === o.key ? e.to : e.from)).filter((r) => r !== undefined);
      return { o, order, at: rows.length ? rows.reduce((a, b) => a + b, 0) / rows.length : Infinity };
    });
    want.sort((a, b) => a.at - b.at || a.order - b.order);
    let next = 0;
    for (const { o, at } of want) {
      const row = Number.isFinite(at) ? Math.max(next, Math.round(at)) : next;
      pos.set(o.key, { x, y: TOP + row * ROW, w, proc: false });
      next = row + 1;
    }
  }

  /** Where each edge leaves and enters its nodes: spread over the node's height. */
  ports(edges) {
    const at = new Map();
    edges.forEach((e, i) => {
      for (const k of [e.from, e.to]) {
        if (!at.has(k)) at.set(k, []);
        at.get(k).push(i);
      }
    });
    const offset = new Map();
    for (const [k, list] of at) {
      const step = Math.min(7, (NODE_H - 10) / Math.max(1, list.length - 1));
      list.forEach((i, n) => offset.set(`${i}|${k}`, (n - (list.length - 1) / 2) * step));
    }
    return (i, k) => offset.get(`${i}|${k}`) || 0;
  }

  edge(e, i, pos, ports) {
    const a = pos.get(e.from), b = pos.get(e.to);
    const ya = a.y + NODE_H / 2 + ports(i, e.from), yb = b.y + NODE_H / 2 + ports(i, e.to);
    let d, mid;
    if (a.proc && b.proc) { // a join: a loop out to the right of the two processes
      const xa = a.x + a.w, xb = b.x + b.w, bulge = Math.max(xa, xb) + 36 + Math.abs(yb - ya) / 8;
      d = `M${xa} ${ya} C${bulge} ${ya} ${bulge} ${yb} ${xb + 2} ${yb}`;
      mid = [bulge - 9, (ya + yb) / 2];
    } else {
      const xa = a.proc ? a.x + a.w : a.x, xb = b.proc ? b.x + b.w + 2 : b.x - 2;
      const c = (xb - xa) / 2;
      d = `M${xa} ${ya} C${xa + c} ${ya} ${xb - c} ${yb} ${xb} ${yb}`;
      mid = [(xa + xb) / 2, (ya + yb) / 2];
    }
    const type = e.type === "join" ? "wait" : e.type;
    const g = svg("g", { class: `pm-edge pm-${type}${e.cycle ? " pm-cycle" : ""}`, "data-from": e.from, "data-to": e.to });
    g.append(svg("title", {}, e.title), svg("path", { d, "marker-end": `url(#pm-head-${e.cycle ? "cycle" : type})` }));
    if (e.type === "flow" && e.rate > 0) {
      let y = mid[1] - 3; // moved down past the figures already placed near it, never on them
      while (this.placed.some(([x0, y0]) => Math.abs(x0 - mid[0]) < 44 && Math.abs(y0 - y) < 12)) y += 12;
      this.placed.push([mid[0], y]);
      g.append(svg("text", { x: mid[0], y, class: "pm-rate", "text-anchor": "middle" }, `${formatRate(e.rate)}/s`));
    }
    return g;
  }

  markers() {
    const defs = svg("defs");
    for (const type of ["wait", "hold", "flow", "cycle"]) {
      const m = svg("marker", { id: `pm-head-${type}`, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 8,
        markerHeight: 8, markerUnits: "userSpaceOnUse", orient: "auto", class: `pm-head pm-head-${type}` });
      m.append(svg("path", { d: "M0 0 L10 5 L0 10 z" }));
      defs.append(m);
    }
    return defs;
  }

  node(n, at, inCycle, cls) {
    const ended = n.ended ? " pm-ended" : "";
    const waiting = n.blocked ? " pm-waiting" : "";
    const g = svg("g", { class: `pm-node ${cls}${ended}${waiting}${inCycle ? " pm-in-cycle" : ""}`, "data-key": n.key,
      transform: `translate(${at.x} ${at.y})`, tabindex: 0, role: "img", "aria-label": n.title.replace(/\n/g, " · ") });
    if (n.pid !== undefined) g.dataset.pid = n.pid; else Object.assign(g.dataset, { object: n.id, kind: n.kind });
    if (n.parent) g.dataset.parent = n.parent;
    // an object's kind, unless its name says it already ("shared dict d")
    const first = n.pid !== undefined ? n.label
      : n.name.toLowerCase().includes(n.kind.toLowerCase()) ? n.name : `${n.kind} ${n.name}`;
    g.append(svg("title", {}, n.title), svg("rect", { width: at.w, height: NODE_H, rx: 6 }),
      svg("text", { x: 8, y: 15, class: "pm-label" }, fit(first, at.w - 14, `600 12px ${FONT}`)),
      svg("text", { x: 8, y: 29, class: "pm-sub" }, fit(n.sub || "", at.w - 14, `11px ${FONT}`)));
    return g;
  }
}
