"""The ``mpscope run`` page as a new user sees it (issue 21, "The run-mode page"), at 1280 and 390 px:
the process table fits and is the program's tree, nothing of the built-in dashboard is left, Run
again marks where the new run's output starts, and the Pool timeline says what it shows."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from run_support import RunServer, serving, wait_program
from support import Api

pytestmark = pytest.mark.browser
expect.set_options(timeout=20_000)

# A Manager, eight children that sleep and two that deadlock on two locks with long names: the
# rows' wait texts are long, and there are more processes than the table's box shows.
STUCK_TREE = textwrap.dedent(
    """
    import multiprocessing as mp
    import time


    def take(first, second):
        with first:
            time.sleep(0.5)
            with second:
                print("never printed")


    def child(d, i):
        d[i] = i
        time.sleep(600)


    if __name__ == "__main__":
        with mp.Manager() as m:
            d = m.dict()
            kids = [mp.Process(target=child, args=(d, i)) for i in range(8)]
            for k in kids:
                k.start()
            the_first_lock_of_this_rather_long_example = mp.Lock()
            the_second_lock_of_this_rather_long_example = mp.Lock()
            one = mp.Process(target=take, args=(
                the_first_lock_of_this_rather_long_example, the_second_lock_of_this_rather_long_example))
            two = mp.Process(target=take, args=(
                the_second_lock_of_this_rather_long_example, the_first_lock_of_this_rather_long_example))
            one.start()
            two.start()
            one.join()
    """
)

# A Pool that terminate() ends while its two workers are in a task (each gets SIGTERM), then one
# whose task never ends.
ENDED_AND_STUCK_POOL = textwrap.dedent(
    """
    import multiprocessing as mp
    import time


    def square(x):
        return x * x


    def init(queue):
        global started
        started = queue


    def nap(x):
        started.put(x)
        time.sleep(600)


    if __name__ == "__main__":
        queue = mp.Queue()
        with mp.Pool(2, initializer=init, initargs=(queue,)) as pool:
            print("squares", pool.map(square, range(4)))
            pool.map_async(nap, [1, 2], chunksize=1)
            queue.get(), queue.get()  # both workers are in a task: leaving the block terminates them
        stuck = mp.Pool(1)
        result = stuck.apply_async(time.sleep, (600,))
        print("waiting for a task that never ends")
        result.wait()
    """
)


@pytest.fixture(scope="module")
def stuck_tree(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunServer, Api]]:
    tmp = tmp_path_factory.mktemp("stuck-tree")
    program = tmp / "stuck_tree.py"
    program.write_text(STUCK_TREE)
    with serving(tmp, str(program)) as both:
        yield both


def open_page(browser: Browser, url: str, width: int) -> tuple[Page, list[str]]:
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    expect(page.locator("#connection")).to_have_text("Live")
    return page, errors


def test_rows_stay_one_line_and_fit_at_1280_with_long_waits(stuck_tree, browser: Browser):
    srv, api = stuck_tree
    page, errors = open_page(browser, srv.page_url, 1280)
    try:
        notes = page.locator("#workers .waiting-note")
        expect(notes).to_have_count(2)
        expect(notes.first).to_contain_text("deadlocked")
        for i in range(2):  # cut to fit, whole in its tooltip
            assert notes.nth(i).get_attribute("title").startswith("deadlocked: the_")
        expect(page.locator("#workers tr[data-pid]")).to_have_count(12)
        expect(page.locator("#workers .wait-line").first).to_be_visible()
        wrap = page.locator(".workers-panel .table-wrap")
        widths = wrap.evaluate(
            "e => [e.scrollWidth, e.clientWidth, ...[...e.querySelectorAll('th')].map(th => th.offsetWidth),"
            " ...[...e.querySelectorAll('tr[data-pid]')].map(r => r.innerText.replace(/\\s+/g, ' '))]"
        )
        assert widths[0] <= widths[1] + 1, f"the table scrolls sideways: {widths}"
        right = wrap.bounding_box()["x"] + wrap.bounding_box()["width"]
        for row in page.locator("#workers tr[data-pid]").all():
            row.scroll_into_view_if_needed()
            box = row.bounding_box()
            # one line of columns: the name and, under it, one line of what it waits on
            assert box["height"] <= 52, (row.inner_text(), box)
            kill = row.get_by_role("button", name=re.compile(r"^Kill \d+$"))
            kb = kill.bounding_box()
            assert kb["x"] + kb["width"] <= right + 1 and kb["y"] - box["y"] < 30, (row.inner_text(), kb, box)
        assert not errors, errors
    finally:
        page.context.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_the_program_is_a_tree_with_the_main_process_always_in_view(stuck_tree, browser: Browser, width: int):
    srv, api = stuck_tree
    state = api.state()
    main = state["program"]["pid"]
    page, errors = open_page(browser, srv.page_url, width)
    try:
        rows = page.locator("#workers tr[data-pid]")
        expect(rows).to_have_count(12)
        expect(rows.first).to_have_attribute("data-pid", str(main))
        expect(rows.first).to_have_class(re.compile(r"\btree-main\b"))
        workers = {w["pid"]: w for w in api.state()["workers"]}
        manager = next(pid for pid, w in workers.items() if w["role"] == "manager")
        child = re.compile(r"\btree-child\b")
        expect(page.locator(f'#workers tr[data-pid="{manager}"]')).to_have_class(child)
        # every child under its parent: a row's parent comes before it
        order = [int(pid) for pid in rows.evaluate_all("rs => rs.map(r => r.dataset.pid)")]
        for pid in order[1:]:
            assert order.index(workers[pid]["ppid"]) < order.index(pid), (pid, order)
        # scrolled to the last process, the main process is still in view, under the header
        wrap = page.locator(".workers-panel .table-wrap")
        # (the page scrolled so that the box is just under the sticky top bar)
        wrap.evaluate(
            "e => { window.scrollBy(0, e.getBoundingClientRect().top"
            " - document.querySelector('.topbar').getBoundingClientRect().bottom - 8);"
            " e.scrollTop = e.scrollHeight; }"
        )
        expect(rows.last).to_be_in_viewport()
        top = wrap.bounding_box()["y"]
        bottom = top + wrap.bounding_box()["height"]
        main_box = rows.first.locator("td").first.bounding_box()  # (a table row's cells are what stick)
        assert wrap.evaluate("e => e.scrollTop") > 0
        inside = top - 1 <= main_box["y"] and main_box["y"] + main_box["height"] <= bottom + 1
        assert inside, (main_box, top, bottom)
        hit = page.evaluate(
            "([x, y]) => document.elementFromPoint(x, y)?.closest('tr')?.dataset.pid",
            [main_box["x"] + 5, main_box["y"] + main_box["height"] / 2],
        )
        assert hit == str(main), "another row covers the main process's"
        if width == 390:
            # the role badge is never cut, however long the name
            for row in rows.all():
                row.scroll_into_view_if_needed()
                badge = row.locator(".badge.role")
                cell = row.locator("td").nth(2).bounding_box()
                bb = badge.bounding_box()
                assert bb["x"] + bb["width"] <= cell["x"] + cell["width"] + 0.5, (row.inner_text(), bb, cell)
                assert badge.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
        assert not errors, errors
    finally:
        page.context.close()


def test_nothing_of_the_built_in_dashboard_is_left(stuck_tree, browser: Browser):
    srv, api = stuck_tree
    main = api.state()["program"]["pid"]
    page, errors = open_page(browser, srv.page_url, 1280)
    try:
        expect(page.locator(f'#workers tr[data-pid="{main}"]')).to_be_visible()
        expect(page.locator("#version")).to_have_count(0)  # the built-in shared state's version
        expect(page.locator("#output-empty")).to_be_visible()
        expect(page.locator("#output-empty")).not_to_contain_text("printer")
        expect(page.locator("#output-empty")).to_contain_text("The program has not printed anything yet")
        # no Pool: the note says what will fill the panel, and there is no empty time axis
        expect(page.locator("#pool-empty")).to_be_visible()
        expect(page.locator("#pool-timeline")).to_be_hidden()
        # a deadlock: the Locks panel shows it (and is hidden while there is none: see below)
        expect(page.locator("#locks-panel")).to_be_visible()
        expect(page.locator("#deadlocks")).to_contain_text("Deadlock")
        page.get_by_role("button", name=f"Output of {main}").click()
        title = page.locator("#inspector-title")
        expect(title).to_have_text(f"PID {main} — MainProcess · main (running)")
        expect(page.locator("#inspector-empty")).to_contain_text("has not printed anything yet")
        expect(page.locator("#inspector-empty")).not_to_contain_text("printer")
        assert not errors, errors
    finally:
        page.context.close()


def test_pool_rows_tasks_and_run_again(tmp_path: Path, browser: Browser):
    program = tmp_path / "a_program_with_a_rather_long_name_and_a_pool.py"
    program.write_text(ENDED_AND_STUCK_POOL)
    srv = RunServer(tmp_path, str(program))
    api = Api(srv)
    page, errors = open_page(browser, srv.page_url, 1280)
    try:
        expect(page.locator("#pool-timeline")).to_be_visible()
        # no lock, no deadlock: no Locks panel
        expect(page.locator("#locks-panel")).to_be_hidden()
        # each row's label keeps the line that made its Pool, whatever it cuts
        labels = page.locator("#pool-timeline text.tl-label")
        expect(labels.filter(has_text=re.compile(r"Pool-2 "))).to_have_count(1)
        for text in labels.all_text_contents():
            assert re.search(r"\.py:\d+\)$", text), text
        ticks = page.locator("#pool-timeline text.tl-tick").all_text_contents()
        assert len(ticks) == len(set(ticks)) >= 2, ticks  # each tick says a different time
        # the task still running: how long so far, not "→ now"
        tips = page.locator("#pool-timeline rect.tl-bar > title").all_text_contents()
        assert any("so far" in tip for tip in tips), tips
        assert not any(tip.endswith("now") for tip in tips), tips
        # a task lost with its worker (terminate() during nap) ends with it, in the failed colour
        lost = page.locator("#pool-timeline rect.tl-bar.st-blocked > title").all_text_contents()
        assert all("(lost)" in tip and "so far" not in tip for tip in lost), lost
        # the first Pool's workers, ended by terminate() (SIGTERM), folded under the main process
        fold = page.locator("#workers tr.fold-row button")
        expect(fold).to_have_text("▸ 2 ended")
        ended = page.locator("#workers tr.ended", has_text="ForkPoolWorker-1")
        expect(ended).to_be_hidden()
        fold.click()
        expect(fold).to_have_text("▾ 2 ended")
        expect(ended).to_be_visible()
        terminated = page.locator("#workers tr.ended", has_text="ForkPoolWorker")
        expect(terminated).to_have_count(2)
        for row in terminated.all():
            expect(row.locator("td").nth(7)).to_have_text("SIGTERM · pool ended")
            expect(row.locator(".exit-bad")).to_have_count(0)  # not a failure: how every Pool ends

        # Run again: the new run's output under a separator
        expect(page.locator("#output-log")).to_contain_text("waiting for a task that never ends")
        page.get_by_role("button", name="Stop the program").click()
        wait_program(api)
        expect(page.locator("#program-state")).to_have_text("killed")
        expect(page.locator(".vrow.run-marker")).to_have_count(0)
        page.get_by_role("button", name="Run the program again").click()
        expect(page.locator("#program-state")).to_have_text("running")
        marker = page.locator("#output-log .vrow.run-marker")
        expect(marker).to_have_count(1)
        expect(marker).to_contain_text("Run again at")
        log = page.locator("#output-log .vrow")
        expect(log.filter(has_text="squares")).to_have_count(2)
        rows = log.evaluate_all("rs => rs.sort((a, b) => a.offsetTop - b.offsetTop).map(r => r.innerText)")
        at = next(i for i, text in enumerate(rows) if "Run again at" in text)
        assert any("squares" in t for t in rows[:at]) and any("squares" in t for t in rows[at + 1 :]), rows
        # a page opened later marks it too, from the snapshot
        page.reload()
        expect(page.locator("#connection")).to_have_text("Live")
        expect(marker).to_have_count(1)
        expect(log.filter(has_text="squares")).to_have_count(2)
        page.locator("#output-log").screenshot(path=str(tmp_path / "run-again.png"))
        assert not errors, errors
    finally:
        page.context.close()
        api.close()
        srv.stop()
