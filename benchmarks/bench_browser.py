"""8. The browser keeps up: headless Chromium on the dashboard under 10,000 mutations/s.

Observers injected with ``page.add_init_script`` (CSP forbids inline scripts in the page,
not Playwright's init scripts) record:

* long tasks (PerformanceObserver ``longtask``: main-thread tasks over 50 ms);
* DOM updates: every ``requestAnimationFrame`` callback is wrapped and the mutations it
  made are taken synchronously (``takeRecords``), so we count, per frame (callbacks of
  one frame share a timestamp), how many callbacks changed the DOM; mutations made
  outside animation frames arrive at the observer's own callback and are counted apart,
  by the id of the element they touched;
* arrival latency of each ``changes`` frame at the page's websocket (first op's ``t``).

Then a 100,000-entry dict and 100,000-item list are loaded and the page's element count
is compared with the page's at 100 of each (virtual scrolling keeps it bounded).
"""

from __future__ import annotations

import time

from playwright.sync_api import sync_playwright

from testkit.browser import launch_chromium

from .harness import figure, percentile, wait_for

OBSERVERS = """
(() => {
  const b = window.__bench = { long: [], frames: {}, outside: {}, lat: [] };
  b.reset = () => { b.long = []; b.frames = {}; b.outside = {}; b.lat = []; };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) b.long.push(e.duration);
  }).observe({ type: "longtask", buffered: true });
  const where = (node) => {
    for (let n = node; n; n = n.parentNode) if (n.id) return n.id;
    return "(document)";
  };
  const outside = (records) => {
    for (const r of records) { const id = where(r.target); b.outside[id] = (b.outside[id] || 0) + 1; }
  };
  const mo = new MutationObserver(outside);
  mo.observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
  const raf = window.requestAnimationFrame.bind(window);
  window.requestAnimationFrame = (cb) => raf((ts) => {
    outside(mo.takeRecords());
    try { cb(ts); } finally {
      if (mo.takeRecords().length) b.frames[ts] = (b.frames[ts] || 0) + 1;
    }
  });
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (e) => {
        const data = e.data;
        if (typeof data !== "string" || !data.startsWith('42["changes"')) return;
        const i = data.indexOf('"t":');
        if (i > 0) b.lat.push(Date.now() / 1000 - parseFloat(data.slice(i + 4)));
      });
    }
  };
})();
"""

READ = """() => {
  const b = window.__bench;
  const perFrame = Object.values(b.frames);
  return { long: b.long, frames: perFrame.length, maxPerFrame: Math.max(0, ...perFrame),
           outside: b.outside, lat: b.lat, version: document.getElementById("version").textContent,
           nodes: document.getElementsByTagName("*").length,
           dictRows: document.querySelectorAll("#shared-dict .vrow").length,
           listRows: document.querySelectorAll("#shared-list .vrow").length };
}"""


def open_page(browser, url: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.add_init_script(OBSERVERS)
    page.goto(url)
    wait_for(lambda: "Live" in page.evaluate("document.getElementById('connection').textContent"), 30, "Live")
    return page


def wait_page_version(page, version: int, timeout: float = 60) -> None:
    # (wait_for_function would eval a string in the page, which its CSP forbids)
    script = "document.getElementById('version').textContent"
    wait_for(lambda: page.evaluate(script) == f"v{version}", timeout, f"the page at v{version}", 0.05)


def run(bench) -> list[dict]:
    server = bench.server()
    size = bench.q(100_000, 10_000)
    seconds = bench.q(6.0, 1.5)
    rows = []
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            server.fill(entries=100, items=100)  # enough rows to fill both views
            page = open_page(browser, server.url)
            wait_page_version(page, server.health()["version"])
            time.sleep(1.0)
            small = page.evaluate(READ)
            page.evaluate("window.__bench.reset()")
            # 10,000 mutations/s: 4 workers on the dict, 4 appending to the list
            per = 10_000 / 8
            n = int(per * seconds)
            server.spawn(4, "burst", n=n, rate=per, keys=100, target="dict")
            server.spawn(4, "burst", n=n, rate=per, target="list")
            server.wait_idle()
            t_end = time.time()
            wait_page_version(page, server.health()["version"])
            caught_up = time.time() - t_end
            load = page.evaluate(READ)
            page.close()

            server.reset()
            server.fill(entries=size, items=size, writers=4)
            version = server.health()["version"]
            page = open_page(browser, server.url)
            wait_page_version(page, version)
            time.sleep(0.5)
            big = page.evaluate(READ)
            page.evaluate("document.getElementById('shared-dict').scrollTop = 1e6")
            page.evaluate("document.getElementById('shared-list').scrollTop = 1e6")
            time.sleep(0.5)
            scrolled = page.evaluate(READ)
            page.close()
        finally:
            browser.close()

    longest = max(load["long"], default=0.0)
    outside = {k: v for k, v in load["outside"].items()}
    bench.log(
        f"load: {len(load['long'])} long tasks (max {longest:.0f} ms), {load['frames']} frames with DOM "
        f"updates, max {load['maxPerFrame']} per frame, outside frames: {outside}; caught up in "
        f"{caught_up * 1000:.0f} ms"
    )
    bench.log(
        f"nodes: 100+100 {small['nodes']}, {size:,}+{size:,}: {big['nodes']}, scrolled {scrolled['nodes']}"
    )
    lat = [v * 1000 for v in load["lat"]]
    rows.append(
        figure(
            "browser.longtasks",
            "main-thread tasks over 50 ms while 10,000 mutations/s arrive",
            len(load["long"]),
            None,
            "tasks",
            target="0",
            met=not load["long"],
            note=f"longest {longest:.0f} ms; page caught up {caught_up * 1000:.0f} ms after the load; "
            f"arrival at the page p50 {percentile(lat, 50):.1f} ms, p99 {percentile(lat, 99):.1f} ms",
        )
    )
    rows.append(
        figure(
            "browser.dom_per_frame",
            "DOM-updating animation-frame callbacks per frame (max)",
            load["maxPerFrame"],
            None,
            "",
            target="≤ 1",
            met=load["maxPerFrame"] <= 1,
            note=f"{load['frames']} frames updated the DOM; mutations outside animation frames, "
            f"by element: {outside or 'none'}",
        )
    )
    rows.append(
        figure(
            "browser.dom_nodes",
            f"page elements with a {size:,}-entry dict and {size:,}-item list (scrolled to the end)",
            max(big["nodes"], scrolled["nodes"]),
            small["nodes"],
            "elements",
            baseline_name="the same page with 100 entries and 100 items",
            target="bounded (≤ 1.3×)",
            met=max(big["nodes"], scrolled["nodes"]) / small["nodes"] <= 1.3,
            note=f"rows in the DOM: dict {big['dictRows']}, list {big['listRows']}; "
            f"{len(big['long'])} long task(s) while loading the snapshot, longest "
            f"{max(big['long'], default=0):.0f} ms",
        )
    )
    return rows
