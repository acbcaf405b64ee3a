// The combined output log: every worker's stdout and stderr lines, filterable, bounded.
//
// Each line comes rendered by the server as a terminal shows it (webapp/terminal.py):
// `rendered` (plain text: `\r` redraws, `\b` and escapes applied) and `styles`, its SGR
// runs. A line printed in pieces comes as `open` (in progress) and again, same pid and n,
// each time it changes, until its newline: the page keeps one row for it.

import { VirtualList } from "./vlist.js";

const KEEP = 5000; // lines kept in the page; the server keeps each worker's own scrollback
const PID_COLOURS = 8; // PIDs are told apart by colour, in the order they first printed

// -- a line's styles, as the SGR parameters the server sends ("1;31", "38;5;208") ---------------
const FLAG_CLASS = { 1: "t-bold", 2: "t-faint", 3: "t-italic", 4: "t-underline", 8: "t-hidden", 9: "t-strike" };
const styleCache = new Map();

/** xterm's colour N (16-255) as rgb(); 0-15 are themed classes instead. */
function xterm(n) {
  if (n >= 232) { const v = 8 + (n - 232) * 10; return `rgb(${v}, ${v}, ${v})`; }
  const c = n - 16;
  const level = (x) => (x ? 55 + x * 40 : 0);
  return `rgb(${level(Math.floor(c / 36))}, ${level(Math.floor(c / 6) % 6)}, ${level(c % 6)})`;
}

/** One SGR parameter string as {classes, fg, bg}: a colour is a class ("c3") or an rgb(). */
function parseSgr(sgr) {
  let found = styleCache.get(sgr);
  if (found) return found;
  const classes = [];
  let fg = null;
  let bg = null;
  let inverse = false;
  const p = sgr.split(";").map(Number);
  for (let i = 0; i < p.length; i++) {
    const code = p[i];
    if (FLAG_CLASS[code]) classes.push(FLAG_CLASS[code]);
    else if (code === 7) inverse = true;
    else if (code >= 30 && code <= 37) fg = { cls: code - 30 };
    else if (code >= 90 && code <= 97) fg = { cls: code - 90 + 8 };
    else if (code >= 40 && code <= 47) bg = { cls: code - 40 };
    else if (code >= 100 && code <= 107) bg = { cls: code - 100 + 8 };
    else if (code === 38 || code === 48) {
      let colour;
      if (p[i + 1] === 5) { const n = p[i + 2]; colour = n < 16 ? { cls: n } : { rgb: xterm(n) }; i += 2; }
      else { colour = { rgb: `rgb(${p[i + 2]}, ${p[i + 3]}, ${p[i + 4]})` }; i += 4; }
      if (code === 38) fg = colour; else bg = colour;
    }
  }
  if (inverse) { [fg, bg] = [bg || { cls: "fg" }, fg || { cls: "bg" }]; }
  if (fg && fg.cls !== undefined) classes.push(`fg-${fg.cls}`);
  if (bg && bg.cls !== undefined) classes.push(`bg-${bg.cls}`);
  found = { className: classes.join(" "), color: fg && fg.rgb || "", background: bg && bg.rgb || "" };
  styleCache.set(sgr, found);
  return found;
}

/** Write a line as the terminal shows it into `span`: text nodes and styled spans, never HTML. */
export function fillLine(span, line) {
  const text = line.rendered ?? line.text;
  const styles = line.styles;
  const key = styles ? `${text}\u0000${JSON.stringify(styles)}` : text;
  if (span.lineKey === key) return;
  span.lineKey = key;
  if (!styles) { span.textContent = text; return; }
  // the server counts code points; a JS string counts UTF-16 units
  const chars = /[\uD800-\uDFFF]/.test(text) ? Array.from(text) : null;
  const slice = chars ? (a, b) => chars.slice(a, b).join("") : (a, b) => text.slice(a, b);
  const length = chars ? chars.length : text.length;
  const parts = [];
  let at = 0;
  for (const [start, end, sgr] of styles) {
    if (start > at) parts.push(document.createTextNode(slice(at, start)));
    const run = document.createElement("span");
    const style = parseSgr(sgr);
    run.className = style.className;
    if (style.color) run.style.color = style.color; // CSSOM: allowed by the page's strict CSP
    if (style.background) run.style.backgroundColor = style.background;
    run.textContent = slice(start, end);
    parts.push(run);
    at = end;
  }
  if (at < length) parts.push(document.createTextNode(slice(at, length)));
  span.replaceChildren(...parts);
}

/** Fill an output row: [className, text] label spans, then the line itself. */
export function fillRow(row, labels, line) {
  const count = labels.length + 1;
  while (row.children.length < count) row.append(document.createElement("span"));
  while (row.children.length > count) row.lastChild.remove();
  labels.forEach(([cls, text], i) => {
    const span = row.children[i];
    if (span.className !== cls) span.className = cls;
    if (span.textContent !== text) span.textContent = text;
  });
  const val = row.children[labels.length];
  if (val.className !== "val") val.className = "val";
  fillLine(val, line);
  row.classList.toggle("stderr", line.stream === "stderr");
  row.classList.toggle("open", Boolean(line.open));
}

/** Put a new state of a line (same pid and n) into the one kept. */
export function updateLine(kept, line) {
  kept.t = line.t;
  kept.text = line.text;
  kept.rendered = line.rendered;
  kept.styles = line.styles;
  kept.open = line.open;
}

export class OutputLog {
  constructor({ onDropped } = {}) {
    this.lines = [];
    this.shown = [];
    this.filter = { pid: "", stream: "", text: "" };
    this.pids = new Map(); // pid -> its colour's index
    this.byKey = new Map(); // "pid:n" -> the line kept, to update a line in progress
    this.trimmed = 0;
    this.skipped = 0;
    this.dirty = true;
    this.onDropped = onDropped;
    this.runs = new Set(); // start times of the runs marked in the log (Run again)
    this.view = new VirtualList(document.getElementById("output-log"), (row, i) => {
      const line = this.shown[i];
      row.classList.toggle("run-marker", Boolean(line.marker));
      if (line.marker) {
        fillRow(row, [["src", "—"], ["line-no", ""]], line);
        row.title = line.text;
        return undefined;
      }
      const err = line.stream === "stderr";
      fillRow(row, [
        [`src pid pid-c${this.pids.get(line.pid)}${err ? " stderr" : ""}`, `${line.pid} ${err ? "err" : "out"}`],
        ["line-no", String(line.n)],
      ], line);
      const when = new Date(line.t * 1000).toLocaleTimeString();
      row.title = `PID ${line.pid} ${line.stream} line ${line.n} at ${when}${line.open ? " (in progress: no newline yet)" : ""}`;
      return undefined;
    }, { follow: true });
    const pidSelect = document.getElementById("output-pid");
    pidSelect.addEventListener("change", () => this.setFilter({ pid: pidSelect.value }));
    const stream = document.getElementById("output-stream");
    stream.addEventListener("change", () => this.setFilter({ stream: stream.value }));
    const text = document.getElementById("output-text");
    text.addEventListener("input", () => this.setFilter({ text: text.value }));
    document.getElementById("output-show-all").addEventListener("click", () => {
      pidSelect.value = stream.value = text.value = "";
      this.setFilter({ pid: "", stream: "", text: "" });
    });
  }

  /** Start over from a snapshot's recent lines (the page may open after they were printed). */
  load(lines) {
    this.lines = [];
    this.shown = [];
    this.byKey.clear();
    this.runs.clear();
    this.trimmed = 0;
    this.add(lines || []);
  }

  /** `skipped`: lines printed too fast for the live stream (the server sends bounded batches). */
  add(lines, skipped = 0) {
    this.skipped += skipped;
    const wasEmpty = this.lines.length === 0;
    let refilter = false;
    for (const line of lines) {
      const key = `${line.pid}:${line.n}`;
      const kept = this.byKey.get(key);
      if (kept) { // a line in progress, again: same row
        const was = this.matches(kept);
        updateLine(kept, line);
        if (this.matches(kept) !== was) refilter = true;
        continue;
      }
      this.lines.push(line);
      this.byKey.set(key, line);
      if (!this.pids.has(line.pid)) {
        this.pids.set(line.pid, this.pids.size % PID_COLOURS);
        document.getElementById("output-pid").append(new Option(String(line.pid), String(line.pid)));
      }
      if (this.matches(line)) this.shown.push(line);
    }
    if (this.lines.length > KEEP) {
      const cut = this.lines.length - KEEP;
      this.trimmed += cut;
      for (const old of this.lines.splice(0, cut)) this.byKey.delete(`${old.pid}:${old.n}`);
      refilter = true;
    }
    if (refilter) this.shown = this.lines.filter((l) => this.matches(l));
    this.dirty = true;
    if (wasEmpty) this.view.el.hidden = false;
  }

  /** A separator where a new run of the program (Run again) started at `startedAt`, after
   * the lines printed before then: none before the first line printed. */
  markRun(startedAt, text) {
    if (!startedAt || this.runs.has(startedAt)) return;
    let at = this.lines.length;
    while (at > 0 && (this.lines[at - 1].t ?? 0) >= startedAt) at--;
    if (at === 0) return;
    this.runs.add(startedAt);
    this.lines.splice(at, 0, { marker: true, t: startedAt, text, rendered: text, styles: null });
    this.shown = this.lines.filter((l) => this.matches(l));
    this.dirty = true;
  }

  matches(line) {
    if (line.marker) return true;
    const f = this.filter;
    return (!f.pid || String(line.pid) === f.pid) && (!f.stream || line.stream === f.stream)
      && (!f.text || (line.rendered ?? line.text).toLowerCase().includes(f.text.toLowerCase()));
  }

  setFilter(change) {
    Object.assign(this.filter, change);
    this.shown = this.lines.filter((l) => this.matches(l));
    this.dirty = true;
    this.view.atBottom = true;
    this.render(performance.now());
  }

  showPid(pid) {
    document.getElementById("output-pid").value = String(pid);
    this.setFilter({ pid: String(pid) });
  }

  /** "No line from PID 12 on stderr contains "x": all 86 lines are hidden by the filter." */
  noMatchText() {
    const f = this.filter;
    const parts = [f.pid && `from PID ${f.pid}`, f.stream && `on ${f.stream}`, f.text && `contains "${f.text}"`];
    const n = this.lines.length;
    return `No line ${parts.filter(Boolean).join(" ")}: all ${n} line${n === 1 ? " is" : "s are"} hidden by the filter.`;
  }

  render(now) {
    if (!this.dirty) return;
    this.dirty = false;
    this.view.setCount(this.shown.length);
    this.view.render(now);
    const markers = this.runs.size;
    document.getElementById("output-count").textContent =
      this.lines.length > markers ? `${this.shown.length - markers} of ${this.lines.length - markers} lines` : "";
    document.getElementById("output-empty").hidden = this.lines.length > 0;
    const noMatch = this.lines.length > 0 && this.shown.length === 0;
    document.getElementById("output-nomatch").hidden = !noMatch;
    if (noMatch) document.getElementById("output-nomatch-text").textContent = this.noMatchText();
    this.view.el.hidden = this.shown.length === 0;
    const dropped = document.getElementById("output-dropped");
    dropped.hidden = this.trimmed === 0 && this.skipped === 0;
    const parts = [];
    if (this.trimmed) parts.push(`${this.trimmed} older lines dropped from this view`);
    if (this.skipped) parts.push(`${this.skipped} lines printed too fast to show live`);
    dropped.textContent = `${parts.join("; ")} (each worker's last lines stay available in its own panel).`;
  }
}
