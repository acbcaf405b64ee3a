// The page's registry of shared-object kinds: one module per kind family, each saying how to
// load its encoded value, apply its ops and render its panel (see docs/objects.md).
//
// A kind module exports {kinds, load(value, writers, kind), apply(state, op, kind, now) -> text of
// the op for the recent-ops line, or a function that makes it (when that formats values: only
// a panel that shows the line calls it), or null (`now`: performance.now() when its batch came,
// which a changed row flashes from), value(state, kind) -> {value, writers} encoded as
// the Python Replica's value() and writers() (tests/test_replay_fixtures.py holds the two
// replayers to the same golden fixtures), summary(state, kind), render(state, body, ctx,
// panel)} and optionally waiting(state) -> [[pid, "blocked in get()"], ...] for the worker table.

import barrier from "./barrier.js";
import condition from "./condition.js";
import dict from "./dict.js";
import event from "./event.js";
import list from "./list.js";
import lock from "./lock.js";
import namespace from "./namespace.js";
import pipe from "./pipe.js";
import queue from "./queue.js";
import sharedMemory from "./shared_memory.js";
import value from "./value.js";
import { el } from "./parts.js";
import { toText } from "../format.js";

/** A kind this page does not know yet: its encoded value as text, so nothing is hidden. */
const unknown = {
  kinds: [],
  load: (v) => ({ value: v }),
  apply(s, op) {
    if ("value" in op) s.value = op.value;
    return op.op;
  },
  value: (s) => ({ value: s.value }),
  summary: () => "",
  render: (s, body) => body.replaceChildren(el("pre", { className: "obj-raw" }, toText(s.value))),
};

const KINDS = new Map();
for (const module of [dict, list, queue, value, namespace, lock, condition, event, barrier, sharedMemory, pipe]) {
  for (const kind of module.kinds) KINDS.set(kind, module);
}

/** The module that handles `kind` (a fallback for a kind the page does not know). */
export function kindModule(kind) {
  return KINDS.get(kind) || unknown;
}

export const KIND_NAMES = [...KINDS.keys()];
