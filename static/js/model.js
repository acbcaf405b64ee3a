// The page's copy of the shared state, built only from `snapshot` and `changes` events.

import { canonKey } from "./format.js";

export class SharedModel {
  constructor() {
    this.version = -1;
    this.list = [];
    this.dict = new Map(); // canonKey -> {key, value, pid}
    this.dictOrder = null; // cached array of dict entries for the virtual list
    this.locks = new Map();
    this.listChanged = new Map(); // index -> time it last changed (for flashing)
    this.dictChanged = new Map(); // canonKey -> time it last changed
    this.listWriter = new Map(); // index -> writer pid
    this.mutations = 0; // ops applied since load, for the rate chart
    this.dirty = true;
  }

  load(snap) {
    this.version = snap.version;
    this.list = snap.list.slice();
    this.dict = new Map();
    const writers = snap.writers || { list: [], dict: [] };
    snap.dict.forEach(([key, value], i) => this.dict.set(canonKey(key), { key, value, pid: writers.dict[i] ?? null }));
    this.dictOrder = null;
    this.locks = new Map((snap.locks || []).map((l) => [l.name, { ...l, waiters: [...l.waiters] }]));
    this.listChanged.clear();
    this.dictChanged.clear();
    this.listWriter.clear();
    writers.list.forEach((pid, i) => { if (pid) this.listWriter.set(i, pid); });
    this.dirty = true;
  }

  /** Apply a `changes` message: "ok", "stale" (already have it) or "gap" (need a snapshot). */
  apply(msg) {
    if (msg.to <= this.version) return "stale";
    if (msg.from > this.version) return "gap";
    const now = performance.now();
    for (const op of msg.ops) {
      if (op.seq <= this.version) continue;
      this.version = op.seq;
      this.mutations++;
      if (op.target === "dict") this.applyDict(op, now);
      else if (op.target === "list") this.applyList(op, now);
      else if (op.target === "lock") this.applyLock(op);
    }
    this.dirty = true;
    return "ok";
  }

  applyDict(op, now) {
    if (op.op === "set") {
      const id = canonKey(op.key);
      const entry = this.dict.get(id);
      if (entry) { entry.value = op.value; entry.pid = op.pid; }
      else { this.dict.set(id, { key: op.key, value: op.value, pid: op.pid }); this.dictOrder = null; }
      this.dictChanged.set(id, now);
    } else if (op.op === "del") {
      this.dict.delete(canonKey(op.key));
      this.dictOrder = null;
    } else if (op.op === "clear") {
      this.dict.clear();
      this.dictChanged.clear();
      this.dictOrder = null;
    }
  }

  applyList(op, now) {
    const l = this.list;
    switch (op.op) {
      case "append":
        l.push(op.value);
        this.touch(l.length - 1, op.pid, now);
        break;
      case "extend":
        for (const v of op.values) { l.push(v); this.touch(l.length - 1, op.pid, now); }
        break;
      case "insert":
        l.splice(op.index, 0, op.value);
        this.touch(op.index, op.pid, now);
        break;
      case "set":
        l[op.index] = op.value;
        this.touch(op.index, op.pid, now);
        break;
      case "del":
        l.splice(op.index, 1);
        break;
      case "clear":
        l.length = 0;
        this.listChanged.clear();
        this.listWriter.clear();
        break;
      case "replace":
        this.list = op.values.slice();
        this.listChanged.clear();
        break;
    }
  }

  touch(index, pid, now) {
    this.listChanged.set(index, now);
    this.listWriter.set(index, pid);
  }

  /** Forget flash times that have faded; called once per frame, so busy feeds stay cheap. */
  prune(now) {
    const cutoff = now - 1500;
    for (const map of [this.listChanged, this.dictChanged]) {
      if (map.size < 256) continue;
      for (const [k, t] of map) if (t < cutoff) map.delete(k);
    }
    if (this.listWriter.size > this.list.length + 1024) {
      for (const i of this.listWriter.keys()) if (i >= this.list.length) this.listWriter.delete(i);
    }
  }

  applyLock(op) {
    if (op.op === "forget") { this.locks.delete(op.name); return; }
    let lock = this.locks.get(op.name);
    if (!lock) {
      lock = { name: op.name, holder_pid: null, held_since: null, waiters: [] };
      this.locks.set(op.name, lock);
    }
    const drop = () => { lock.waiters = lock.waiters.filter((p) => p !== op.pid); };
    if (op.op === "wait") lock.waiters.push(op.pid);
    else if (op.op === "gave_up") drop();
    else if (op.op === "acquire") { drop(); Object.assign(lock, { holder_pid: op.pid, held_since: op.t, holder_alive: true }); }
    else if (op.op === "release" || op.op === "break") Object.assign(lock, { holder_pid: null, held_since: null, holder_alive: null });
  }

  dictEntries() {
    if (!this.dictOrder) this.dictOrder = [...this.dict.entries()];
    return this.dictOrder;
  }
}
