// New keys of a keyed panel (the shared dict): marked for a few seconds, and revealed.
//
// A dict keeps insertion order, so new keys land at the end of the panel, below what the
// user is looking at. While the user is at the bottom the panel follows them (the
// VirtualList's `follow`); otherwise a button says how many arrived below and scrolls to
// the first of them. Either way each new key is marked "new" for MARK_MS.
//
// One tracker per panel: `followNewKeys(view, {ids, button})`, then `reset()` on a
// snapshot (everything in it is old), `update(now)` once per render before the view
// renders, and `isNew(id, now)` in the row's fill function.

import { ROW_HEIGHT } from "./vlist.js";

const MARK_MS = 5000;

/**
 * @param {import("./vlist.js").VirtualList} view the panel's virtual list (made with follow: true)
 * @param {{rows: () => any[], idOf?: (row: any) => any, button: HTMLButtonElement, noun?: string}} options
 *   rows: the panel's rows in display order (the same array while nothing was added or removed);
 *   idOf: a row's key id
 */
export function followNewKeys(view, { rows, idOf = (row) => row, button, noun = "key" }) {
  let known = new Set();
  const firstSeen = new Map(); // id -> when it appeared, while it is marked
  let below = []; // new ids the user has not scrolled to, oldest first
  let last = null;
  let seeded = false;

  button.addEventListener("click", () => {
    const order = rows();
    const index = below.length ? order.findIndex((row) => idOf(row) === below[0]) : order.length - 1;
    below = [];
    button.hidden = true;
    // the first new key at the top of the view (or the end, if fewer than a screenful follow)
    const end = Math.max(0, order.length * ROW_HEIGHT - view.height);
    view.scrollTo(Math.min(Math.max(0, index - 1) * ROW_HEIGHT, end));
    view.atBottom = view.top >= end - ROW_HEIGHT;
    view.render(performance.now());
    view.el.focus({ preventScroll: true });
  });

  function added(order) {
    // new ids are at the end: walk back to the first one we know
    const fresh = [];
    for (let i = order.length - 1; i >= 0 && !known.has(idOf(order[i])); i--) fresh.push(idOf(order[i]));
    if (order.length - fresh.length === known.size) {
      for (const id of fresh) known.add(id);
      return fresh.reverse();
    }
    // keys were removed too (rare): compare the whole panel
    const ids = order.map(idOf);
    const all = ids.filter((id) => !known.has(id));
    known = new Set(ids);
    return all;
  }

  return {
    reset() {
      known = new Set();
      firstSeen.clear();
      below = [];
      last = null;
      seeded = false;
      button.hidden = true;
    },

    update(now) {
      for (const [id, t] of firstSeen) if (now - t >= MARK_MS) firstSeen.delete(id);
      const order = rows();
      if (order !== last) {
        last = order;
        if (!seeded) {
          known = new Set(order.map(idOf));
          seeded = true;
        } else {
          const fresh = added(order);
          for (const id of fresh) firstSeen.set(id, now);
          if (!view.atBottom) below.push(...fresh);
        }
        const present = new Set(below.length ? order.slice(-below.length - 16).map(idOf) : []);
        below = below.filter((id) => present.has(id));
      }
      if (view.atBottom) below = [];
      button.hidden = below.length === 0;
      if (below.length) button.textContent = `↓ ${below.length} new ${noun}${below.length === 1 ? "" : "s"} below`;
    },

    isNew(id, now) {
      const t = firstSeen.get(id);
      return t !== undefined && now - t < MARK_MS;
    },
  };
}
