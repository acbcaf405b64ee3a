// The `counter` task's lost updates: what d["counter"] should be, next to what it is.
//
// Expected = the sum of `n` over the counter workers that added to this counter. A counter
// starts when the key appears; workers that had ended before that (say, before a Reset
// state) do not count. Workers are remembered here, so Clear ended does not change the sum.

import { canonKey } from "./format.js";

const COUNTER = canonKey("counter");
const LIVE = new Set(["starting", "running"]);
const num = (n) => n.toLocaleString("en-US");

export class CounterCheck {
  /** @param {HTMLElement} box where the comparison is shown (hidden when there is none) */
  constructor(box) {
    this.box = box;
    this.reset();
  }

  /** Start over (a snapshot): the workers known then are judged at the next update. */
  reset() {
    this.counted = new Map(); // pid -> worker info, for the counter now in the dict
    this.excluded = new Set(); // counter workers that ended before this counter began
    this.present = null; // was the key in the dict at the last update (null: not looked yet)
    this.shown = "";
  }

  /** @param {Map} dict the entries of d (canonKey -> {value}, kinds/dict.js); @param {Map} workers pid -> info */
  update(dict, workers) {
    const entry = dict.get(COUNTER);
    const present = entry !== undefined && typeof entry.value === "number";
    if (!present && this.present !== false) {
      // no counter (never was, or reset): ended workers can no longer add to the next one
      this.counted.clear();
      for (const w of workers.values()) if (w.task === "counter" && !LIVE.has(w.state)) this.excluded.add(w.pid);
    }
    this.present = present;
    for (const w of workers.values()) {
      if (w.task === "counter" && !this.excluded.has(w.pid)) this.counted.set(w.pid, w);
    }
    this.show(present ? entry.value : null);
  }

  show(actual) {
    const text = actual === null || this.counted.size === 0 ? "" : this.describe(actual);
    if (text === this.shown) return;
    this.shown = text;
    this.box.hidden = !text;
    this.box.textContent = text;
    this.box.className = `check-note ${this.lost(actual) > 0 ? "bad" : "ok"}`;
  }

  expected() {
    let sum = 0;
    for (const w of this.counted.values()) sum += w.params.n;
    return sum;
  }

  lost(actual) {
    const ws = [...this.counted.values()];
    if (actual === null || ws.some((w) => LIVE.has(w.state) || w.state === "killed" || w.exitcode)) return 0;
    return this.expected() - actual;
  }

  describe(actual) {
    const ws = [...this.counted.values()];
    const ns = new Set(ws.map((w) => w.params.n));
    const how = ns.size === 1
      ? `${ws.length} worker${ws.length === 1 ? "" : "s"} × ${num(ws[0].params.n)}`
      : ws.map((w) => num(w.params.n)).join(" + ");
    const expected = num(this.expected());
    const running = ws.filter((w) => LIVE.has(w.state)).length;
    if (running) return `d["counter"] is ${num(actual)} so far; ${running} counter worker${running === 1 ? " is" : "s are"} still adding (${expected} expected at the end: ${how}).`;
    if (ws.some((w) => w.state === "killed" || w.exitcode)) {
      return `d["counter"] is ${num(actual)}; a counter worker was stopped before it finished, so the total to expect is unknown (at most ${expected}).`;
    }
    const lost = this.expected() - actual;
    const locked = ws.every((w) => w.params.lock);
    if (lost > 0) {
      return `d["counter"] is ${num(actual)}, expected ${expected} (${how}): ${num(lost)} update${lost === 1 ? "" : "s"} lost. `
        + `Without the lock, d["counter"] += 1 is a read, then a write: two workers read the same value and one write is lost.`;
    }
    if (lost === 0) return `d["counter"] is ${num(actual)}, as expected (${how}): no update lost${locked ? ", the lock kept each += 1 whole" : " this time"}.`;
    return `d["counter"] is ${num(actual)}, more than the ${expected} expected (${how}): it was written by something else too.`;
  }
}
