// Value and Array (multiprocessing's ctypes objects, as a Manager serves them): the value.

import { describe } from "../format.js";
import { setParts } from "../vlist.js";
import { el, growingList, short } from "./parts.js";
import * as native from "./native_value.js";

export default {
  kinds: ["Value", "Array"],

  load(value, writers = []) {
    const extra = native.extra(value); // the program's own (sampled whole): its lock, its length
    if ("items" in value) {
      return { typecode: value.typecode, items: value.items.map((v, i) => ({ value: v, pid: writers?.[i] ?? null, at: 0 })), ...extra };
    }
    return { typecode: value.typecode, value: value.value, pid: writers?.[0] ?? null, at: 0, ...extra };
  },

  apply(s, op, kind, at = performance.now()) {
    if (op.op === "set" && s.items) {
      s.items[op.index] = { value: op.value, pid: op.pid, at };
      return () => `[${op.index}] = ${short(op.value)}`;
    }
    if (op.op === "set") {
      Object.assign(s, { value: op.value, pid: op.pid, at });
      return () => `value = ${short(op.value)}`;
    }
    if (op.op === "replace") {
      s.items = op.values.map((v) => ({ value: v, pid: op.pid, at }));
      return `[:] = ${op.values.length} items`;
    }
    return op.op;
  },

  value(s) {
    if (s.native) return native.value(s);
    if (s.items) return { value: { typecode: s.typecode, items: s.items.map((i) => i.value) }, writers: s.items.map((i) => i.pid) };
    return { value: { typecode: s.typecode, value: s.value }, writers: [s.pid] };
  },

  summary: (s) => (s.native ? native.summary(s) : s.items ? `${s.items.length} × '${s.typecode}'` : `'${s.typecode}'`),

  render(s, body, ctx, panel) {
    if (s.items) {
      growingList(body, panel, s.items.length, "Empty array.", (row, i) => {
        const item = panel.state.items[i];
        const { text, cls } = describe(item.value);
        setParts(row, [["idx", `[${i}]`], [`val ${cls}`, text], ["who", item.pid ? `by ${item.pid}` : ""]]);
        return item.at;
      }, "Array items");
      if (s.native) {
        if (!panel.view.status) panel.view.status = body.appendChild(el("div"));
        panel.view.status.replaceChildren(native.status(s));
      }
      return;
    }
    const { text, cls } = describe(s.value);
    const big = el("div", { className: "obj-figure" }, el("span", { className: `big val ${cls}`, title: text }, text),
      el("span", { className: "caption" }, s.pid ? `set by ${s.pid}` : ""));
    // flash the figure when the value changed since the last frame drew it
    if (panel.view.drawnAt !== s.at && s.at) big.classList.add("flash");
    panel.view.drawnAt = s.at;
    body.replaceChildren(big);
    if (s.native) body.append(native.status(s));
  },
};
