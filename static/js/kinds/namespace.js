// Namespace: its attributes, each with the PID that set it last.

import { describe } from "../format.js";
import { el, short } from "./parts.js";

export default {
  kinds: ["Namespace"],

  load(value, writers = {}) {
    const attrs = new Map();
    for (const [name, v] of Object.entries(value.attrs || {})) {
      attrs.set(name, { value: v, pid: (writers && writers[name]) ?? null });
    }
    return { attrs };
  },

  apply(s, op) {
    if (op.op === "setattr") {
      s.attrs.set(op.name, { value: op.value, pid: op.pid });
      return () => `.${op.name} = ${short(op.value)}`;
    }
    if (op.op === "delattr") {
      s.attrs.delete(op.name);
      return `del .${op.name}`;
    }
    return op.op;
  },

  value: (s) => ({ value: { attrs: Object.fromEntries([...s.attrs].map(([name, attr]) => [name, attr.value])) } }),

  summary: (s) => `${s.attrs.size} attribute${s.attrs.size === 1 ? "" : "s"}`,

  render(s, body) {
    if (!s.attrs.size) {
      body.replaceChildren(el("p", { className: "empty" }, "No attributes yet."));
      return;
    }
    const rows = [...s.attrs].map(([name, attr]) => {
      const { text, cls } = describe(attr.value);
      return el("div", { className: "obj-attr" }, el("span", { className: "key" }, `.${name}`),
        el("span", { className: `val ${cls}`, title: text }, text),
        el("span", { className: "who" }, attr.pid ? `by ${attr.pid}` : ""));
    });
    body.replaceChildren(el("div", { className: "obj-attrs" }, ...rows));
  },
};
