// The locks panel: who holds each shared lock, who waits, dead holders and deadlock cycles.

import { formatDuration } from "./format.js";

const NAMED_LOCK = "lock:"; // the named locks' ids (sharedstate/kinds/locks.py, NAMED_LOCK_PREFIX)

/** The name of a named lock's object id, or null for any other object. */
export function namedLockName(id) {
  return id.startsWith(NAMED_LOCK) ? id.slice(NAMED_LOCK.length) : null;
}

/**
 * The named locks (Lock objects "lock:NAME" of the model) in the locks table's shape, as
 * LockReplica.as_named_lock: {name, holder_pid, held_since, waiters, holder_alive}.
 * `liveness` is name -> {pid, alive} from the last snapshot's `locks` (the server judged each
 * holder then); a holder that took its lock since is alive (it just acquired it).
 */
export function namedLocks(objects, liveness) {
  const out = [];
  for (const obj of objects.objects.values()) {
    const name = namedLockName(obj.id);
    if (name === null) continue;
    const holder = obj.state.holders?.[0];
    const known = liveness.get(name);
    const alive = !holder ? null : known && known.pid === holder.pid ? known.alive : true;
    out.push({ name, holder_pid: holder ? holder.pid : null, held_since: holder ? holder.since : null,
      waiters: obj.state.waiters || [], holder_alive: alive });
  }
  return out;
}

/** Each cycle in the waits-for graph, as a list of PIDs (same rule as webapp/locks.py). */
export function findDeadlocks(locks) {
  const waitsFor = new Map();
  for (const lock of locks) {
    if (lock.holder_pid === null) continue;
    for (const w of lock.waiters) waitsFor.set(w, [lock.holder_pid, lock.name]);
  }
  const cycles = [], seen = new Set();
  for (const start of waitsFor.keys()) {
    const path = [], names = [];
    let pid = start;
    while (waitsFor.has(pid) && !path.includes(pid) && !seen.has(pid)) {
      path.push(pid);
      const [next, name] = waitsFor.get(pid);
      names.push(name);
      pid = next;
    }
    const i = path.indexOf(pid);
    if (i >= 0) cycles.push({ pids: path.slice(i), locks: names.slice(i) });
    path.forEach((p) => seen.add(p));
  }
  return cycles;
}

/** Map of waiting PID -> "waiting for LOCK, held by PID". */
export function waitingFor(locks) {
  const out = new Map();
  for (const lock of locks) {
    for (const w of lock.waiters) {
      out.set(w, `waiting for ${lock.name}` + (lock.holder_pid ? `, held by ${lock.holder_pid}` : ""));
    }
  }
  return out;
}

export class LocksPanel {
  constructor({ isDead, release, readOnly }) {
    this.tbody = document.querySelector("#locks tbody");
    this.isDead = isDead;
    this.release = release;
    this.readOnly = readOnly;
    this.key = "";
  }

  /** Draw the named locks; deadlock cycles are looked for over them and `others` (lock objects). */
  render(locks, nowSeconds, others = []) {
    const cells = (...texts) => texts.map((t) => { const td = document.createElement("td"); td.textContent = t; return td; });
    const rows = [];
    for (const lock of locks) {
      const dead = lock.holder_pid !== null && this.isDead(lock);
      const holder = lock.holder_pid === null ? "free" : `PID ${lock.holder_pid}${dead ? " (dead)" : ""}`;
      const held = lock.held_since ? formatDuration(nowSeconds - lock.held_since) : "";
      const tr = document.createElement("tr");
      tr.dataset.lock = lock.name;
      const [name, by, forTd, waiting] = cells(lock.name, holder, held, lock.waiters.join(", ") || "—");
      name.className = "mono";
      if (dead) by.className = "dead";
      forTd.className = "num";
      waiting.className = "waiting";
      const action = document.createElement("td");
      if (dead && !this.readOnly) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "small";
        button.textContent = "Release";
        button.title = "The holder died without releasing it: release it so the waiters can go on";
        button.addEventListener("click", () => this.release(lock.name));
        action.append(button);
      }
      tr.append(name, by, forTd, waiting, action);
      rows.push(tr);
    }
    this.tbody.replaceChildren(...rows);
    document.getElementById("locks-empty").hidden = locks.length > 0;
    document.getElementById("locks").hidden = locks.length === 0;
    document.getElementById("lock-count").textContent = locks.length ? String(locks.length) : "";
    const cycles = findDeadlocks([...locks, ...others]);
    const box = document.getElementById("deadlocks");
    box.hidden = cycles.length === 0;
    // under `mpscope run` the panel has nothing of its own to show but deadlock cycles
    const empty = document.getElementById("locks-empty");
    if (empty && "hidePanel" in empty.dataset) {
      document.getElementById("locks-panel").hidden = locks.length === 0 && cycles.length === 0;
    }
    const said = cycles.map((c) =>
      `Deadlock: ${c.pids.map((p, i) => `PID ${p} waits for ${c.locks[i]}`).join(" → ")} → back to PID ${c.pids[0]}`);
    box.textContent = said.join("\n");
    // also under the top bar, which stays in view wherever the page is scrolled
    const alert = document.getElementById("deadlock-alert");
    if (alert) {
      alert.hidden = cycles.length === 0;
      document.getElementById("deadlock-text").textContent = cycles.length
        ? `${said.join("; ")}. Neither can go on: kill one of them.` : "";
    }
  }
}
