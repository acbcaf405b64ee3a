// dict: its entries in insertion order, each with the PID that wrote it last.

import { canonKey, describe, toText } from "../format.js";
import { setParts } from "../vlist.js";
import { growingList, short } from "./parts.js";

/** The entries in insertion order, {id, key, value, pid, at}: the same array until a key comes or goes. */
export function dictRows(s) {
  if (!s.order) s.order = [...s.entries.values()];
  return s.order;
}

/** Add the next slice of a snapshot's entries (objects.js loads a big dict a slice per task). */
function loadMore(state, value, writers = []) {
  const entries = state.entries;
  value.forEach(([key, v], i) => {
    const id = canonKey(key);
    entries.set(id, { id, key, value: v, pid: writers?.[i] ?? null, at: 0 });
  });
}

export default {
  kinds: ["dict"],

  load(value, writers = []) {
    const state = { entries: new Map(), order: null };
    loadMore(state, value, writers);
    return state;
  },

  loadMore,

  apply(s, op, kind, now = performance.now()) {
    if (op.op === "set") {
      const id = canonKey(op.key);
      const entry = s.entries.get(id);
      if (entry) {
        entry.value = op.value;
        entry.pid = op.pid;
        entry.at = now;
      } else {
        s.entries.set(id, { id, key: op.key, value: op.value, pid: op.pid, at: now });
        s.order = null;
      }
      return () => `[${short(op.key, 12)}] = ${short(op.value)}`;
    }
    if (op.op === "del") {
      s.entries.delete(canonKey(op.key));
      s.order = null;
      return () => `del [${short(op.key, 12)}]`;
    }
    if (op.op === "clear") { s.entries.clear(); s.order = null; }
    return op.op;
  },

  value: (s) => ({ value: [...s.entries.values()].map((e) => [e.key, e.value]), writers: [...s.entries.values()].map((e) => e.pid) }),

  summary: (s) => `${s.entries.size} key${s.entries.size === 1 ? "" : "s"}${
    s.truncated ? ` (${s.truncated.toLocaleString("en")} more not kept: --max-entries)` : ""}`,

  render(s, body, ctx, panel) {
    growingList(body, panel, dictRows(s).length, "Empty.", (row, i) => {
      const entry = dictRows(panel.state)[i];
      const key = describe(entry.key);
      const value = describe(entry.value);
      setParts(row, [[`key ${key.cls}`, key.text], ["arrow", ":"], [`val ${value.cls}`, value.text],
        ["who", entry.pid ? `by ${entry.pid}` : ""]]);
      row.title = `${key.text}: ${toText(entry.value)}`;
      return entry.at;
    });
  },
};
