// Lock, RLock, Semaphore, BoundedSemaphore: holders (with RLock depth), waiters, dead holders.

import { dropPid, el, line, pidChip, since } from "./parts.js";

/** Record that `pid` acquired: a second acquire by a holder deepens its hold (RLock, Semaphore). */
export function acquire(holders, op) {
  const held = holders.find((h) => h.pid === op.pid);
  if (held) held.depth++;
  else holders.push({ pid: op.pid, since: op.t, depth: 1 });
}

/** Record one release by `pid`; return whether it held (a Semaphore may be released by anyone). */
export function release(holders, pid) {
  const i = holders.findIndex((h) => h.pid === pid);
  if (i < 0) return false;
  if (--holders[i].depth <= 0) holders.splice(i, 1);
  return true;
}

/** Chips for holders: "PID 12 · 3.2 s", with "depth 2" when held more than once. */
export function holderChips(holders, ctx) {
  return holders.map((h) => pidChip(h.pid, ctx, [h.depth > 1 ? `depth ${h.depth}` : "", since(h.since, ctx)]
    .filter(Boolean).join(" · ")));
}

export default {
  kinds: ["Lock", "RLock", "Semaphore", "BoundedSemaphore"],

  load: (value) => ({
    initial: value.initial ?? 1,
    available: value.available ?? 1,
    holders: (value.holders || []).map((h) => ({ depth: 1, ...h })),
    waiters: [...(value.waiters || [])],
  }),

  apply(s, op, kind) {
    switch (op.op) {
      case "wait":
        s.waiters.push(op.pid);
        return "waits";
      case "gave_up":
        dropPid(s.waiters, op.pid);
        return "gave up";
      case "acquire": {
        dropPid(s.waiters, op.pid);
        const again = kind === "RLock" && s.holders.some((h) => h.pid === op.pid);
        acquire(s.holders, op);
        if (!again) s.available--;
        return "acquired";
      }
      case "release": {
        const held = s.holders.find((h) => h.pid === op.pid);
        const last = !held || held.depth === 1;
        release(s.holders, op.pid);
        if (kind !== "RLock" || last) s.available++;
        return "released";
      }
      case "break": {
        const i = s.holders.findIndex((h) => h.pid === op.holder);
        if (i >= 0) {
          s.available += kind === "RLock" ? 1 : s.holders[i].depth;
          s.holders.splice(i, 1);
        }
        return `released for dead ${op.holder}`;
      }
    }
    return op.op;
  },

  summary(s, kind) {
    if (kind === "Lock" || kind === "RLock") return s.holders.length ? "held" : "free";
    return `${s.available} of ${s.initial} free`;
  },

  waiting: (s) => s.waiters.map((pid) => [pid, `waiting to acquire${s.holders.length ? `, held by ${s.holders.map((h) => h.pid).join(", ")}` : ""}`]),

  render(s, body, ctx, panel) {
    const counting = panel.kind === "Semaphore" || panel.kind === "BoundedSemaphore";
    const parts = [];
    if (counting) {
      const inside = s.initial - s.available;
      parts.push(el("div", { className: "obj-figure" }, el("span", { className: "big" }, `${Math.max(inside, 0)} of ${s.initial}`),
        el("span", { className: "caption" }, `inside · ${s.available} free`)));
    }
    parts.push(line("Held by", holderChips(s.holders, ctx), "free", "holders"));
    parts.push(line("Waiting", s.waiters.map((pid) => pidChip(pid, ctx)), "nobody", "waiters"));
    const dead = s.holders.filter((h) => ctx.isDead(h.pid));
    for (const h of dead) {
      const note = el("div", { className: "obj-line dead-holder" },
        el("span", { className: "dead" }, `PID ${h.pid} ended while holding it`));
      if (!ctx.readOnly) {
        note.append(el("button", {
          type: "button", className: "small", textContent: "Release",
          title: "The holder died without releasing it: release it so the waiters can go on",
          ariaLabel: `Release ${panel.label} held by dead ${h.pid}`,
          onclick: () => ctx.release(panel.id, h.pid),
        }));
      }
      parts.push(note);
    }
    body.replaceChildren(...parts);
  },
};
