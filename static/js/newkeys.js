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
const MARK_LATER = 1000; // at most this many keys that landed out of sight are marked once revealed

/**
 * @param {import("./vlist.js").VirtualList} view the panel's virtual list (made with follow: true)
 * @param {{rows: () => any[], idOf?: (row: any) => any, button: HTMLButtonElement, noun?: string}} options
 *   rows: the panel's rows in display order (the same array while nothing was added or removed);
 *   idOf: a row's key id
 */
export function followNewKeys(view, { rows, idOf = (row) => row, button, noun = "key" }) {
  let known = new Set();
  const firstSeen = new Map(); // id -> when it appeared, while it is marked
  let below = 0; // new keys the user has not scrolled to
  let firstBelow = null; // the oldest of them
  let unmarked = []; // the newest of them: their mark starts when the user gets to see them
  let last = null;
  let seeded = false;

  button.addEventListener("click", () => {
    const order = rows();
    const found = order.findIndex((row) => idOf(row) === firstBelow);
    const index = found >= 0 ? found : order.length - 1; // (the first new key may be gone since)
    below = 0;
    button.hidden = true;
    markNow(performance.now());
    // the first new key at the top of the view (or the end, if fewer than a screenful follow)
    const end = Math.max(0, order.length * ROW_HEIGHT - view.height);
    view.scrollTo(Math.min(Math.max(0, index - 1) * ROW_HEIGHT, end));
    view.atBottom = view.top >= end - ROW_HEIGHT;
    view.render(performance.now());
    view.el.focus({ preventScroll: true });
  });

  function markNow(now) {
    for (const id of unmarked) firstSeen.set(id, now);
    unmarked = [];
  }

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
      below = 0;
      unmarked = [];
      last = null;
      seeded = false;
      button.hidden = true;
    },

    update(now) {
      // oldest first (insertion order): stop at the first mark still showing
      for (const [id, t] of firstSeen) {
        if (now - t < MARK_MS) break;
        firstSeen.delete(id);
      }
      const order = rows();
      if (order !== last) {
        last = order;
        if (!seeded) {
          known = new Set(order.map(idOf));
          seeded = true;
        } else {
          const fresh = added(order);
          if (view.atBottom) {
            for (const id of fresh) firstSeen.set(id, now);
          } else if (fresh.length) {
            if (below === 0) firstBelow = fresh[0];
            below += fresh.length;
            unmarked.push(...fresh.slice(-MARK_LATER));
            if (unmarked.length > MARK_LATER) unmarked = unmarked.slice(-MARK_LATER);
          }
        }
      }
      if (view.atBottom && below) {
        below = 0;
        markNow(now); // the user scrolled down to them
      }
      if (button.hidden !== (below === 0)) button.hidden = below === 0;
      const text = `↓ ${below.toLocaleString("en-US")} new ${noun}${below === 1 ? "" : "s"} below`;
      if (below && button.textContent !== text) button.textContent = text;
    },

    isNew(id, now) {
      const t = firstSeen.get(id);
      return t !== undefined && now - t < MARK_MS;
    },
  };
}
