// Shared objects of every kind: the page's one copy of each (from `snapshot` and `changes`)
// and one panel per object, both built from the kind registry in kinds/index.js.
//
// Every object is kept here, by id. The built-in dict `d` and list `l` are drawn by their own
// big panels (builtin.js), and the named locks by the locks table (locks.js), from this same
// model; everything else a task or a program shares gets a panel here.

import { kindModule } from "./kinds/index.js";
import { el } from "./kinds/parts.js";
import { pageNow } from "./clock.js";

const RECENT = 6; // ops kept for an object's recent-ops line
// A snapshot with more items than this in all is loaded a slice at a time (loadInPieces):
// built in one go, a 100,000-entry dict and list held the page for one ~100 ms task.
const BIG = 20000;
const SLICE_MS = 8; // work per task while loading in pieces

export class ObjectsModel {
  /**
   * @param {{elsewhere?: (id: string) => boolean}} options
   *   elsewhere: objects drawn by panels of their own (d, l, the named locks): they get no
   *   kind panel here and are left out of waiting() and lockTable(), which their panels cover
   */
  constructor({ elsewhere = () => false } = {}) {
    this.version = -1;
    this.objects = new Map(); // id -> {id, kind, label, state, recent, ops, dirty, view, changedAt}
    this.elsewhere = elsewhere;
    this.mutations = 0; // ops applied, for the rate chart (never reset: it is read as differences)
    this.added = true; // objects were added or removed since the panels last looked
    this.loading = null; // a snapshot being loaded in pieces: {queue: changes that wait for it}
  }

  /**
   * Load a snapshot, then call `done(applyWaiting)`; `applyWaiting()` applies the changes that
   * came meanwhile and returns their results ("ok", "stale" or "gap"). A big snapshot is loaded
   * a slice per task, each object built aside and put in whole, so that the page never shows
   * half an object; changes wait for the end (apply returns "queued"). A small one is loaded
   * at once, `done` included.
   */
  loadInPieces(snap, done) {
    const entries = Object.entries(snap.objects || {});
    const size = entries.reduce((n, [, info]) => n + (Array.isArray(info.value) ? info.value.length : 0), 0);
    if (size <= BIG) {
      this.load(snap); // (ends a big one still being loaded: this one is newer)
      done(() => []);
      return;
    }
    const loading = (this.loading = { queue: [] });
    const built = new Map(); // id -> state
    const steps = entries.map(([id, info]) => buildInSlices(id, info, built));
    const step = () => {
      if (this.loading !== loading) return; // a newer snapshot took over
      const until = performance.now() + SLICE_MS;
      while (steps.length && performance.now() < until) {
        if (steps[0].next().done) steps.shift();
      }
      if (steps.length) { yieldTask(step); return; }
      this.load(snap, built);
      done(() => loading.queue.map((msg) => this.apply(msg)));
    };
    yieldTask(step);
  }

  load(snap, built = null) {
    this.loading = null; // a snapshot loaded at once ends one being loaded in pieces
    this.version = snap.version;
    const seen = new Set();
    for (const [id, info] of Object.entries(snap.objects || {})) {
      seen.add(id);
      const obj = this.put(id, info.kind, info.label, info.value, info.writers, built?.get(id));
      // entries past the server's --max-entries: counted there, not kept (a big dict's)
      if (info.truncated) obj.state.truncated = info.truncated;
    }
    for (const id of [...this.objects.keys()]) {
      if (!seen.has(id)) { this.objects.delete(id); this.added = true; }
    }
  }

  /** The object `id` ({kind, label, state, changedAt, ...}), or undefined. */
  get(id) {
    return this.objects.get(id);
  }

  /** The objects that get a kind panel (all but those drawn elsewhere), in model order. */
  paneled() {
    return [...this.objects.values()].filter((obj) => obj.paneled);
  }

  /** Create or reload one object; a reload keeps its panel and its recent ops. */
  put(id, kind, label, value, writers, loaded = undefined) {
    const old = this.objects.get(id);
    const state = loaded ?? kindModule(kind).load(value, writers, kind);
    if (old && old.kind === kind) {
      Object.assign(old, { label: label || id, state, dirty: true });
      return old;
    }
    // `paneled`: it has a kind panel here, which shows its recent ops (d, l and the named
    // locks have panels of their own, which do not: their ops are not described)
    const obj = { id, kind, label: label || id, state, recent: [], ops: 0, dirty: true, view: {}, changedAt: 0,
      paneled: !this.elsewhere(id) };
    this.objects.delete(id); // a new kind under an old id gets a fresh panel, at the end
    this.objects.set(id, obj);
    this.added = true;
    return obj;
  }

  /** Apply a `changes` message: "ok", "stale" (already have it) or "gap" (need a snapshot). */
  apply(msg) {
    if (this.loading) { this.loading.queue.push(msg); return "queued"; }
    if (msg.to <= this.version) return "stale";
    if (msg.from > this.version) return "gap";
    const now = performance.now();
    for (const op of msg.ops) {
      if (op.seq <= this.version) continue;
      this.version = op.seq;
      this.mutations++;
      if (op.op === "create") {
        this.put(op.object, op.kind, op.label, op.value, op.writers).ops++;
        continue;
      }
      if (op.op === "forget") {
        if (this.objects.delete(op.object)) this.added = true;
        continue;
      }
      const obj = this.objects.get(op.object);
      if (!obj) continue; // created before our snapshot and not in it: the next snapshot brings it
      if (op.op === "sample") {
        // one of the program's own objects (a native Queue, Pipe...): its value, merged from
        // every process's facts on the server, comes whole
        obj.state = kindModule(obj.kind).load(op.value, null, obj.kind);
        obj.ops++;
        obj.dirty = true;
        obj.changedAt = now;
        continue;
      }
      const text = kindModule(obj.kind).apply(obj.state, op, obj.kind, now);
      obj.ops++;
      obj.dirty = true;
      obj.changedAt = now;
      if (text && obj.paneled) {
        obj.recent.push({ pid: op.pid, text });
        if (obj.recent.length > RECENT) obj.recent.shift();
      }
    }
    return "ok";
  }

  /** Lock and RLock objects in the locks table's shape, so that deadlock cycles through them are found. */
  lockTable() {
    const out = [];
    for (const obj of this.objects.values()) {
      if ((obj.kind !== "Lock" && obj.kind !== "RLock") || !obj.paneled) continue;
      const holder = obj.state.holders[0];
      out.push({ name: shortName(obj.label), holder_pid: holder ? holder.pid : null, waiters: obj.state.waiters });
    }
    return out;
  }

  /** Map of PID -> what it waits for, over every object (for the worker table). */
  waiting() {
    const out = new Map();
    for (const obj of this.objects.values()) {
      const module = kindModule(obj.kind);
      if (!module.waiting || !obj.paneled) continue;
      for (const [pid, text] of module.waiting(obj.state)) out.set(pid, `${shortName(obj.label)}: ${text}`);
    }
    return out;
  }
}

/**
 * A generator that builds one object's state: a big dict or list a slice of items per step
 * (the same state its kind's load() makes), anything else in one step. Puts it in `built`.
 */
function* buildInSlices(id, info, built) {
  const { kind, value, writers } = info;
  const family = kindModule(kind).kinds?.[0];
  const n = Array.isArray(value) ? value.length : 0;
  if ((family !== "dict" && family !== "list") || n <= BIG / 4) {
    built.set(id, kindModule(kind).load(value, writers, kind));
    return;
  }
  const module = kindModule(kind);
  const state = module.load([], [], kind);
  const piece = 2000;
  for (let i = 0; i < n; i += piece) {
    module.loadMore(state, value.slice(i, i + piece), writers ? writers.slice(i, i + piece) : []);
    yield;
  }
  built.set(id, state);
}

// Run `fn` in a task of its own, at once (setTimeout waits 4 ms once nested)
const channel = new MessageChannel();
const pending = [];
channel.port1.onmessage = () => pending.shift()();
function yieldTask(fn) {
  pending.push(fn);
  channel.port2.postMessage(null);
}

/** What a person calls an object in a sentence: `a` for "a = mp.Lock()  · prog.py:7", else its label. */
export function shortName(label) {
  const bound = /^([A-Za-z_]\w*)\s*=\s/.exec(label || "");
  return bound ? bound[1] : label;
}

export class ObjectPanels {
  /**
   * @param {HTMLElement} box where the panels go
   * @param {{isDead: (pid:number) => boolean, release: (id:string, pid:number) => void, readOnly: boolean}} actions
   */
  constructor(box, model, actions) {
    this.box = box;
    this.model = model;
    this.actions = actions;
    this.panels = new Map(); // id -> {section, count, body, recent}
    this.second = 0;
  }

  /** Draw changed panels; every panel once a second (times held, dead holders). */
  render() {
    const nowSeconds = pageNow();
    const tick = Math.floor(nowSeconds) !== this.second;
    this.second = Math.floor(nowSeconds);
    if (this.model.added) this.sync();
    const ctx = { ...this.actions, now: nowSeconds };
    for (const obj of this.model.objects.values()) {
      if ((!obj.dirty && !tick) || !this.panels.has(obj.id)) continue;
      obj.dirty = false;
      const panel = this.panels.get(obj.id);
      const module = kindModule(obj.kind);
      panel.count.textContent = module.summary(obj.state, obj.kind);
      module.render(obj.state, panel.body, ctx, obj);
      panel.recent.replaceChildren(...obj.recent.map((r) => {
        if (typeof r.text === "function") r.text = r.text(); // described once, when first shown
        return el("span", { className: "op" }, el("b", {}, String(r.pid)), ` ${r.text}`);
      }).reverse());
      panel.recent.hidden = obj.recent.length === 0;
    }
  }

  /** Add a panel for each new object and drop those of objects that are gone, in model order. */
  sync() {
    this.model.added = false;
    for (const [id, panel] of this.panels) {
      const obj = this.model.objects.get(id);
      if (!obj || obj.section !== panel.section) { panel.section.remove(); this.panels.delete(id); }
    }
    const shown = this.model.paneled();
    for (const obj of shown) {
      if (this.panels.has(obj.id)) continue;
      const panel = this.build(obj);
      obj.section = panel.section;
      obj.view = {};
      this.panels.set(obj.id, panel);
    }
    this.box.replaceChildren(...shown.map((obj) => obj.section));
    this.box.hidden = shown.length === 0;
  }

  build(obj) {
    const count = el("span", { className: "count" });
    // an unnamed object's label repeats its kind ("Queue Queue-1"): the badge says it once
    const name = obj.label.startsWith(`${obj.kind} `) ? obj.label.slice(obj.kind.length + 1) : obj.label;
    const title = el("h2", {}, el("span", { className: "kind-badge" }, obj.kind), " ", el("code", {}, name), count);
    const body = el("div", { className: "obj-body" });
    const recent = el("div", { className: "obj-recent", title: "Recent operations, newest first, by PID" });
    recent.setAttribute("aria-label", "Recent operations");
    const section = el("section", { className: `panel object-panel kind-${obj.kind}` },
      el("div", { className: "panel-head" }, title), body, recent);
    section.dataset.object = obj.id;
    section.dataset.kind = obj.kind;
    section.setAttribute("aria-label", name === obj.label ? `${obj.kind} ${obj.label}` : obj.label);
    return { section, count, body, recent };
  }
}
