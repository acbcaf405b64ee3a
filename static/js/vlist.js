// A virtual scroller: however long the list, only the rows in view exist in the DOM.

export const ROW_HEIGHT = 24;
const FLASH_MS = 1200;

export class VirtualList {
  /**
   * @param {HTMLElement} el the scrolling container
   * @param {(row: HTMLElement, index: number, now: number) => number|undefined} fill
   *   writes row `index` into `row`; returns the time it last changed (to flash it)
   */
  constructor(el, fill, { follow = false } = {}) {
    this.el = el;
    this.fill = fill;
    this.follow = follow; // keep the newest rows in view while the user is at the bottom
    this.count = 0;
    this.rows = [];
    this.spacer = document.createElement("div");
    this.spacer.className = "spacer";
    el.append(this.spacer);
    this.atBottom = true;
    this.followedTop = -1;
    // The geometry is cached, read only in the scroll and resize callbacks, so that render()
    // never reads layout after rows were written: at 10,000 changes/s those forced layouts
    // were a third of the page's frame time (make bench: browser.longtasks).
    this.height = el.clientHeight || 320;
    this.top = 0;
    new ResizeObserver(() => {
      this.height = el.clientHeight || this.height;
      // A list shown after it was hidden was scrolled with a guessed height: the newest rows
      // ended a few lines below the fold (the output log after a reload). Follow again.
      if (this.follow && this.atBottom) this.scrollToEnd();
      this.render(performance.now());
    }).observe(el);
    el.addEventListener("scroll", () => {
      this.top = el.scrollTop;
      this.atBottom = this.top + this.height >= this.count * ROW_HEIGHT - ROW_HEIGHT;
      // Our own follow scroll (setCount) was drawn by the frame that made it; rendering
      // again here touched the DOM twice per frame (make bench: browser.dom_per_frame).
      if (this.top === this.followedTop) return;
      this.render(performance.now());
    }, { passive: true });
  }

  setCount(n) {
    if (n === this.count) return;
    this.count = n;
    this.spacer.style.height = `${n * ROW_HEIGHT}px`;
    if (this.follow && this.atBottom) this.scrollToEnd();
  }

  scrollToEnd() {
    this.scrollTo(Math.max(0, this.count * ROW_HEIGHT - this.height));
  }

  /**
   * Scroll to `top` (px) as our own move: drawn by the next render, not by the scroll event.
   * The scrollTop write forces a layout, so it waits for the end of the task (a microtask):
   * written at once, between the spacer's and the rows' writes, it cost a second layout per
   * frame at 10,000 changes/s (the largest script item in a profile of the page).
   */
  scrollTo(top) {
    this.top = top;
    this.followedTop = top;
    if (this.scrollPending) return;
    this.scrollPending = true;
    queueMicrotask(() => {
      this.scrollPending = false;
      this.el.scrollTop = this.top;
    });
  }

  render(now) {
    const height = this.height;
    const first = Math.max(0, Math.floor(this.top / ROW_HEIGHT) - 2);
    const last = Math.min(this.count, first + Math.ceil(height / ROW_HEIGHT) + 4);
    const needed = Math.max(0, last - first);
    while (this.rows.length < needed) {
      const row = document.createElement("div");
      row.className = "vrow";
      row.setAttribute("role", "listitem");
      this.el.append(row);
      this.rows.push(row);
    }
    for (let i = 0; i < this.rows.length; i++) {
      const row = this.rows[i];
      const index = first + i;
      if (index >= last) {
        if (!row.hidden) { row.hidden = true; row.flashAt = 0; } // (display: none ends its flash)
        continue;
      }
      if (row.hidden) row.hidden = false;
      // unchanged styles are not written again: each write re-styles the row
      if (row.index !== index) { row.index = index; row.style.transform = `translateY(${index * ROW_HEIGHT}px)`; }
      const changedAt = this.fill(row, index, now);
      const age = changedAt ? now - changedAt : FLASH_MS; // 0 or none: as loaded, never changed here
      if (age < FLASH_MS) {
        // a negative delay resumes the flash where it was, so re-rendering does not restart it;
        // set once per change shown in this row (the running animation keeps its timing)
        if (row.flashAt !== changedAt) {
          row.flashAt = changedAt;
          row.classList.add("flash");
          row.style.animationDelay = `${-age}ms`;
        }
      } else if (row.flashAt) {
        row.flashAt = 0;
        row.classList.remove("flash");
        row.style.animationDelay = "";
      }
    }
  }
}

/** Fill `row` with spans of the given [className, text] parts, reusing its children. */
export function setParts(row, parts) {
  while (row.children.length < parts.length) row.append(document.createElement("span"));
  while (row.children.length > parts.length) row.lastChild.remove();
  parts.forEach(([cls, text], i) => {
    const span = row.children[i];
    if (span.className !== cls) span.className = cls;
    if (span.textContent === text) return;
    // the text node's data, not a new node: its layout object is kept (rows change each frame)
    const node = span.firstChild;
    if (node && node.nodeType === Node.TEXT_NODE && !node.nextSibling) node.data = text;
    else span.textContent = text;
  });
}
