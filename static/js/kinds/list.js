// list: its items, each with the PID that wrote it last.

import { describe } from "../format.js";
import { setParts } from "../vlist.js";
import { growingList, short } from "./parts.js";


export default {
  kinds: ["list"],

  load(value, writers = []) {
    return { items: value.map((v, i) => ({ value: v, pid: writers?.[i] ?? null, at: 0 })) };
  },

  /** Add the next slice of a snapshot's items (objects.js loads a big list a slice per task). */
  loadMore(state, value, writers = []) {
    value.forEach((v, i) => state.items.push({ value: v, pid: writers?.[i] ?? null, at: 0 }));
  },

  apply(s, op, kind, now = performance.now()) {
    const l = s.items;
    const item = (value) => ({ value, pid: op.pid, at: now });
    switch (op.op) {
      case "append": l.push(item(op.value)); return () => `append ${short(op.value)}`;
      case "extend": // one push per item: a spread of a million arguments would overflow the stack
        for (const v of op.values) l.push(item(v));
        return `extend ${op.values.length}`;
      case "insert": l.splice(op.index, 0, item(op.value)); return `insert [${op.index}]`;
      case "set": l[op.index] = item(op.value); return () => `[${op.index}] = ${short(op.value)}`;
      case "del": l.splice(op.index, 1); return `del [${op.index}]`;
      case "clear": l.length = 0; return "clear";
      case "replace": s.items = op.values.map(item); return "replace";
    }
    return op.op;
  },

  value: (s) => ({ value: s.items.map((i) => i.value), writers: s.items.map((i) => i.pid) }),

  summary: (s) => `${s.items.length} item${s.items.length === 1 ? "" : "s"}`,

  render(s, body, ctx, panel) {
    growingList(body, panel, s.items.length, "Empty.", (row, i) => {
      const entry = panel.state.items[i];
      const { text, cls } = describe(entry.value);
      setParts(row, [["idx", `[${i}]`], [`val ${cls}`, text], ["who", entry.pid ? `by ${entry.pid}` : ""]]);
      row.title = text;
      return entry.at;
    });
  },
};
