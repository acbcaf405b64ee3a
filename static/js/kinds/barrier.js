// Barrier: how many of its parties wait (x of N), who, how often it passed, broken or not.

import { dropPid, el, line, pidChip } from "./parts.js";

export default {
  kinds: ["Barrier"],

  load: (value) => ({
    parties: value.parties,
    waiting: [...(value.waiting || [])],
    broken: !!value.broken,
    passed: value.passed || 0,
  }),

  apply(s, op) {
    switch (op.op) {
      case "wait": s.waiting.push(op.pid); return `wait() ${s.waiting.length} of ${s.parties}`;
      case "pass": s.waiting = []; s.passed++; return "all arrived: passed";
      case "abort": s.broken = true; return "abort()";
      case "reset": s.broken = false; return "reset()";
      case "leave": dropPid(s.waiting, op.pid); return "left";
    }
    return op.op;
  },

  value: (s) => ({ value: { parties: s.parties, waiting: [...s.waiting], broken: s.broken, passed: s.passed } }),

  summary: (s) => `${s.parties} parties${s.broken ? " · broken" : ""}`,

  waiting: (s) => s.waiting.map((pid) => [pid, `waiting, ${s.waiting.length} of ${s.parties} arrived`]),

  render(s, body, ctx) {
    // one seat per party, filled as they arrive
    const seats = el("div", { className: "seats", title: `${s.waiting.length} of ${s.parties} parties waiting` });
    for (let i = 0; i < s.parties; i++) seats.append(el("span", { className: i < s.waiting.length ? "seat full" : "seat" }));
    const figure = el("div", { className: "obj-figure barrier-fill" },
      el("span", { className: "big" }, `${s.waiting.length} of ${s.parties}`), el("span", { className: "caption" }, "waiting"), seats);
    const passed = [el("span", { className: "passed" }, `${s.passed} time${s.passed === 1 ? "" : "s"}`)];
    if (s.broken) passed.push(el("span", { className: "badge broken" }, "broken"));
    body.replaceChildren(figure, line("Waiting", s.waiting.map((pid) => pidChip(pid, ctx)), "nobody", "waiters"),
      line("Passed", passed, "", "barrier-status"));
  },
};
