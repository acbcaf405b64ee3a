"""The process map (issue 20, section 3): the Workers panel's Map view, in headless Chromium.

Under ``mpscope run examples/stuck/lock_deadlock.py`` the map draws the main process and its two
children as a tree, the two locks, red wait arrows and the deadlock cycle, at 1280 and 390 px
(the box may scroll sideways, never the page). On the built-in dashboard it draws the workers,
the shared dict and list, and items per second along a queue.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import checked_page, live_server  # noqa: F401 -- fixture
from playwright.sync_api import Browser, Page, expect
from run_support import RunServer, processes, serving
from support import Api, LiveClient

from testkit.server import Server
from testkit.waiting import wait_for

pytestmark = pytest.mark.browser
expect.set_options(timeout=20_000)


@pytest.fixture(scope="module")
def deadlock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunServer, Api]]:
    with serving(tmp_path_factory.mktemp("procmap-deadlock"), "stuck/lock_deadlock.py") as both:
        yield both


@contextlib.contextmanager
def open_map(browser: Browser, srv: Server, width: int) -> Iterator[Page]:
    """The page at ``width`` px with the Map view chosen from the keyboard; closed on leaving, and
    a block that ends normally must have left no uncaught exception or console error on it."""
    # (the page as the printed URL opens it, with its token, where the harness knows that URL)
    url = getattr(srv, "page_url", srv.url)
    with checked_page(browser, width) as page:
        page.goto(url)
        expect(page.locator("#connection")).to_have_text("Live")
        table_tab = page.get_by_role("tab", name="Table")
        expect(table_tab).to_have_attribute("aria-selected", "true")
        expect(page.locator("#procmap")).to_be_hidden()
        table_tab.focus()
        page.keyboard.press("ArrowRight")  # ARIA tabs: the arrow keys move between them
        expect(page.get_by_role("tab", name="Map")).to_have_attribute("aria-selected", "true")
        expect(page.get_by_role("tab", name="Map")).to_be_focused()
        expect(page.locator("#procmap")).to_be_visible()
        expect(page.locator("#workers-table")).to_be_hidden()
        yield page


def node(page: Page, key: str):
    return page.locator(f'#procmap .pm-node[data-key="{key}"]')


def edge(page: Page, kind: str, src: str, dst: str):
    return page.locator(f'#procmap .pm-edge.pm-{kind}[data-from="{src}"][data-to="{dst}"]')


def no_page_overflow(page: Page) -> None:
    """The map's box scrolls inside itself: the page is never wider than the window."""
    wide = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert wide[0] <= wide[1], f"the page scrolls sideways: {wide}"
    box = page.locator("#procmap").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= wide[1] + 0.5, box


@pytest.mark.parametrize("width", [1280, 390])
def test_a_lock_deadlock_is_a_tree_two_locks_red_waits_and_a_cycle(
    deadlock, browser: Browser, width: int, tmp_path: Path
):
    srv, api = deadlock

    def named() -> dict | None:
        return next((d for d in api.get_json("/api/diagnoses")["diagnoses"] if d["kind"] == "deadlock"), None)

    diagnosis = wait_for(named, 20, "the deadlock to be named")
    workers = {w["pid"]: w for w in api.state()["workers"]}
    main = next(pid for pid, w in workers.items() if w["role"] == "main")
    children = sorted(pid for pid, w in workers.items() if w["ppid"] == main)
    assert sorted(diagnosis["pids"]) == children
    locks = diagnosis["objects"]
    with open_map(browser, srv, width) as page:
        # the processes as a tree: the main process first, its two children under it
        procs = page.locator("#procmap .pm-proc")
        expect(procs).to_have_count(3)
        assert procs.evaluate_all("ns => ns.map(n => Number(n.dataset.pid))")[0] == main
        for pid in children:
            expect(node(page, f"p:{pid}")).to_have_attribute("data-parent", f"p:{main}")
        expect(page.locator("#procmap .pm-tree")).to_have_count(2)
        # the two locks, named as the program bound them
        for oid in locks:
            expect(node(page, f"o:{oid}")).to_have_attribute("data-kind", "Lock")
        labels = page.locator("#procmap .pm-obj .pm-label").all_text_contents()
        assert sorted(labels) == ["Lock a", "Lock b"], labels
        # each child waits (red) on the lock the other holds; the main process waits to join one
        for pid in children:
            w = workers[pid]["waiting"]
            arrow = edge(page, "wait", f"p:{pid}", f"o:{w['oid']}")
            expect(arrow).to_have_count(1)
            expect(arrow).to_have_class(re.compile(r"\bpm-cycle\b"))
            stroke = arrow.locator("path").evaluate("p => getComputedStyle(p).stroke")
            assert stroke == page.evaluate(
                "() => { const s = document.createElement('span'); s.style.color = 'var(--bad)';"
                " document.body.append(s); const c = getComputedStyle(s).color; s.remove(); return c; }"
            ), stroke
            holder = next(o for o in locks if o != w["oid"])
            expect(edge(page, "hold", f"o:{holder}", f"p:{pid}")).to_have_count(1)
        joined = workers[main]["waiting"]["pid"]
        expect(edge(page, "wait", f"p:{main}", f"p:{joined}")).to_have_count(1)
        # the cycle: both children and both locks, and no more
        cycle = page.locator("#procmap .pm-node.pm-in-cycle")
        expect(cycle).to_have_count(4)
        assert sorted(cycle.evaluate_all("ns => ns.map(n => n.dataset.key)")) == sorted(
            [f"p:{p}" for p in children] + [f"o:{o}" for o in locks]
        )
        expect(page.locator("#procmap .pm-edge.pm-cycle")).to_have_count(4)
        expect(page.locator("#procmap .pm-note")).to_contain_text("Deadlock")
        # every node has its whole text as a tooltip, however it is cut on screen
        for n in page.locator("#procmap .pm-node").all():
            title = n.locator("title").text_content()
            assert title and n.get_attribute("aria-label"), n.inner_html()
        child_title = node(page, f"p:{children[0]}").locator("title").text_content()
        assert workers[children[0]]["waiting"]["text"] in child_title, child_title
        # keyboard: Tab from the map's box reaches its nodes
        page.locator("#procmap .pm-scroll").focus()
        page.keyboard.press("Tab")
        expect(page.locator("#procmap .pm-node").first).to_be_focused()
        no_page_overflow(page)
        page.locator(".workers-panel").screenshot(path=str(tmp_path / f"procmap-deadlock-{width}.png"))


def test_the_built_in_dashboard_maps_its_workers_the_dict_the_list_and_a_queue_rate(
    live_server,  # noqa: F811 -- fixture
    browser: Browser,
    tmp_path: Path,
):
    api = Api(live_server)
    try:
        api.reset()
        ticking = api.spawn_pids(2, "append_pid", interval=0.2)
        producer = api.spawn_pids(1, "producer", queue="jobs", n=10_000, rate=10.0, maxsize=1000)[0]
        with open_map(browser, live_server, 1280) as page:
            for pid in [*ticking, producer]:
                expect(node(page, f"p:{pid}")).to_be_visible()
            expect(node(page, "o:d")).to_contain_text("dict")
            expect(node(page, "o:l")).to_contain_text("list")
            for pid in ticking:  # each writes its entry in d and appended its PID to l
                expect(edge(page, "flow", f"p:{pid}", "o:d")).to_have_count(1)
                expect(edge(page, "flow", f"p:{pid}", "o:l")).to_have_count(1)
            queue = wait_for(
                lambda: next((i for i, o in api.state()["objects"].items() if o["kind"] == "Queue"), None),
                10,
                "the producer's queue",
            )
            put = edge(page, "flow", f"p:{producer}", f"o:{queue}")
            # items per second along the queue: the producer puts 10 a second (the figure is
            # the last 5 whole seconds' mean: it climbs to 10 in the producer's first seconds)
            label = put.locator(".pm-rate")
            expect(label).to_have_text(re.compile(r"^\d+(\.\d)?/s$"))
            wait_for(lambda: 7 <= float(label.text_content().removesuffix("/s")) <= 13, 20, "about 10/s")
            expect(page.locator("#procmap .pm-wait")).to_have_count(0)
            expect(page.locator("#procmap .pm-in-cycle")).to_have_count(0)
            no_page_overflow(page)
            # back to the table: it is the same panel, chosen with a click this time
            page.get_by_role("tab", name="Table").click()
            expect(page.locator("#workers-table")).to_be_visible()
            expect(page.locator("#procmap")).to_be_hidden()
            page.get_by_role("tab", name="Map").click()
            page.locator(".workers-panel").screenshot(path=str(tmp_path / "procmap-builtin.png"))
    finally:
        api.kill_all()
        api.close()


class RecordingRunServer(RunServer):
    """``mpscope run --record``: it prints "running at URL, recording into PATH" (no comma in the URL)."""

    def _printed_url(self) -> str | None:
        url = super()._printed_url()
        return url.rstrip(",") if url else url


def test_a_recorded_deadlock_is_drawn_again_by_mpscope_open(tmp_path: Path, browser: Browser):
    recording = tmp_path / "deadlock.sqlite"
    srv = RecordingRunServer(tmp_path, "stuck/lock_deadlock.py", flags=("--record", str(recording)))
    api = Api(srv)
    try:
        since = wait_for(
            lambda: next(
                (d["since"] for d in api.get_json("/api/diagnoses")["diagnoses"] if d["kind"] == "deadlock"),
                0,
            ),
            20,
            "the deadlock to be named",
        )
        children = sorted(pid for pid, w in processes(api).items() if w["role"] != "main")
    finally:
        api.close()
        stopped_at = time.time()  # the recording is stuck from `since` until the stop
        srv.stop()
    opened = Server(tmp_path / "open", str(recording), subcommand=("open",), max_workers=None)
    client = LiveClient(opened)
    try:
        with open_map(browser, opened, 1280) as page:
            # the recording ends with the program stopped: back to a moment it was stuck
            assert client.call("replay_seek", {"t": (since + stopped_at) / 2})["status"] == 200
            cycle = page.locator("#procmap .pm-proc.pm-in-cycle")
            expect(cycle).to_have_count(2)
            assert (
                sorted(int(pid) for pid in cycle.evaluate_all("ns => ns.map(n => n.dataset.pid)")) == children
            )
            expect(page.locator("#procmap .pm-obj.pm-in-cycle")).to_have_count(2)
            expect(page.locator("#procmap .pm-wait.pm-cycle")).to_have_count(2)
    finally:
        client.close()
        opened.stop()


def test_a_built_in_deadlock_on_named_locks_is_a_cycle(live_server, browser: Browser):  # noqa: F811 -- fixture
    api = Api(live_server)
    try:
        api.reset()
        one = api.spawn_pids(1, "deadlock", first="map-a", second="map-b")[0]
        two = api.spawn_pids(1, "deadlock", first="map-b", second="map-a")[0]
        with open_map(browser, live_server, 390) as page:
            cycle = page.locator("#procmap .pm-node.pm-in-cycle")
            expect(cycle).to_have_count(4)
            assert sorted(cycle.evaluate_all("ns => ns.map(n => n.dataset.key)")) == sorted(
                [f"p:{one}", f"p:{two}", "o:lock:map-a", "o:lock:map-b"]
            )
            expect(edge(page, "wait", f"p:{one}", "o:lock:map-b")).to_have_class(re.compile(r"\bpm-cycle\b"))
            expect(edge(page, "hold", "o:lock:map-a", f"p:{one}")).to_have_class(re.compile(r"\bpm-cycle\b"))
            no_page_overflow(page)
    finally:
        api.kill_all()
        api.close()


def test_per_process_counts_of_a_sampled_value_give_items_per_second(live_server, browser: Browser):  # noqa: F811
    """A native Queue's or Pipe's value counts items per process (``by``): successive samples
    give the rate along each edge; a kind the page has no module for still shows who is blocked."""
    with open_map(browser, live_server, 1280) as page:
        edges = page.evaluate(
            """async () => {
              const { FlowCounter } = await import("/static/js/procmap-flows.js");
              const { buildGraph } = await import("/static/js/procmap-graph.js");
              const by = (n) => ({ by: { 11: { sent: n, received: 0 }, 12: { sent: 0, received: n } } });
              const flows = new FlowCounter();
              flows.reset({ version: 0, objects: { c: { kind: "Channel", value: by(5) } } });
              // 10 items a second for 6 s, one sample a second
              for (let s = 1; s <= 6; s++) {
                const op = { seq: s, op: "sample", object: "c", pid: null, value: by(5 + 10 * s) };
                flows.add({ ops: [op] }, 1000 + s);
              }
              const objects = new Map([["c", { id: "c", kind: "Channel", label: "c = make()  · p.py:3",
                state: { value: { blocked: [{ pid: 13, call: "recv" }] } } }]]);
              const workers = new Map([11, 12, 13].map((pid) =>
                [pid, { pid, ppid: 1, name: `P${pid}`, state: "running" }]));
              const graph = buildGraph({ workers, objects, flows, now: 1006.5 });
              return graph.edges.map((e) => [e.type, e.from, e.to, e.rate ?? null]);
            }"""
        )
        assert sorted(map(tuple, edges)) == [
            ("flow", "o:c", "p:12", 10),
            ("flow", "p:11", "o:c", 10),
            ("wait", "p:13", "o:c", None),
        ], edges
