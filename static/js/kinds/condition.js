// Condition: who holds its lock, who waits in wait() for a notify.

import { dropPid, line, pidChip } from "./parts.js";
import { acquire, holderChips, release } from "./lock.js";

export default {
  kinds: ["Condition"],

  load: (value) => ({
    holders: (value.holders || []).map((h) => ({ depth: 1, ...h })),
    waiters: [...(value.waiters || [])],
  }),

  apply(s, op) {
    switch (op.op) {
      case "acquire": acquire(s.holders, op); return "acquired";
      case "release": release(s.holders, op.pid); return "released";
      case "wait": s.waiters.push(op.pid); return "wait()";
      case "wake": dropPid(s.waiters, op.pid); return "woke";
      case "notify": return op.n === undefined || op.n === null ? "notify()" : `notify(${op.n})`;
    }
    return op.op;
  },

  summary: (s) => `${s.waiters.length} waiting`,

  waiting: (s) => s.waiters.map((pid) => [pid, "in Condition.wait()"]),

  render(s, body, ctx) {
    body.replaceChildren(line("Held by", holderChips(s.holders, ctx), "free", "holders"),
      line("In wait()", s.waiters.map((pid) => pidChip(pid, ctx)), "nobody", "waiters"));
  },
};
