// shared_memory.SharedMemory and ShareableList (the program's own, origin native): the block's
// name and size, the processes that mapped it and those that still have it open, whether its
// name was unlinked, and a ShareableList's first items (short reprs, read while a page is open).

import { formatBytes } from "../format.js";
import { setParts } from "../vlist.js";
import { el, growingList, line, pidChip } from "./parts.js";

const pids = (list) => (Array.isArray(list) ? list.filter(Number.isInteger) : []);

export default {
  kinds: ["SharedMemory", "ShareableList"],

  load(value) {
    const v = value && typeof value === "object" ? value : {};
    const items = Array.isArray(v.items) ? v.items.map(String) : null;
    return {
      name: String(v.name ?? "?"), size: Number.isInteger(v.size) ? v.size : null,
      mapped_by: pids(v.mapped_by), open_in: pids(v.open_in), unlinked: v.unlinked === true,
      manager: v.manager === true, items, length: Number.isInteger(v.length) ? v.length : null,
    };
  },

  apply: () => null, // sampled: the server sends the whole value again

  value(s) {
    const out = { name: s.name, size: s.size, mapped_by: s.mapped_by, open_in: s.open_in, unlinked: s.unlinked, manager: s.manager };
    if (s.items) Object.assign(out, { items: s.items, length: s.length });
    return { value: out, writers: [] };
  },

  summary(s) {
    const items = s.items ? `${s.length ?? s.items.length} items · ` : "";
    return `${items}${formatBytes(s.size)} · open in ${s.open_in.length}${s.unlinked ? " · unlinked" : ""}`;
  },

  render(s, body, ctx, panel) {
    if (s.items) {
      growingList(body, panel, s.items.length, "Empty list.", (row, i) => {
        const text = panel.state.items[i] ?? "";
        setParts(row, [["idx", `[${i}]`], ["val t-tag", text]]);
        row.title = text;
        return 0;
      }, "ShareableList items");
    }
    if (!panel.view.status) panel.view.status = body.appendChild(el("div", { className: "obj-status" }));
    const open = new Set(s.open_in);
    const lines = [
      line("Name", [el("span", { className: "mono", title: s.name }, s.name)], "", "name"),
      line("Size", [el("span", { className: "mono" }, `${formatBytes(s.size)}${s.size !== null ? ` (${s.size} B)` : ""}`)], "", "size"),
      // an ended process's chip says so; a live one's whether it still has the block open
      line("Mapped by", s.mapped_by.map((pid) => pidChip(pid, ctx, open.has(pid) ? "open" : ctx.isDead(pid) ? "" : "closed")),
        "no process yet", "mapped"),
      line("Unlinked", [el("span", { className: "mono" }, s.unlinked ? "yes" : "not yet")], "", "unlinked"),
    ];
    if (s.manager) lines.push(line("Made by", [el("span", {}, "a SharedMemoryManager (it unlinks it at shutdown)")], "", "manager"));
    if (s.items && s.length !== null && s.length > s.items.length) {
      lines.push(line("Items", [el("span", { className: "mono" }, `the first ${s.items.length} of ${s.length}`)], "", "length"));
    }
    panel.view.status.replaceChildren(...lines);
  },
};
