// Lock, RLock, Semaphore, BoundedSemaphore: holders (with RLock depth), waiters, dead holders.
// Ops replay exactly as webapp/kinds/locks.py's LockReplica does.

import { dropPid, el, line, pidChip, since } from "./parts.js";

const holderOf = (s, pid) => s.holders.find((h) => h.pid === pid);

/** A holder lets go: `pid`'s hold, or the oldest if it has none (as the Manager does). */
function drop(s, pid) {
  const holder = holderOf(s, pid) || s.holders[0];
  if (holder) s.holders.splice(s.holders.indexOf(holder), 1);
  s.available++;
}

/** Load the encoded value of any lock-like kind (a Condition's too). */
export function loadLock(value) {
  return {
    initial: value.initial ?? 1,
    available: value.available ?? 1,
    holders: (value.holders || []).map((h) => ({ depth: 1, ...h })),
    waiters: [...(value.waiters || [])],
  };
}

/** Apply one op of a lock-like kind; return the text for the recent-ops line. */
export function applyLock(s, op) {
  switch (op.op) {
    case "wait":
      s.waiters.push(op.pid);
      return "waits";
    case "gave_up":
      dropPid(s.waiters, op.pid);
      return "gave up";
    case "acquire": {
      const held = holderOf(s, op.pid);
      if ((op.depth ?? 1) > 1 && held) { held.depth = op.depth; return `acquired (depth ${op.depth})`; }
      dropPid(s.waiters, op.pid);
      s.holders.push({ pid: op.pid, since: op.t, depth: 1 });
      s.available--;
      return "acquired";
    }
    case "release": {
      const held = holderOf(s, op.pid);
      if ((op.depth ?? 0) > 0 && held) { held.depth = op.depth; return `released (depth ${op.depth})`; }
      drop(s, op.pid);
      return "released";
    }
    case "break":
      drop(s, op.holder);
      return `released for dead ${op.holder}`;
  }
  return op.op;
}

/** The encoded value of a lock-like kind, as its Python Replica's value(). */
export function lockValue(s) {
  return { value: { initial: s.initial, available: s.available, holders: s.holders.map((h) => ({ ...h })), waiters: [...s.waiters] } };
}

/** Chips for holders: "PID 12 · 3.2 s", with "depth 2" when held more than once. */
export function holderChips(holders, ctx) {
  return holders.map((h) => pidChip(h.pid, ctx, [h.depth > 1 ? `depth ${h.depth}` : "", since(h.since, ctx)]
    .filter(Boolean).join(" · ")));
}

/**
 * One line per holder whose worker ended, with Release (POST /api/objects/<id>/release).
 * Each line is kept from render to render: the panel redraws every second, and a button
 * replaced between press and release would swallow the click.
 */
export function deadHolders(holders, ctx, panel) {
  const kept = panel.view.deadHolders || new Map();
  panel.view.deadHolders = new Map();
  return holders.filter((h) => ctx.isDead(h.pid)).map((h) => {
    let note = kept.get(h.pid);
    if (note) { panel.view.deadHolders.set(h.pid, note); return note; }
    note = el("div", { className: "dead-holder" }, el("span", {}, `PID ${h.pid} ended while holding it`));
    panel.view.deadHolders.set(h.pid, note);
    if (!ctx.readOnly) {
      note.append(el("button", {
        type: "button", className: "small", textContent: "Release",
        title: "The holder died without releasing it: release it so the waiters can go on",
        ariaLabel: `Release ${panel.label} held by ${h.pid}`,
        onclick: () => ctx.release(panel.id, h.pid),
      }));
    }
    return note;
  });
}

export default {
  kinds: ["Lock", "RLock", "Semaphore", "BoundedSemaphore"],
  load: loadLock,
  apply: applyLock,
  value: lockValue,

  summary(s, kind) {
    if (kind === "Lock" || kind === "RLock") return s.holders.length ? "held" : "free";
    return `${s.available} of ${s.initial} free`;
  },

  waiting: (s) => s.waiters.map((pid) => [pid, "waiting to acquire" +
    (s.holders.length ? `, held by ${s.holders.map((h) => h.pid).join(", ")}` : "")]),

  render(s, body, ctx, panel) {
    const parts = [];
    if (panel.kind === "Semaphore" || panel.kind === "BoundedSemaphore") {
      const inside = Math.max(s.initial - s.available, s.holders.length);
      parts.push(el("div", { className: "obj-figure" }, el("span", { className: "big" }, `${inside} of ${s.initial}`),
        el("span", { className: "caption" }, "inside")));
    }
    parts.push(line("Held by", holderChips(s.holders, ctx), "free", "holders"));
    parts.push(line("Waiting", s.waiters.map((pid) => pidChip(pid, ctx)), "nobody", "waiters"));
    body.replaceChildren(...parts, ...deadHolders(s.holders, ctx, panel));
  },
};
