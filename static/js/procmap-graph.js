// The process map's graph, from the page's model (no DOM here): the processes as a tree by
// parent, the shared objects between them, and the edges — who waits on what (a process's
// `waiting`, a kind's waiters), who holds a lock, who puts into or gets from an object (counted
// from the `changes` ops, per second), and every deadlock cycle (the server's `deadlock`
// diagnoses, and any cycle of waits and holds the map itself sees).

import { kindModule } from "./kinds/index.js";
import { shortName } from "./objects.js";
import { formatRate } from "./procmap-flows.js";
import { pageNow } from "./clock.js";

const LIVE = new Set(["starting", "running"]);
export const MAX_PROCS = 60; // more would not be read on one screen; the rest are counted
export const MAX_OBJECTS = 40;

const procKey = (pid) => `p:${pid}`;
const objKey = (id) => `o:${id}`;

/**
 * The graph to draw: {procs: [{key, pid, depth, parent, w, label, sub, title}], objects:
 * [{key, id, kind, name, sub, title}], edges: [{type: "wait"|"hold"|"flow"|"join", from, to,
 * rate, title, cycle}], cycle: Set of node keys, hidden: {procs, objects}}.
 */
export function buildGraph({ workers, objects, diagnoses = [], flows, now = pageNow() }) {
  const edges = [];
  const seen = new Set();
  const add = (edge) => {
    const k = `${edge.type}|${edge.from}|${edge.to}`;
    if (seen.has(k)) return;
    seen.add(k);
    edges.push(edge);
  };
  const byName = new Map(); // short name -> object id (null when two objects share it)
  for (const obj of objects.values()) {
    const name = shortName(obj.label);
    byName.set(name, byName.has(name) ? null : obj.id);
  }
  // what each process says it waits on (its agent's `waiting`): the most precise text
  for (const w of workers.values()) {
    const wait = LIVE.has(w.state) ? w.waiting : null;
    if (!wait) continue;
    const title = `${w.pid} waits: ${wait.text || wait.call}`;
    if (wait.call === "join" && typeof wait.pid === "number") {
      add({ type: "join", from: procKey(w.pid), to: procKey(wait.pid), title });
      continue;
    }
    const id = wait.oid && objects.has(wait.oid) ? wait.oid : byName.get(wait.object);
    if (id) add({ type: "wait", from: procKey(w.pid), to: objKey(id), title });
  }
  for (const obj of objects.values()) {
    const module = kindModule(obj.kind);
    const name = shortName(obj.label);
    // a kind this page has no module for keeps its value as it came (kinds/index.js)
    const raw = module.kinds.length ? obj.state : obj.state.value || {};
    const waits = module.waiting ? module.waiting(obj.state)
      : (Array.isArray(raw.blocked) ? raw.blocked : []).map((b) => [b.pid, b.text || `blocked in ${b.call}()`]);
    for (const [pid, text] of waits) {
      add({ type: "wait", from: procKey(pid), to: objKey(obj.id), title: `${pid} waits on ${name}: ${text}` });
    }
    for (const h of raw.holders || []) {
      const depth = h.depth > 1 ? ` (depth ${h.depth})` : "";
      add({ type: "hold", from: objKey(obj.id), to: procKey(h.pid), title: `${name} is held by ${h.pid}${depth}` });
    }
    // a queue's waiting items, by who put them (a page opened late has no ops for them)
    if (Array.isArray(obj.state.items) && obj.kind.includes("Queue")) {
      const putters = new Map();
      for (const item of obj.state.items.slice(0, 1000)) {
        if (typeof item.pid === "number") putters.set(item.pid, (putters.get(item.pid) || 0) + 1);
      }
      for (const [pid, n] of putters) {
        add({ type: "flow", from: procKey(pid), to: objKey(obj.id), rate: 0, title: `${pid} put ${n} of the items waiting in ${name}` });
      }
    }
  }
  for (const flow of flows.flows.values()) {
    if (!flow.total || !objects.has(flow.id)) continue;
    const name = shortName(objects.get(flow.id).label);
    const rate = flows.rate(flow, now);
    const [from, to] = flow.dir === "in" ? [procKey(flow.pid), objKey(flow.id)] : [objKey(flow.id), procKey(flow.pid)];
    const verb = flow.dir === "in" ? `put ${flow.total} into` : `got ${flow.total} from`;
    const edge = { type: "flow", from, to, rate, title: `${flow.pid} ${verb} ${name}: ${formatRate(rate)} items/s` };
    const k = `flow|${from}|${to}`;
    if (seen.has(k)) { // the items-waiting edge of the same process: the ops say more
      Object.assign(edges.find((e) => `${e.type}|${e.from}|${e.to}` === k), edge);
    } else add(edge);
  }

  const procs = treeOrder(workers, edges);
  const procKeys = new Set(procs.map((p) => p.key));
  const objs = chooseObjects(objects, edges);
  const objKeys = new Set(objs.map((o) => o.key));
  const drawn = edges.filter((e) => [e.from, e.to].every((k) => procKeys.has(k) || objKeys.has(k)));
  // a process drawn as waiting waits on something of the map (not merely in sleep())
  const waits = new Set(drawn.filter((e) => e.type === "wait" || e.type === "join").map((e) => e.from));
  for (const p of procs) p.blocked = waits.has(p.key);
  const cycle = cycleNodes(drawn, diagnoses);
  for (const e of drawn) e.cycle = e.type !== "flow" && cycle.has(e.from) && cycle.has(e.to);
  const live = [...workers.values()].filter((w) => LIVE.has(w.state)).length;
  return { procs, objects: objs, edges: drawn, cycle,
    hidden: { procs: Math.max(0, live - procs.filter((p) => LIVE.has(p.w.state)).length), objects: objects.size - objs.length } };
}

/** The live processes, and ended ones an edge still names (a dead holder), in tree order. */
function treeOrder(workers, edges) {
  // (a flow alone does not bring an ended process back: the built-in dashboard keeps 1,000)
  const named = new Set(edges.filter((e) => e.type !== "flow").flatMap((e) => [e.from, e.to]));
  let shown = [...workers.values()].filter((w) => LIVE.has(w.state) || named.has(procKey(w.pid)));
  shown.sort((a, b) => a.pid - b.pid);
  if (shown.length > MAX_PROCS) { // those in an edge first, then the oldest
    const weight = (w) => (named.has(procKey(w.pid)) ? 0 : 1);
    shown = shown.sort((a, b) => weight(a) - weight(b) || a.pid - b.pid).slice(0, MAX_PROCS).sort((a, b) => a.pid - b.pid);
  }
  const pids = new Set(shown.map((w) => w.pid));
  const children = new Map();
  const roots = [];
  for (const w of shown) {
    if (pids.has(w.ppid) && w.ppid !== w.pid) {
      if (!children.has(w.ppid)) children.set(w.ppid, []);
      children.get(w.ppid).push(w);
    } else roots.push(w);
  }
  // the main process (a watched program's) first
  roots.sort((a, b) => (a.role === "main" ? 0 : 1) - (b.role === "main" ? 0 : 1) || a.pid - b.pid);
  const out = [];
  const visit = (w, depth, parent) => {
    const ended = !LIVE.has(w.state);
    const name = w.task || w.name || "";
    const doing = !ended && w.waiting?.text ? w.waiting.text : w.state + (w.role && !w.task ? ` · ${w.role}` : "");
    out.push({ key: procKey(w.pid), pid: w.pid, depth, parent, w, ended,
      label: `${w.pid} ${name}`, sub: doing,
      title: `PID ${w.pid}${name ? ` — ${name}` : ""}${w.role ? ` (${w.role})` : ""}, parent ${w.ppid ?? "?"}, ${w.state}` +
        (!ended && w.waiting?.text ? `\nwaiting: ${w.waiting.text}` : "") });
    for (const c of children.get(w.pid) || []) visit(c, depth + 1, procKey(w.pid));
  };
  for (const r of roots) visit(r, 0, null);
  return out;
}

/** The objects to draw: those in an edge first, up to MAX_OBJECTS, in the model's order. */
function chooseObjects(objects, edges) {
  const named = new Set(edges.flatMap((e) => [e.from, e.to]));
  const all = [...objects.values()];
  const picked = all.filter((o) => named.has(objKey(o.id))).slice(0, MAX_OBJECTS);
  for (const o of all) {
    if (picked.length >= MAX_OBJECTS) break;
    if (!named.has(objKey(o.id))) picked.push(o);
  }
  const order = new Map(all.map((o, i) => [o.id, i]));
  picked.sort((a, b) => order.get(a.id) - order.get(b.id));
  return picked.map((o) => {
    const module = kindModule(o.kind);
    // the names it was bound to: `a` for "a = mp.Lock()  · prog.py:7", `r, w` for a Pipe's pair
    const bound = /^([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*=\s/.exec(o.label || "");
    const name = bound ? bound[1] : shortName(o.label);
    let sub = "";
    try { sub = module.summary(o.state, o.kind); } catch { sub = ""; }
    const raw = module.kinds.length ? o.state : o.state.value || {};
    const holders = (raw.holders || []).map((h) => h.pid);
    if (holders.length) sub = `held by ${holders.join(", ")}`;
    const waiters = raw.waiters?.length || raw.blocked?.length || 0;
    if (waiters) sub += `${sub ? " · " : ""}${waiters} waiting`;
    return { key: objKey(o.id), id: o.id, kind: o.kind, name, sub,
      title: `${o.kind} ${o.label}${sub ? `\n${sub}` : ""}` };
  });
}

/**
 * Node keys in a deadlock: the server's `deadlock` diagnoses (their pids and objects), and
 * every strongly connected part of the map's waits, joins and holds (Tarjan).
 */
function cycleNodes(edges, diagnoses) {
  const out = new Set();
  for (const d of diagnoses || []) {
    if (d.kind !== "deadlock") continue;
    for (const pid of d.pids || []) out.add(procKey(pid));
    for (const id of d.objects || []) out.add(objKey(id));
  }
  const next = new Map();
  for (const e of edges) {
    if (e.type === "flow") continue;
    if (!next.has(e.from)) next.set(e.from, []);
    next.get(e.from).push(e.to);
  }
  const index = new Map(), low = new Map(), stack = [], onStack = new Set();
  let counter = 0;
  const strong = (v) => { // recursion depth is bounded by the drawn nodes (≤ 100)
    index.set(v, counter); low.set(v, counter); counter++;
    stack.push(v); onStack.add(v);
    for (const w of next.get(v) || []) {
      if (!index.has(w)) { strong(w); low.set(v, Math.min(low.get(v), low.get(w))); }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
    }
    if (low.get(v) !== index.get(v)) return;
    const part = [];
    let w;
    do { w = stack.pop(); onStack.delete(w); part.push(w); } while (w !== v);
    if (part.length > 1) part.forEach((k) => out.add(k));
  };
  for (const v of next.keys()) if (!index.has(v)) strong(v);
  return out;
}
