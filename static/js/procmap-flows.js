// The process map's items per second: how many items each process put into or took from each
// shared object, from the `changes` ops (a put, an append, a get...), the per-process counts
// of a sampled value (a native Queue's or Pipe's `by`), and a snapshot's writers.

import { pageNow } from "./clock.js";

const RATE_WINDOW = 5; // seconds an items-per-second figure is averaged over
const FLOW_KEYS = 5000; // bound on the (object, process, direction) counters kept

// ops that move an item into an object, or out of it (other ops — acquire, wait... — are not a flow)
const IN_OPS = new Set(["put", "append", "extend", "insert", "set", "setattr", "send", "replace"]);
const OUT_OPS = new Set(["get", "recv"]);

// A sampled value (a native Queue's, a Pipe's: a `sample` op replaces it whole) that counts
// items per process: {"by": {PID: {put, got}}} (a Pipe's: sent / received; docs/objects.md),
// also read as a list [{pid, put, got}]; successive samples give the rate.
const COUNTS_IN = ["put", "sent", "sends"];
const COUNTS_OUT = ["got", "received", "recvs"];

/** [[pid, "in" | "out", total], ...] from a value's per-process counts, if it has them. */
export function perProcessCounts(value) {
  const table = value && typeof value === "object" ? value.by : null;
  if (!table || typeof table !== "object") return [];
  const rows = Array.isArray(table) ? table : Object.entries(table).map(([pid, row]) => ({ pid: Number(pid), ...row }));
  const out = [];
  for (const row of rows) {
    if (!row || typeof row !== "object" || !Number.isInteger(row.pid)) continue;
    for (const [names, dir] of [[COUNTS_IN, "in"], [COUNTS_OUT, "out"]]) {
      const total = names.map((n) => row[n]).find((v) => typeof v === "number");
      if (total !== undefined) out.push([row.pid, dir, total]);
    }
  }
  return out;
}

/** Items put into / taken from each object by each process, from the `changes` ops. */
export class FlowCounter {
  constructor() {
    this.flows = new Map(); // "id|pid|in" -> {id, pid, dir, total, last, secs: [[second, n], ...]}
    this.version = -1;
  }

  /** A snapshot: ops up to its version are in it (a resync must not count them twice). Who
   * wrote what it holds (`writers`: the PID per item or entry) and the per-process counts of
   * its sampled values are where the counts start from (a page opened late saw no op). */
  reset(snap) {
    this.version = snap.version;
    for (const [id, info] of Object.entries(snap.objects || {})) {
      const counts = perProcessCounts(info.value);
      if (Array.isArray(info.writers)) {
        const by = new Map();
        for (const pid of info.writers) if (typeof pid === "number") by.set(pid, (by.get(pid) || 0) + 1);
        for (const [pid, n] of by) counts.push([pid, "in", n]);
      }
      for (const [pid, dir, total] of counts) {
        const flow = this.flow(id, pid, dir);
        if (flow && total > flow.total) flow.total = total;
      }
    }
  }

  flow(id, pid, dir) {
    const key = `${id}|${pid}|${dir}`;
    let flow = this.flows.get(key);
    if (!flow) {
      if (this.flows.size >= FLOW_KEYS) return null; // bounded: the rest are not drawn
      flow = { id, pid, dir, total: 0, last: 0, secs: [] };
      this.flows.set(key, flow);
    }
    return flow;
  }

  count(flow, n, now) {
    const second = Math.floor(now);
    flow.total += n;
    flow.last = now;
    const tail = flow.secs[flow.secs.length - 1];
    if (tail && tail[0] === second) tail[1] += n;
    else flow.secs.push([second, n]);
    if (flow.secs.length > RATE_WINDOW + 1) flow.secs.shift();
  }

  /** Count a `changes` batch's ops (each once, by seq); `now` in seconds. */
  add(msg, now = pageNow()) { // a replay counts in the recording's seconds (clock.js)
    for (const op of msg.ops || []) {
      if (op.seq <= this.version) continue;
      this.version = op.seq;
      if (op.op === "sample") { // the counts since the last sample
        for (const [pid, dir, total] of perProcessCounts(op.value)) {
          const flow = this.flow(op.object, pid, dir);
          if (flow && total > flow.total) this.count(flow, total - flow.total, now);
        }
        continue;
      }
      const dir = IN_OPS.has(op.op) ? "in" : OUT_OPS.has(op.op) ? "out" : null;
      if (!dir || typeof op.pid !== "number") continue;
      const flow = this.flow(op.object, op.pid, dir);
      if (flow) this.count(flow, op.op === "extend" || op.op === "replace" ? (op.values || []).length : 1, now);
    }
  }

  /** Items per second over the last RATE_WINDOW whole seconds (the current one is not over). */
  rate(flow, now = pageNow()) {
    const second = Math.floor(now);
    let n = 0;
    for (const [s, count] of flow.secs) if (s < second && s >= second - RATE_WINDOW) n += count;
    return n / RATE_WINDOW;
  }
}

/** Items per second as the map writes it: 0.4, 9.8, 12, 150. */
export function formatRate(rate) {
  return rate >= 100 ? String(Math.round(rate)) : rate >= 10 ? rate.toFixed(0) : rate.toFixed(1);
}
