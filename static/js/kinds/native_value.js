// The program's own mp.Value, Array, RawValue and RawArray (origin native): what value.js adds to
// a Manager's Value or Array panel — whether it has a lock (the Raw forms have none), how many
// items an Array has when only the first 1,000 are shown, a char array's text. value.js hands
// a native value (one with "raw") to these functions.

import { el, line } from "./parts.js";

/** The native fields of an encoded value ({} for a Manager's, which has no "raw"). */
export function extra(value) {
  if (!value || !("raw" in value)) return {};
  return {
    native: true,
    raw: value.raw ?? null,
    length: Number.isInteger(value.length) ? value.length : null,
    text: typeof value.text === "string" ? value.text : null,
  };
}

/** The encoded value back, as the server sent it. */
export function value(s) {
  const out = s.items ? { typecode: s.typecode, raw: s.raw, items: s.items.map((i) => i.value), length: s.length }
    : { typecode: s.typecode, raw: s.raw, value: s.value };
  if (s.text !== null && s.text !== undefined) out.text = s.text;
  return { value: out, writers: [] };
}

const LOCK = { true: "none (a Raw one)", false: "its own (get_lock())", null: "?" };

export function summary(s) {
  const size = s.items ? `${s.length ?? s.items.length} × '${s.typecode}'` : `'${s.typecode}'`;
  return `${size}${s.raw ? " · raw" : ""} · sampled`;
}

/** Lines under the value: its lock, how much of an Array is shown, a char array's text. */
export function status(s) {
  const lines = [line("Lock", [el("span", { className: "mono" }, LOCK[s.raw])], "", "lock")];
  if (s.items && s.length !== null && s.length > s.items.length) {
    const shown = `the first ${s.items.length.toLocaleString("en")} of ${s.length.toLocaleString("en")}`;
    lines.push(line("Items", [el("span", { className: "mono" }, shown)], "", "length"));
  }
  if (s.text !== null) lines.push(line("Text", [el("span", { className: "mono", title: s.text }, s.text)], "", "text"));
  lines.push(line("Read", [el("span", { className: "muted" }, "while a page is open, and at exit")], "", "read"));
  return el("div", { className: "obj-status" }, ...lines);
}
