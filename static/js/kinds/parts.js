// Small DOM pieces every kind's panel is built from: elements, PID chips, labelled rows.
// Values written by workers only ever become text (textContent), never HTML.

import { describe, formatDuration } from "../format.js";
import { ROW_HEIGHT, VirtualList } from "../vlist.js";

const MAX_ROWS = 10; // a panel's list grows to this many rows, then scrolls (virtually)

/** Create an element with properties and optional text or children. */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  for (const child of children) node.append(child);
  return node;
}

/** A span showing an encoded value, coloured by its Python type. */
export function valueSpan(value, extra = "") {
  const { text, cls } = describe(value);
  return el("span", { className: `val ${cls} ${extra}`.trim(), title: text }, text);
}

/**
 * A chip for one process: "PID 123", plus a detail (depth, since when).
 * A PID whose worker has ended is marked, because a dead holder or waiter is a bug to see.
 */
export function pidChip(pid, ctx, detail = "") {
  const dead = ctx.isDead(pid);
  const chip = el("span", { className: `pid-chip${dead ? " dead" : ""}` }, `PID ${pid}`);
  chip.dataset.pid = pid;
  if (detail) chip.append(el("span", { className: "chip-detail" }, detail));
  if (dead) chip.append(el("span", { className: "chip-detail" }, "ended"));
  return chip;
}

/** "2.1 s" since a time.time() stamp, or "" without one. */
export function since(t, ctx) {
  return t ? formatDuration(ctx.now - t) : "";
}

/** A labelled line: "Waiting  PID 1 · PID 2", or the empty text when there is nothing. */
export function line(label, items, empty = "none", cls = "") {
  const row = el("div", { className: `obj-line ${cls}`.trim() });
  row.append(el("span", { className: "obj-label" }, label));
  const box = el("span", { className: "obj-items" });
  if (items.length) box.append(...items);
  else box.append(el("span", { className: "muted" }, empty));
  row.append(box);
  return row;
}

/** A big status figure ("2 of 3", "SET") with a small caption. */
export function figure(text, caption = "", cls = "") {
  return el("div", { className: `obj-figure ${cls}`.trim() }, el("span", { className: "big" }, text),
    caption ? el("span", { className: "caption" }, caption) : "");
}

/** Remove one occurrence of `pid` from an array of PIDs, in place. */
export function dropPid(list, pid) {
  const i = list.indexOf(pid);
  if (i >= 0) list.splice(i, 1);
}

/** Short text of a value for the recent-ops line. */
export function short(value, max = 24) {
  const { text } = describe(value);
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}

/**
 * A virtual list in `body` that grows with its `count` up to MAX_ROWS rows, then scrolls;
 * `fill(row, index)` writes a row and returns when it changed (to flash it). Created on the
 * first call and kept in `panel.view`, so rows are reused from frame to frame.
 */
export function growingList(body, panel, count, emptyText, fill, label = "") {
  let view = panel.view.list;
  if (!view) {
    const box = el("div", { className: "vlist obj-list", role: "list", tabIndex: 0 });
    if (label) box.setAttribute("aria-label", label);
    const empty = el("p", { className: "empty" }, emptyText);
    body.append(box, empty);
    view = panel.view.list = { box, empty, list: new VirtualList(box, fill) };
  }
  view.box.hidden = count === 0;
  view.empty.hidden = count > 0;
  const height = `${Math.min(Math.max(count, 1), MAX_ROWS) * ROW_HEIGHT + 2}px`;
  if (view.box.style.height !== height) view.box.style.height = height;
  view.list.setCount(count);
  view.list.render(performance.now());
}
