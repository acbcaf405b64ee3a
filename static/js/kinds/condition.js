// Condition: who holds its lock, who waits in wait() for a notify.
// Ops replay exactly as webapp/kinds/conditions.py's ConditionReplica does.

import { dropPid, line, pidChip } from "./parts.js";
import { applyLock, deadHolders, holderChips, loadLock, lockValue } from "./lock.js";

export default {
  kinds: ["Condition"],
  load: loadLock,
  value: lockValue,

  apply(s, op) {
    switch (op.op) {
      case "wait": { // wait() released the lock and now waits to be notified
        const i = s.holders.findIndex((h) => h.pid === op.pid);
        if (i >= 0) { s.holders.splice(i, 1); s.available++; }
        s.waiters.push(op.pid);
        return "wait()";
      }
      case "wake": // back from wait(), holding the lock again
        dropPid(s.waiters, op.pid);
        s.holders.push({ pid: op.pid, since: op.t, depth: 1 });
        s.available--;
        return "woke";
      case "notify":
        return op.n === undefined || op.n === null ? "notify()" : `notify(${op.n})`;
    }
    return applyLock(s, op);
  },

  summary: (s) => `${s.waiters.length} waiting`,

  waiting: (s) => s.waiters.map((pid) => [pid, "in wait()"]),

  render(s, body, ctx, panel) {
    body.replaceChildren(line("Held by", holderChips(s.holders, ctx), "free", "holders"),
      line("In wait()", s.waiters.map((pid) => pidChip(pid, ctx)), "nobody", "waiters"),
      ...deadHolders(s.holders, ctx, panel));
  },
};
