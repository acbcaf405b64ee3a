// The built-in shared list `l` and dict `d` (the server's own Manager): a big panel each, with
// virtual scrolling, the writer of each row, changed rows flashing, new keys marked and the
// `counter` check. They draw objects "l" and "d" of the page's one model (objects.js), as the
// kind panels draw every other object: the list and dict kinds (kinds/list.js, kinds/dict.js)
// replay their ops.

import { describe, toText } from "./format.js";
import { setParts, VirtualList } from "./vlist.js";
import { followNewKeys } from "./newkeys.js";
import { CounterCheck } from "./counter.js";
import { dictRows } from "./kinds/dict.js";

const $ = (id) => document.getElementById(id);
const FLASH_MS = 1300; // a row flashes this long after it changed (vlist.js fades it out)
// before the first snapshot, and under `mpscope run` (no built-in Manager): empty
const NO_LIST = { items: [] };
const NO_DICT = { entries: new Map(), order: [] };

export class BuiltinPanels {
  /** @param {import("./objects.js").ObjectsModel} objects the page's model */
  constructor(objects) {
    this.objects = objects;
    this.listView = new VirtualList($("shared-list"), (row, i) => {
      const item = this.list().items[i];
      const { text, cls } = describe(item.value);
      setParts(row, [["idx", `[${i}]`], [`val ${cls}`, text], ["who", item.pid ? `by ${item.pid}` : ""]]);
      row.title = text;
      return item.at;
    }, { follow: true });
    this.dictView = new VirtualList($("shared-dict"), (row, i, now) => {
      const entry = dictRows(this.dict())[i];
      const key = describe(entry.key);
      const value = describe(entry.value);
      const fresh = this.newKeys.isNew(entry.id, now);
      setParts(row, [[`key ${key.cls}`, key.text], ["arrow", ":"], [`val ${value.cls}`, value.text],
        ...(fresh ? [["new-tag", "new"]] : []), ["who", entry.pid ? `by ${entry.pid}` : ""]]);
      row.classList.toggle("new-key", fresh);
      row.title = `${key.text}: ${toText(entry.value)}`;
      return entry.at;
    }, { follow: true });
    this.newKeys = followNewKeys(this.dictView, { rows: () => dictRows(this.dict()), idOf: (entry) => entry.id,
      button: $("dict-new") });
    this.counterCheck = new CounterCheck($("counter-check"));
  }

  list() { return this.objects.get("l")?.state ?? NO_LIST; }

  dict() { return this.objects.get("d")?.state ?? NO_DICT; }

  /** How many items the list holds (the activity chart plots it). */
  listLength() { return this.list().items.length; }

  /** A snapshot replaced everything: what it holds is not new. */
  reset() {
    this.newKeys.reset();
    this.counterCheck.reset();
  }

  /**
   * Draw both panels (once per frame); `workers` (pid -> info) for the counter check.
   * Returns whether a row is still flashing, so that the caller draws another frame.
   */
  render(now, workers) {
    const count = this.listLength();
    const size = dictRows(this.dict()).length;
    // an empty panel is its explanation, not an empty box: show the list before scrolling it
    showEmpty("shared-list", "list-empty", count === 0);
    showEmpty("shared-dict", "dict-empty", size === 0);
    this.listView.setCount(count);
    this.dictView.setCount(size);
    this.newKeys.update(now);
    this.listView.render(now);
    this.dictView.render(now);
    setText($("list-count"), `${count} item${count === 1 ? "" : "s"}`);
    setText($("dict-count"), `${size} key${size === 1 ? "" : "s"}`);
    this.counterCheck.update(this.dict().entries, workers);
    const flashing = (id) => now - (this.objects.get(id)?.changedAt || -Infinity) < FLASH_MS;
    return flashing("l") || flashing("d");
  }
}

/** A write re-lays out the page around the node: none when the text is the same. */
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function showEmpty(listId, emptyId, empty) {
  if ($(listId).hidden === empty) return;
  $(listId).hidden = empty;
  $(emptyId).hidden = !empty;
}
