// The worker inspector: one worker's own output (kept after it ends) and its live stack.

import { fillRow, updateLine } from "./output.js";
import { VirtualList } from "./vlist.js";
import { api } from "./session.js";

export class Inspector {
  constructor({ limits = () => ({}) } = {}) {
    this.limits = limits;
    this.dialog = document.getElementById("inspector");
    this.pid = null;
    this.lines = [];
    this.view = new VirtualList(document.getElementById("inspector-output"), (row, i) => {
      const line = this.lines[i];
      fillRow(row, [["line-no", String(line.n)], ["src" + (line.stream === "stderr" ? " stderr" : ""), line.stream]], line);
      row.title = line.open ? "in progress: no newline yet" : "";
      return undefined;
    }, { follow: true });
    document.getElementById("inspector-close").addEventListener("click", () => this.dialog.close());
    document.getElementById("tab-output").addEventListener("click", () => this.showTab("output"));
    document.getElementById("tab-stack").addEventListener("click", () => this.showTab("stack"));
    this.dialog.addEventListener("close", () => { this.pid = null; });
  }

  async open(worker, tab) {
    this.pid = worker.pid;
    this.worker = worker;
    this.lines = [];
    this.loaded = false;
    // a built-in worker runs a task; a watched program's process has a name and a role
    document.getElementById("inspector-title").textContent = worker.task
      ? `Worker ${worker.pid} — ${worker.task} (${worker.state})`
      : `PID ${worker.pid} — ${worker.name ?? "process"}${worker.role ? ` · ${worker.role}` : ""} (${worker.state})`;
    if (!this.dialog.open) this.dialog.showModal();
    this.showTab(tab);
    const answer = await (await api(`/api/workers/${worker.pid}/output?since=0`)).json();
    if (this.pid !== worker.pid || answer.error) return;
    this.lines = answer.lines;
    this.loaded = true;
    const dropped = document.getElementById("inspector-dropped");
    dropped.hidden = !answer.dropped;
    const l = this.limits();
    const why = [`each worker keeps its last ${l.scrollback ?? ""} lines`.replace("  ", " ")];
    if (l.ended_output_bytes !== undefined) {
      why.push(`ended workers' output shares ${Math.round(l.ended_output_bytes / 2 ** 20)} MiB, oldest dropped first`);
    }
    dropped.textContent = `${answer.dropped} earlier lines were dropped (${why.join("; ")}).`;
    this.refresh();
  }

  /** Live lines for the open worker arrive through the same `output` events as the log; a
   * line in progress comes again (same n) each time it changes. Lines are kept in n order. */
  add(lines) {
    if (this.pid === null) return;
    let changed = false;
    for (const line of lines) {
      if (line.pid !== this.pid) continue;
      changed = true;
      const kept = this.lines;
      const last = kept.length ? kept[kept.length - 1].n : 0;
      if (line.n > last) { kept.push(line); continue; }
      let lo = 0;
      let hi = kept.length;
      while (lo < hi) { const mid = (lo + hi) >> 1; if (kept[mid].n < line.n) lo = mid + 1; else hi = mid; }
      if (lo < kept.length && kept[lo].n === line.n) updateLine(kept[lo], line);
      else if (lo > 0 || !this.loaded) kept.splice(lo, 0, line); // not one dropped before the first kept
    }
    if (changed) this.refresh();
  }

  refresh() {
    const empty = this.lines.length === 0 && this.loaded;
    const note = document.getElementById("inspector-empty");
    note.hidden = !empty || this.tab !== "output";
    if (empty) {
      const w = this.worker;
      const live = w.state === "starting" || w.state === "running";
      note.textContent = live
        ? `PID ${w.pid} has not printed anything yet. Its stdout and stderr appear here as it prints${note.dataset.liveHint ?? ""}.`
        : `PID ${w.pid} ended without printing anything to stdout or stderr.`;
    }
    document.getElementById("inspector-output").hidden = this.tab !== "output" || empty;
    this.view.setCount(this.lines.length);
    this.view.render(performance.now());
  }

  showTab(tab) {
    this.tab = tab;
    document.getElementById("tab-output").setAttribute("aria-selected", String(tab === "output"));
    document.getElementById("tab-stack").setAttribute("aria-selected", String(tab === "stack"));
    document.getElementById("inspector-stack").hidden = tab !== "stack";
    if (tab === "stack") this.loadStack();
    this.refresh();
  }

  async loadStack() {
    const box = document.getElementById("inspector-stack");
    box.replaceChildren(document.createTextNode("Asking the worker for its stack…"));
    const response = await api(`/api/workers/${this.pid}/stack`);
    const answer = await response.json();
    if (answer.error) { box.textContent = answer.error; return; }
    const parts = [];
    const refresh = document.createElement("button");
    refresh.type = "button";
    refresh.className = "small";
    refresh.textContent = "Refresh stack";
    refresh.addEventListener("click", () => this.loadStack());
    parts.push(refresh);
    const note = document.createElement("p");
    note.className = "hint";
    note.textContent = "Innermost call first; the program's own frames are marked, mpscope's own are left out.";
    parts.push(note);
    let first = null;
    for (const thread of answer.threads) {
      const h = document.createElement("h3");
      h.textContent = `Thread ${thread.name} (ident ${thread.ident})`;
      parts.push(h);
      // innermost first, as "why is it stuck" is read: where it waits, then who called that
      for (const f of [...thread.frames].reverse()) {
        if (f.kind === "mpscope") continue;
        const own = f.kind ? f.kind === "program" : f.file.includes("/workers/tasks.py");
        const frame = document.createElement("div");
        frame.className = "frame" + (own ? " task own" : "");
        const where = document.createElement("div");
        where.className = "where";
        const file = document.createElement("span");
        file.className = "file";
        file.title = f.file;
        file.textContent = `${f.file.split("/").pop()}:${f.line}`;
        where.append(file, document.createTextNode(` in ${f.function}`));
        const code = document.createElement("div");
        code.className = "code";
        code.textContent = f.code;
        frame.append(where, code);
        parts.push(frame);
        if (own && !first) first = frame;
      }
    }
    box.replaceChildren(...parts);
    first?.scrollIntoView({ block: "nearest" }); // opened at the program's innermost frame
  }
}
