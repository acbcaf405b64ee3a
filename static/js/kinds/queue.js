// Queue and JoinableQueue: the items waiting in order (who put each), and who is blocked.

import { describe } from "../format.js";
import { setParts } from "../vlist.js";
import { el, growingList, line, pidChip, short, since } from "./parts.js";
import * as native from "./native_queue.js";

const CALLS = { get: "get()", put: "put()", join: "join()" };
const call = (name) => CALLS[name] || name;

function unblock(state, pid, name) {
  const i = state.blocked.findIndex((b) => b.pid === pid && b.call === name);
  if (i >= 0) state.blocked.splice(i, 1);
}

export default {
  kinds: ["Queue", "JoinableQueue", "SimpleQueue"],

  load(value, writers = []) {
    if (value && "put" in value) return native.load(value); // the program's own queue, sampled whole
    return {
      items: value.items.map((v, i) => ({ value: v, pid: writers?.[i] ?? null, at: 0 })),
      maxsize: value.maxsize ?? 0,
      unfinished: value.unfinished ?? 0,
      blocked: (value.blocked || []).map((b) => ({ ...b })),
    };
  },

  apply(s, op, kind, now = performance.now()) {
    switch (op.op) {
      case "put":
        s.items.push({ value: op.value, pid: op.pid, at: now });
        s.unfinished++;
        return () => `put ${short(op.value)}`;
      case "get": {
        const item = s.items.shift();
        return item ? () => `got ${short(item.value)}` : "get";
      }
      case "task_done":
        if (s.unfinished > 0) s.unfinished--;
        return "task_done";
      case "block":
        s.blocked.push({ pid: op.pid, call: op.call, since: op.t });
        return null; // the Blocked line shows it, without crowding the puts and gets out
      case "unblock":
        unblock(s, op.pid, op.call);
        return null;
    }
    return op.op;
  },

  value: (s) => s.native ? native.value(s) : ({
    value: { items: s.items.map((i) => i.value), maxsize: s.maxsize, unfinished: s.unfinished, blocked: s.blocked.map((b) => ({ ...b })) },
    writers: s.items.map((i) => i.pid),
  }),

  summary(s) {
    if (s.native) return native.summary(s);
    const size = s.maxsize > 0 ? ` of max ${s.maxsize}` : "";
    const full = s.maxsize > 0 && s.items.length >= s.maxsize ? " · full" : "";
    return `${s.items.length} waiting${size}${full}`;
  },

  waiting: (s) => s.native ? native.waiting(s) : s.blocked.map((b) => [b.pid, `blocked in ${call(b.call)}`]),

  render(s, body, ctx, panel) {
    if (s.native) return native.render(s, body, ctx, panel);
    growingList(body, panel, s.items.length, "Empty: a get() now would block.", (row, i) => {
      const item = panel.state.items[i];
      const { text, cls } = describe(item.value);
      setParts(row, [["idx", i === 0 ? "next" : `${i + 1}`], [`val ${cls}`, text],
        ["who", item.pid ? `put by ${item.pid}` : ""]]);
      row.title = `${text}, put by ${item.pid ?? "?"}`;
      return item.at;
    }, "Items waiting, next out first");
    if (!panel.view.status) panel.view.status = body.appendChild(el("div", { className: "obj-status" }));
    const lines = [line("Blocked", s.blocked.map((b) => pidChip(b.pid, ctx, `${call(b.call)} ${since(b.since, ctx)}`)),
      "nobody", "blocked")];
    if (panel.kind === "JoinableQueue") {
      lines.push(line("Unfinished", [el("span", { className: "mono" }, String(s.unfinished))], "", "unfinished"));
    }
    panel.view.status.replaceChildren(...lines);
  },
};
