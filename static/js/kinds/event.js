// Event: set or not, and who waits in wait().

import { dropPid, el, line, pidChip } from "./parts.js";

export default {
  kinds: ["Event"],

  load: (value) => ({ set: !!value.set, waiters: [...(value.waiters || [])] }),

  apply(s, op) {
    switch (op.op) {
      case "set": s.set = true; return "set()";
      case "clear": s.set = false; return "clear()";
      case "wait": s.waiters.push(op.pid); return "wait()";
      case "wake": dropPid(s.waiters, op.pid); return "woke";
    }
    return op.op;
  },

  value: (s) => ({ value: { set: s.set, waiters: [...s.waiters] } }),

  summary: (s) => `${s.waiters.length} waiting`,

  waiting: (s) => s.waiters.map((pid) => [pid, "in wait()"]),

  render(s, body, ctx) {
    const flag = el("span", { className: `flag ${s.set ? "on" : "off"}` }, s.set ? "SET" : "not set");
    body.replaceChildren(el("div", { className: "obj-figure" }, flag),
      line("Waiting", s.waiters.map((pid) => pidChip(pid, ctx)), "nobody", "waiters"));
  },
};
