// The live timeline: one row per process and thread, a bar per state, drawn in SVG as
// events arrive. Labels are SVG text nodes (textContent), never markup.

import { pageNow } from "./clock.js";

const SVG = "http://www.w3.org/2000/svg";
const ROW = 22, TOP = 22;
// the label column: narrower on a phone, so that the bars keep most of the width
const labelWidth = (width) => (width < 600 ? 130 : 250);

function el(name, attrs = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function niceStep(span) {
  const raw = span / 8;
  const p = 10 ** Math.floor(Math.log10(raw || 1));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) || p * 10;
}

export class Timeline {
  /** @param {{fitLabel?: (text: string, fits: number) => string}} options how a row's label
   * is cut to fit its column (at its end, with "…", unless said otherwise) */
  constructor(box, { fitLabel } = {}) {
    this.box = box;
    this.fitLabel = fitLabel;
    this.reset(0);
    this.serverPid = null;
    this.running = false;
    this.frame = null;
    new ResizeObserver(() => this.draw()).observe(box);
  }

  reset(startedAt) {
    this.rows = new Map();
    this.current = new Map(); // "pid:tid" -> the key of that thread's newest row
    this.startedAt = startedAt;
    this.localStart = performance.now();
    this.anchored = false; // until setStart: t = 0 is when this reset
    this.lastT = 0;
    this.box.replaceChildren();
  }

  setStart(startedAt) {
    // the server's clock decides where t = 0 is; open bars then run to the page's now (clock.js:
    // the wall clock live, the position in a replay)
    this.startedAt = startedAt;
    this.anchored = true;
  }

  setServerPid(pid) { this.serverPid = pid; }
  rowCount() { return this.rows.size; }

  setRunning(running) {
    this.running = running;
    this.schedule();
  }

  row(pid, tid, label, starting = false) {
    const thread = `${pid}:${tid}`;
    let key = this.current.get(thread) || thread;
    let row = this.rows.get(key);
    if (row && starting && row.ended && tid !== 0) {
      // a new thread that was given the ident of one that ended: a row of its own
      key = `${thread}#${this.rows.size}`;
      row = null;
    }
    if (!row) {
      const siblings = [...this.rows.values()].filter((r) => r.pid === pid);
      row = { pid, tid, label: label || "", main: siblings.length === 0, segments: [], ended: false,
        order: this.rows.size };
      this.rows.set(key, row);
      this.current.set(thread, key);
    }
    if (label && !row.label) row.label = label;
    return row;
  }

  add(event) {
    this.lastT = Math.max(this.lastT, event.t);
    if (event.kind === "end" && event.process) {
      for (const row of this.rows.values()) if (row.pid === event.pid) this.close(row, event.t);
    } else if (event.kind === "start" || event.kind === "state") {
      const starting = event.kind === "start";
      const row = this.row(event.pid, event.tid, starting ? event.label : "", starting);
      this.close(row, event.t);
      row.ended = false;
      // a state reported after the fact (who held the GIL) never reaches back over the last bar
      const previous = row.segments[row.segments.length - 1];
      const from = previous ? Math.max(event.t, previous.to) : event.t;
      row.segments.push({ state: event.state || "running", label: event.kind === "state" ? event.label : "",
        tip: event.tip, from, to: null, task: event.task }); // tip: the tooltip's text, if not the label
    } else if (event.kind === "end") {
      const key = `${event.pid}:${event.tid}`;
      const row = this.rows.get(this.current.get(key) || key);
      if (row) this.close(row, event.t);
    }
    this.schedule();
  }

  close(row, t) {
    const open = row.segments[row.segments.length - 1];
    if (open && open.to === null) open.to = Math.max(open.from, t);
    row.ended = true;
  }

  now() {
    const local = this.anchored ? Math.max(0, pageNow() - this.startedAt) : (performance.now() - this.localStart) / 1000;
    return this.running ? Math.max(this.lastT, local) : this.lastT;
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = null;
      this.draw();
      if (this.running) setTimeout(() => this.schedule(), 100);
    });
  }

  rowLabel(row, room) {
    const where = row.pid === this.serverPid ? `server ${row.pid}` : `PID ${row.pid}`;
    let text;
    if (row.tid === 0 || row.main) text = `${where} · ${row.label || "main thread"}`;
    else text = `  └ thread …${String(row.tid).slice(-5)} · ${row.label || ""}`;
    const fits = Math.floor(room / 6.6);
    if (this.fitLabel) return this.fitLabel(text, fits);
    return text.length > fits ? `${text.slice(0, fits - 1)}…` : text;
  }

  draw() {
    const rows = [...this.rows.values()].sort((a, b) => a.pid - b.pid || a.order - b.order);
    // group each process's threads under it, processes in order of first appearance
    const firstSeen = new Map();
    for (const r of this.rows.values()) if (!firstSeen.has(r.pid)) firstSeen.set(r.pid, r.order);
    rows.sort((a, b) => firstSeen.get(a.pid) - firstSeen.get(b.pid) || a.order - b.order);
    const width = Math.max(320, this.box.clientWidth);
    const height = TOP + rows.length * ROW + 6;
    const end = Math.max(this.now(), 0.001) * 1.03;
    const LABEL = labelWidth(width);
    const plot = width - LABEL - 10;
    const x = (t) => LABEL + (t / end) * plot;
    const svg = el("svg", { width, height, viewBox: `0 0 ${width} ${height}`, class: "tl-svg", role: "img",
      "aria-label": `timeline of ${rows.length} processes and threads` });
    const step = niceStep(end) * (plot < 400 ? 2 : 1); // ticks that do not overlap on a phone
    const digits = Math.max(0, Math.min(6, -Math.floor(Math.log10(step)))); // every tick a different label
    for (let t = 0; t <= end; t += step) {
      svg.append(el("line", { x1: x(t), x2: x(t), y1: TOP - 4, y2: height, class: "tl-grid" }));
      svg.append(el("text", { x: x(t) + 2, y: 12, class: "tl-tick" }, `${+t.toFixed(digits)}s`));
    }
    rows.forEach((row, i) => {
      const y = TOP + i * ROW;
      const label = el("text", { x: 4, y: y + 15, class: `tl-label${row.main ? " main" : ""}` }, this.rowLabel(row, LABEL - 8));
      label.append(el("title", {}, `PID ${row.pid} · thread ${row.tid} · ${row.label}`));
      svg.append(label);
      for (const seg of row.segments) {
        const from = x(seg.from), to = x(seg.to === null ? this.now() : seg.to);
        const w = Math.max(1.5, to - from);
        const rect = el("rect", { x: from, y: y + 3, width: w, height: ROW - 6, rx: 3,
          class: `tl-bar st-${seg.state}` });
        // a bar still open says how long it has lasted so far, one that ended how long it lasted
        const lasted = (seg.to === null ? this.now() : seg.to) - seg.from;
        const named = seg.tip || seg.label;
        rect.append(el("title", {}, `${seg.state}${named ? ` · ${named}` : ""} · ${seg.from.toFixed(3)}s → ${
          seg.to === null ? `still ${seg.state}, ${lasted.toFixed(3)}s so far` : `${seg.to.toFixed(3)}s (${lasted.toFixed(3)}s)`}`));
        svg.append(rect);
        if (seg.label && w > seg.label.length * 6.4 + 6) {
          svg.append(el("text", { x: from + 4, y: y + 15, class: "tl-bar-text" }, seg.label));
        }
      }
    });
    this.box.replaceChildren(svg);
  }
}
