"""The panels of a program's own Value, Array, RawValue, SharedMemory and ShareableList on the
``mpscope run`` page, at 1280 and 390 px: each says its value (the Array how much of it is
shown), the block its name, size and the processes that mapped it, and nothing overflows."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect
from run_support import RunServer
from support import Api

from testkit.waiting import wait_for

pytestmark = pytest.mark.browser
expect.set_options(timeout=20_000)

PROGRAM = textwrap.dedent(
    """
    import multiprocessing as mp
    import time
    from multiprocessing import shared_memory


    def work(counter, block, sl):
        for _ in range(1000):
            with counter.get_lock():
                counter.value += 1
        block.buf[0] = 7
        sl[0] = "a rather long string item that the panel must cut to fit"


    if __name__ == "__main__":
        counter = mp.Value("i", 0)
        samples = mp.Array("d", 1500)
        raw = mp.RawValue("d", 2.5)
        block = shared_memory.SharedMemory(create=True, size=4096)
        sl = shared_memory.ShareableList(["x" * 60, 1, 2.5, None, b"bytes"])
        kids = [mp.Process(target=work, args=(counter, block, sl)) for _ in range(2)]
        for k in kids:
            k.start()
        for k in kids:
            k.join()
        print("done", counter.value, flush=True)
        try:
            time.sleep(600)
        finally:
            block.close()
            block.unlink()
            sl.shm.close()
            sl.shm.unlink()
    """
)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunServer, Api]]:
    tmp = tmp_path_factory.mktemp("native-values")
    program = tmp / "shared.py"
    program.write_text(PROGRAM)
    srv = RunServer(tmp, str(program))
    api = Api(srv)
    try:
        wait_for(lambda: "done 2000" in srv.output(), 30, "the children's work")
        yield srv, api
    finally:
        api.close()
        srv.stop()


@pytest.mark.parametrize("width", [1280, 390])
def test_value_and_shared_memory_panels_read_well(shared, browser: Browser, width: int, tmp_path):
    srv, api = shared
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(srv.page_url)
        expect(page.locator("#connection")).to_have_text("Live")
        panels = page.locator("#objects .object-panel")
        counter = panels.filter(has_text="counter = mp.Value")
        # a page is open: the agent reads the values again (the children are done: 2000)
        expect(counter.locator(".big")).to_have_text("2000")
        expect(counter.locator(".obj-line.lock")).to_contain_text("its own")
        raw = panels.filter(has_text="raw = mp.RawValue")
        expect(raw.locator(".obj-line.lock")).to_contain_text("none")
        samples = panels.filter(has_text="samples = mp.Array")
        expect(samples.locator(".obj-line.length")).to_have_text("Itemsthe first 1,000 of 1,500")
        block = panels.filter(has_text="block = shared_memory.SharedMemory")
        name = api.state()["objects"][block.get_attribute("data-object")]["value"]["name"]
        expect(block.locator(".obj-line.name")).to_contain_text(name)
        expect(block.locator(".obj-line.size")).to_contain_text("4096 B")
        expect(block.locator(".obj-line.mapped .pid-chip")).to_have_count(3)  # the parent and 2 children
        expect(block.locator(".obj-line.mapped")).to_contain_text("open")
        sl = panels.filter(has_text="sl = shared_memory.ShareableList")
        expect(sl.locator('[role="listitem"], .vrow').first).to_contain_text("a rather long string")
        block.scroll_into_view_if_needed()
        page.screenshot(path=str(tmp_path / f"native-values-{width}.png"), full_page=False)
        for panel in (counter, raw, samples, block, sl):
            panel.scroll_into_view_if_needed()
            box, view = panel.bounding_box(), page.viewport_size
            assert box["x"] >= 0 and box["x"] + box["width"] <= view["width"] + 1, (panel.inner_text(), box)
            overflow = panel.evaluate("e => e.scrollWidth - e.clientWidth")
            assert overflow <= 1, (panel.inner_text(), overflow)
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
        assert not errors, errors
    finally:
        context.close()
