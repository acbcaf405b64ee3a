// The combined output log: every worker's stdout and stderr lines, filterable, bounded.

import { setParts, VirtualList } from "./vlist.js";

const KEEP = 5000; // lines kept in the page; the server keeps each worker's own scrollback

export class OutputLog {
  constructor({ onDropped } = {}) {
    this.lines = [];
    this.shown = [];
    this.filter = { pid: "", stream: "", text: "" };
    this.pids = new Set();
    this.trimmed = 0;
    this.skipped = 0;
    this.dirty = true;
    this.onDropped = onDropped;
    this.view = new VirtualList(document.getElementById("output-log"), (row, i) => {
      const line = this.shown[i];
      row.classList.toggle("stderr", line.stream === "stderr");
      setParts(row, [
        ["src" + (line.stream === "stderr" ? " stderr" : ""), `${line.pid} ${line.stream === "stderr" ? "err" : "out"}`],
        ["line-no", String(line.n)],
        ["val", line.text],
      ]);
      row.title = `PID ${line.pid} ${line.stream} line ${line.n} at ${new Date(line.t * 1000).toLocaleTimeString()}`;
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
    this.trimmed = 0;
    this.add(lines || []);
  }

  /** `skipped`: lines printed too fast for the live stream (the server sends bounded batches). */
  add(lines, skipped = 0) {
    this.skipped += skipped;
    const wasEmpty = this.lines.length === 0;
    for (const line of lines) {
      this.lines.push(line);
      if (!this.pids.has(line.pid)) {
        this.pids.add(line.pid);
        document.getElementById("output-pid").append(new Option(String(line.pid), String(line.pid)));
      }
      if (this.matches(line)) this.shown.push(line);
    }
    if (this.lines.length > KEEP) {
      const cut = this.lines.length - KEEP;
      this.trimmed += cut;
      this.lines.splice(0, cut);
      this.shown = this.lines.filter((l) => this.matches(l));
    }
    this.dirty = true;
    if (wasEmpty) this.view.el.hidden = false;
  }

  matches(line) {
    const f = this.filter;
    return (!f.pid || String(line.pid) === f.pid) && (!f.stream || line.stream === f.stream)
      && (!f.text || line.text.toLowerCase().includes(f.text.toLowerCase()));
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
    document.getElementById("output-count").textContent =
      this.lines.length ? `${this.shown.length} of ${this.lines.length} lines` : "";
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
