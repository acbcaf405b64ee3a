// The program's own multiprocessing Pipe (origin native, sampled whole): which processes hold each
// end (from their descriptors: a fork child that never closed an end still holds it), what each
// process sent and received, and who waits in recv(). An end held by its own reader is why a
// recv() never sees EOF (the unclosed_pipe_end diagnosis), so every holder is shown.

import { el, line, pidChip, since } from "./parts.js";

const int = (n) => (Number.isInteger(n) && n >= 0 ? n : 0);
const pids = (list) => (Array.isArray(list) ? list.filter((p) => Number.isInteger(p)) : []);
const TITLES = { r: "read end r", w: "write end w", a: "end a", b: "end b" };

export default {
  kinds: ["Pipe"],

  load(value) {
    const v = value && typeof value === "object" ? value : {};
    return {
      duplex: !!v.duplex,
      ends: (Array.isArray(v.ends) ? v.ends : []).map((e) => ({ end: String(e.end), heldBy: pids(e.held_by) })),
      by: v.by && typeof v.by === "object" ? v.by : {},
      sent: int(v.sent),
      received: int(v.received),
      blocked: (Array.isArray(v.blocked) ? v.blocked : []).map((b) => ({ ...b })),
    };
  },

  apply(s, op) {
    if (op.op === "sample" && op.value) Object.assign(s, this.load(op.value));
    return null;
  },

  value: (s) => ({
    value: {
      duplex: s.duplex, ends: s.ends.map((e) => ({ end: e.end, held_by: e.heldBy })), by: s.by,
      sent: s.sent, received: s.received, blocked: s.blocked.map((b) => ({ ...b })),
    },
    writers: null,
  }),

  summary(s) {
    const open = s.ends.filter((e) => e.heldBy.length).length;
    return `${s.duplex ? "duplex" : "one-way"} · ${s.sent} sent · ${s.received} received · ${open} of 2 ends open`;
  },

  // no waiting(): the worker's row shows its agent's own wait line, "recv() on r · prog.py:19"

  render(s, body, ctx) {
    const ends = s.ends.map((e) => {
      const row = line(TITLES[e.end] || `end ${e.end}`, e.heldBy.map((pid) => pidChip(pid, ctx)),
        "closed everywhere", "pipe-end");
      row.dataset.end = e.end;
      return row;
    });
    // the counts beside the chip, not in it: they wrap in a narrow panel where a chip would not
    const counts = Object.entries(s.by).map(([pid, c]) => el("span", { className: "pipe-count" },
      pidChip(Number(pid), ctx), " ", el("span", { className: "muted" }, `${int(c?.sent)} sent · ${int(c?.received)} received`)));
    body.replaceChildren(el("div", { className: "obj-status" },
      ...ends,
      line("Blocked", s.blocked.map((b) => pidChip(b.pid, ctx, `${b.call || "recv"}() ${since(b.since, ctx)}`)),
        "nobody", "blocked"),
      line("By process", counts, "none yet", "by")));
  },
};
