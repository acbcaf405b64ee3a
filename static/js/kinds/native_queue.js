// The program's own multiprocessing Queue, SimpleQueue and JoinableQueue (origin native): what
// every process put and got, the depth, the last items put (short reprs, the agent cannot see
// which are still in the pipe), who is blocked and who still flushes at exit. queue.js hands a
// native value (one with "put") to these functions.

import { formatBytes } from "../format.js";
import { setParts } from "../vlist.js";
import { el, growingList, line, pidChip, since } from "./parts.js";

const CALLS = { get: "get()", put: "put()", join: "join()" };
const call = (name) => CALLS[name] || `${name}()`;
const int = (n) => (Number.isInteger(n) && n >= 0 ? n : 0);

export function load(value) {
  const items = Array.isArray(value.items) ? value.items : [];
  const putters = Array.isArray(value.putters) ? value.putters : [];
  return {
    native: true,
    items: items.map((v, i) => ({ value: v, pid: putters[i] ?? null, at: 0 })),
    maxsize: int(value.maxsize),
    unfinished: int(value.unfinished),
    blocked: (value.blocked || []).map((b) => ({ ...b })),
    put: int(value.put),
    got: int(value.got),
    depth: int(value.depth),
    by: value.by && typeof value.by === "object" ? value.by : {},
    flushing: Array.isArray(value.flushing) ? value.flushing : [],
  };
}

export const value = (s) => ({
  value: {
    items: s.items.map((i) => i.value), putters: s.items.map((i) => i.pid), maxsize: s.maxsize,
    unfinished: s.unfinished, blocked: s.blocked.map((b) => ({ ...b })), put: s.put, got: s.got,
    depth: s.depth, by: s.by, flushing: s.flushing,
  },
  writers: [],
});

export function summary(s) {
  const size = s.maxsize > 0 ? ` of max ${s.maxsize}` : "";
  const full = s.maxsize > 0 && s.depth >= s.maxsize ? " · full" : "";
  return `${s.depth} waiting${size}${full} · ${s.put} put · ${s.got} got`;
}

export function render(s, body, ctx, panel) {
  growingList(body, panel, s.items.length, "Nothing put yet.", (row, i) => {
    const item = panel.state.items[i];
    const text = item.value?.repr ?? String(item.value);
    const newest = i === panel.state.items.length - 1;
    setParts(row, [["idx", newest ? "last" : `−${panel.state.items.length - 1 - i}`], ["val t-tag", text],
      ["who", item.pid ? `put by ${item.pid}` : ""]]);
    row.title = `${text}, put by ${item.pid ?? "?"}`;
    return item.at;
  }, "The last items put, newest last");
  if (!panel.view.status) panel.view.status = body.appendChild(el("div", { className: "obj-status" }));
  const counts = Object.entries(s.by).map(([pid, c]) =>
    pidChip(Number(pid), ctx, `${int(c.put)} put · ${int(c.got)} got`));
  const lines = [
    line("Blocked", s.blocked.map((b) => pidChip(b.pid, ctx, `${call(b.call)} ${since(b.since, ctx)}`)),
      "nobody", "blocked"),
    line("Depth", [el("span", { className: "mono" }, `${s.depth} (put ${s.put}, got ${s.got})`)], "", "depth"),
    line("By process", counts, "none yet", "by"),
  ];
  if (panel.kind === "JoinableQueue") {
    lines.push(line("Unfinished", [el("span", { className: "mono" }, String(s.unfinished))], "", "unfinished"));
  }
  if (s.flushing.length) {
    lines.push(line("Flushing at exit", s.flushing.map((f) =>
      pidChip(f.pid, ctx, `${int(f.items)} item${f.items === 1 ? "" : "s"}, ${formatBytes(int(f.bytes))}`)), "", "flushing"));
  }
  panel.view.status.replaceChildren(...lines);
}

export const waiting = (s) => [
  ...s.blocked.map((b) => [b.pid, `blocked in ${call(b.call)}`]),
  ...s.flushing.map((f) => [f.pid, "flushing at exit"]),
];
