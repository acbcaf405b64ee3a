// The worker table: one row per worker, updated in place as `workers` events arrive.

import { formatBytes, formatDuration } from "./format.js";

const LIVE = new Set(["starting", "running"]);

function el(tag, props = {}, text = "") {
  const node = document.createElement(tag);
  Object.assign(node, props);
  if (text) node.textContent = text;
  return node;
}

export class WorkersTable {
  /**
   * @param {HTMLTableElement} table
   * @param {{kill: (pid:number, signal:string) => void, readOnly: boolean}} actions
   */
  constructor(table, actions) {
    this.tbody = table.tBodies[0];
    this.actions = actions;
    this.workers = new Map(); // pid -> worker info
    this.rows = new Map(); // pid -> {tr, cells, errorRow}
    this.dirty = new Set();
    this.extraActions = []; // (worker, container) => void, added by other panels
    this.waiting = new Map(); // pid -> "waiting for LOCK, held by PID"
  }

  load(list) {
    for (const pid of [...this.workers.keys()]) this.remove(pid);
    this.upsert(list);
  }

  upsert(list) {
    for (const w of list) {
      this.workers.set(w.pid, w);
      this.dirty.add(w.pid);
    }
  }

  remove(pid) {
    this.workers.delete(pid);
    const row = this.rows.get(pid);
    if (row) { row.tr.remove(); row.errorRow?.remove(); this.rows.delete(pid); }
    this.dirty.delete(pid);
  }

  counts() {
    let live = 0, ended = 0;
    for (const w of this.workers.values()) LIVE.has(w.state) ? live++ : ended++;
    return { live, ended };
  }

  /** Re-render changed rows; uptime of live rows ticks every call. */
  render(nowSeconds) {
    for (const pid of this.dirty) {
      const w = this.workers.get(pid);
      if (w) this.renderRow(w);
    }
    this.dirty.clear();
    for (const [pid, row] of this.rows) {
      const w = this.workers.get(pid);
      if (w && LIVE.has(w.state)) row.cells.uptime.textContent = formatDuration(nowSeconds - w.started_at);
    }
  }

  renderRow(w) {
    let row = this.rows.get(w.pid);
    if (!row) {
      row = this.createRow(w);
      this.rows.set(w.pid, row);
      this.tbody.prepend(row.tr);
    }
    const { tr, cells } = row;
    const live = LIVE.has(w.state);
    tr.classList.toggle("ended", !live);
    tr.dataset.state = w.state;
    cells.ppid.textContent = w.ppid ?? "—";
    if (!w.task && w.role) { // a process of the watched program (mpscope run): its name and role
      cells.task.replaceChildren(el("span", {}, w.name), el("span", { className: `badge role role-${w.role}` }, w.role));
      cells.task.title = `multiprocessing.current_process().name = ${w.name}`;
    } else {
      cells.task.textContent = w.task;
      cells.task.title = JSON.stringify(w.params);
    }
    cells.state.replaceChildren(el("span", { className: `badge state-${w.state}` }, w.state));
    if (w.restarted_from) cells.state.append(el("span", { className: "hint", title: "restarted after the Manager was lost" }, ` ↻ ${w.restarted_from}`));
    const waiting = live && this.waiting.get(w.pid);
    if (waiting) cells.state.append(el("span", { className: "waiting-note" }, waiting));
    else if (live && w.waiting?.text) { // what its agent saw it wait on: "get() on q · prog.py:15"
      const since = w.waiting.since ? `, for ${formatDuration(Date.now() / 1000 - w.waiting.since)}` : "";
      cells.task.append(el("span", { className: "wait-line", title: `waiting in ${w.waiting.where ?? "?"}${since}` }, w.waiting.text));
    }
    const end = w.ended_at ?? Date.now() / 1000;
    cells.uptime.textContent = formatDuration(end - w.started_at);
    cells.cpu.textContent = live ? w.cpu_percent.toFixed(1) : "—";
    cells.rss.textContent = live ? formatBytes(w.rss) : "—";
    if (w.state === "killed") cells.exit.replaceChildren(el("span", { className: "exit-bad" }, w.signal));
    else if (w.state === "exited" && w.exitcode === null) { // a program's process nobody reaped (mpscope run)
      cells.exit.replaceChildren(el("span", { className: "hint", title: "no parent reaped it, so its exit code is unknown" }, "ended"));
    } else if (w.state === "exited") cells.exit.replaceChildren(el("span", { className: w.exitcode ? "exit-bad" : "" }, `code ${w.exitcode}`));
    else cells.exit.textContent = "";
    this.renderActions(w, cells.actions, row);
  }

  createRow(w) {
    const tr = el("tr");
    tr.dataset.pid = w.pid;
    const cells = {};
    const add = (name, cls = "") => { cells[name] = el("td", { className: cls }); tr.append(cells[name]); };
    add("pid", "pid");
    cells.pid.textContent = String(w.pid);
    add("ppid", "mono"); add("task"); add("state"); add("uptime", "num"); add("cpu", "num"); add("rss", "num");
    add("exit"); add("actions", "actions");
    return { tr, cells, errorRow: null, actionsKey: "" };
  }

  renderActions(w, cell, row) {
    const live = LIVE.has(w.state);
    const key = `${live}:${!!w.error}`;
    if (row.actionsKey === key) return;
    row.actionsKey = key;
    const buttons = [];
    if (live && !this.actions.readOnly) {
      buttons.push(el("button", {
        type: "button", className: "small kill", title: "Send SIGTERM",
        ariaLabel: `Kill ${w.pid}`, onclick: () => this.actions.kill(w.pid, "TERM"),
      }, "Kill"));
      // Named without the word "kill" so that a row has exactly one "Kill" button.
      buttons.push(el("button", {
        type: "button", className: "small kill", title: "Send SIGKILL (cannot be caught)",
        ariaLabel: `Force stop ${w.pid} (signal 9)`, onclick: () => this.actions.kill(w.pid, "KILL"),
      }, "-9"));
    }
    if (w.error) {
      buttons.push(el("button", {
        type: "button", className: "small", ariaLabel: `Traceback of ${w.pid}`,
        onclick: () => this.toggleError(w.pid),
      }, "Traceback"));
    }
    const box = el("div", { className: "row-actions" });
    box.append(...buttons);
    for (const addAction of this.extraActions) addAction(w, box);
    cell.replaceChildren(box);
  }

  toggleError(pid) {
    const row = this.rows.get(pid);
    const w = this.workers.get(pid);
    if (!row || !w) return;
    if (row.errorRow) { row.errorRow.remove(); row.errorRow = null; return; }
    const td = el("td", { colSpan: 9 });
    td.append(el("pre", { className: "error-text" }, w.error));
    row.errorRow = el("tr", { className: "error-row" });
    row.errorRow.append(td);
    row.tr.after(row.errorRow);
  }
}
