// The worker table: one row per worker, updated in place as `workers` events arrive.
// Built-in workers are listed newest first; a watched program's processes (`tree`) as its
// process tree: the main process first (and kept in view), each child under its parent,
// ended children folded under a "N ended" row of their parent.

import { formatBytes, formatDuration } from "./format.js";
import { pageNow } from "./clock.js";

const LIVE = new Set(["starting", "running"]);
const COLUMNS = 9;
// Pool.terminate() (and leaving a `with Pool(...)` block) ends every worker with SIGTERM
const poolTerminated = (w) => w.state === "killed" && w.role === "pool" && w.signal === "SIGTERM";

function el(tag, props = {}, text = "") {
  const node = document.createElement(tag);
  Object.assign(node, props);
  if (text) node.textContent = text;
  return node;
}

export class WorkersTable {
  /**
   * @param {HTMLTableElement} table
   * @param {{kill: (pid:number, signal:string) => void, readOnly: boolean, tree?: boolean}} actions
   */
  constructor(table, actions) {
    this.table = table;
    this.tbody = table.tBodies[0];
    this.tree = Boolean(actions.tree);
    this.expanded = new Set(); // parents whose ended children are shown (tree)
    this.folds = new Map(); // parent pid -> its "N ended" row (tree)
    this.treeDirty = true;
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
      const was = this.workers.get(w.pid);
      if (!was || was.ppid !== w.ppid || LIVE.has(was.state) !== LIVE.has(w.state)) this.treeDirty = true;
      this.workers.set(w.pid, w);
      this.dirty.add(w.pid);
    }
  }

  remove(pid) {
    this.workers.delete(pid);
    const row = this.rows.get(pid);
    if (row) { row.tr.remove(); row.errorRow?.remove(); this.rows.delete(pid); }
    this.dirty.delete(pid);
    this.treeDirty = true;
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
    if (this.tree && this.treeDirty) this.layoutTree();
    for (const [pid, row] of this.rows) {
      const w = this.workers.get(pid);
      if (!w || !LIVE.has(w.state)) continue;
      // written when it reads differently only: each write re-lays out the table (every frame)
      const uptime = formatDuration(nowSeconds - w.started_at);
      if (row.cells.uptime.textContent !== uptime) row.cells.uptime.textContent = uptime;
    }
  }

  renderRow(w) {
    let row = this.rows.get(w.pid);
    if (!row) {
      row = this.createRow(w);
      this.rows.set(w.pid, row);
      this.tbody.prepend(row.tr);
      this.treeDirty = true;
    }
    const { tr, cells } = row;
    const live = LIVE.has(w.state);
    const waiting = live && this.waiting.get(w.pid);
    const waitTitle = !waiting && live && w.waiting?.text
      ? `waiting in ${w.waiting.where ?? "?"}${w.waiting.since ? `, for ${formatDuration(pageNow() - w.waiting.since)}` : ""}`
      : "";
    // A watched program's process sends new facts at each wait it enters (at 10,000 changes/s,
    // every frame): the row is rebuilt only when what it shows reads differently (live
    // uptimes tick in render()).
    const shown = JSON.stringify([w.state, w.ppid, w.task, w.name, w.role, w.params, w.note, w.restarted_from,
      waiting, w.waiting?.text, waitTitle, w.started_at, w.ended_at, w.cpu_percent, w.rss, w.signal, w.exitcode, w.error]);
    if (row.shown === shown) return;
    row.shown = shown;
    tr.classList.toggle("ended", !live);
    tr.dataset.state = w.state;
    cells.ppid.textContent = w.ppid ?? "—";
    if (!w.task && w.role) { // a process of the watched program (mpscope run): its name and role
      cells.task.replaceChildren(el("span", { className: "pname" }, w.name), el("span", { className: `badge role role-${w.role}` }, w.role));
      cells.task.title = `multiprocessing.current_process().name = ${w.name}`;
    } else {
      cells.task.textContent = w.task;
      cells.task.title = JSON.stringify(w.params);
    }
    const terminated = poolTerminated(w);
    tr.classList.toggle("pool-terminated", terminated);
    cells.state.replaceChildren(el("span", { className: `badge state-${terminated ? "exited" : w.state}` }, w.state));
    // listed by kernel parentage, without (or no longer with) an agent: no stack or waits, Kill works
    if (live && w.note) cells.state.append(el("span", { className: "hint", title: w.note }, " · no agent"));
    if (w.restarted_from) cells.state.append(el("span", { className: "hint", title: "restarted after the Manager was lost" }, ` ↻ ${w.restarted_from}`));
    if (waiting) cells.state.append(el("span", { className: "waiting-note", title: waiting }, waiting));
    else if (waitTitle) { // what its agent saw it wait on: "get() on q · prog.py:15"
      cells.task.append(el("span", { className: "wait-line", title: waitTitle }, w.waiting.text));
    }
    const end = w.ended_at ?? pageNow();
    cells.uptime.textContent = formatDuration(end - w.started_at);
    cells.cpu.textContent = live ? w.cpu_percent.toFixed(1) : "—";
    cells.rss.textContent = live ? formatBytes(w.rss) : "—";
    if (terminated) {
      cells.exit.replaceChildren(el("span", { className: "hint", title: "Pool.terminate() (also at the end of a `with Pool(...)` block) stops every worker with SIGTERM: how a Pool ends, not a failure" }, `${w.signal} · pool ended`));
    } else if (w.state === "killed") cells.exit.replaceChildren(el("span", { className: "exit-bad" }, w.signal));
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

  /** The program's process tree: main first, children under their parent (oldest first), ended
   * children folded under a "N ended" row of their parent; the main process stays in view. */
  layoutTree() {
    this.treeDirty = false;
    const children = new Map(); // ppid -> [worker]
    const roots = [];
    for (const w of this.workers.values()) {
      if (w.ppid != null && w.ppid !== w.pid && this.workers.has(w.ppid)) {
        if (!children.has(w.ppid)) children.set(w.ppid, []);
        children.get(w.ppid).push(w);
      } else roots.push(w);
    }
    const older = (a, b) => (a.started_at ?? 0) - (b.started_at ?? 0) || a.pid - b.pid;
    roots.sort((a, b) => (b.role === "main") - (a.role === "main") || older(a, b));
    const order = [];
    const seen = new Set();
    const usedFolds = new Set();
    const visit = (w, depth, shown) => {
      if (seen.has(w.pid)) return;
      seen.add(w.pid);
      const row = this.rows.get(w.pid);
      if (row) {
        row.tr.hidden = !shown;
        row.tr.style.setProperty("--depth", String(depth));
        row.tr.classList.toggle("tree-child", depth > 0);
        row.tr.classList.toggle("tree-main", depth === 0 && w.role === "main");
        order.push(row.tr);
        if (row.errorRow) { row.errorRow.hidden = !shown; order.push(row.errorRow); }
      }
      const kids = (children.get(w.pid) || []).sort(older);
      const ended = kids.filter((k) => !LIVE.has(k.state));
      for (const k of kids) if (LIVE.has(k.state)) visit(k, depth + 1, shown);
      if (!ended.length) return;
      const open = this.expanded.has(w.pid);
      const fold = this.foldRow(w.pid);
      usedFolds.add(w.pid);
      fold.hidden = !shown;
      fold.style.setProperty("--depth", String(depth + 1));
      const button = fold.querySelector("button");
      button.textContent = `${open ? "▾" : "▸"} ${ended.length} ended`;
      button.setAttribute("aria-expanded", String(open));
      button.title = `${open ? "Hide" : "Show"} the ${ended.length} ended ${ended.length === 1 ? "child" : "children"} of PID ${w.pid}`;
      order.push(fold);
      for (const k of ended) visit(k, depth + 1, shown && open);
    };
    for (const w of roots) visit(w, 0, true);
    for (const [pid, fold] of this.folds) if (!usedFolds.has(pid)) { fold.remove(); this.folds.delete(pid); }
    this.tbody.append(...order);
    // the main process's row sticks under the header: it never scrolls out of sight
    this.table.style.setProperty("--head-h", `${this.table.tHead?.offsetHeight ?? 0}px`);
  }

  foldRow(pid) {
    let fold = this.folds.get(pid);
    if (fold) return fold;
    fold = el("tr", { className: "fold-row" });
    fold.dataset.parent = String(pid);
    const td = el("td", { colSpan: COLUMNS });
    td.append(el("button", {
      type: "button", className: "small fold",
      onclick: () => {
        if (this.expanded.has(pid)) this.expanded.delete(pid); else this.expanded.add(pid);
        this.layoutTree();
      },
    }));
    fold.append(td);
    this.folds.set(pid, fold);
    return fold;
  }

  toggleError(pid) {
    const row = this.rows.get(pid);
    const w = this.workers.get(pid);
    if (!row || !w) return;
    if (row.errorRow) { row.errorRow.remove(); row.errorRow = null; return; }
    const td = el("td", { colSpan: COLUMNS });
    td.append(el("pre", { className: "error-text" }, w.error));
    row.errorRow = el("tr", { className: "error-row" });
    row.errorRow.append(td);
    row.tr.after(row.errorRow);
    this.treeDirty = true;
  }
}
