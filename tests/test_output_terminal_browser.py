"""Output as a terminal shows it, in the browser: tqdm's bar, lines printed in pieces, colours.

Real programs under ``mpscope run`` (tqdm's ``process_map``, a CPython ``mp_synchronize.py``-like
program that prints word by word while a child runs), each holding on a file the test
creates once the page showed the line in progress: no fixed waits.
"""

from __future__ import annotations

import contextlib
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import checked_page
from playwright.sync_api import Browser, Page, expect
from run_support import serving, wait_program
from support import Api

pytestmark = pytest.mark.browser
expect.set_options(timeout=15_000)

WIDTHS = [pytest.param(1280, id="1280px"), pytest.param(390, id="390px")]

TQDM = textwrap.dedent(
    """
    import os, sys, time
    from tqdm.contrib.concurrent import process_map

    GO = sys.argv[1]

    def f(i):
        if i == 20:  # the bar stays open, at most 20/40, until the test says go
            while not os.path.exists(GO):
                time.sleep(0.01)
        return i * i

    if __name__ == "__main__":
        print("sum", sum(process_map(f, range(40), max_workers=2)))
    """
)

# As CPython's mp_synchronize.py example: a line printed word by word while a child runs.
PIECES = textwrap.dedent(
    """
    import multiprocessing as mp, os, sys, time

    GO = sys.argv[1]

    def child():
        print("\\tchild sleeping", flush=True)
        while not os.path.exists(GO):
            time.sleep(0.01)
        print("\\n\\tchild terminating", flush=True)

    if __name__ == "__main__":
        colours = "\\x1b[1;31merror\\x1b[0m and \\x1b[32mgreen\\x1b[0m"
        print(colours, "<b>not bold</b>\\x1b]0;title\\x07\\x1b[2J", flush=True)
        for i in range(10):
            print(i, end=" ", flush=True)
        print()
        p = mp.Process(target=child)
        p.start()
        print("waiting for process to finish")
        while True:
            p.join(timeout=0.1)
            if not p.is_alive():
                break
            print(".", end=" ")
            sys.stdout.flush()
        print()
        print("done")
    """
)


@contextlib.contextmanager
def watched_page(
    browser: Browser, program: Path, source: str, width: int
) -> Iterator[tuple[Api, Page, int, Path]]:
    """``mpscope run PROGRAM GO`` on ``source``, its page live at ``width`` px: ``(api, page, the
    main process's PID, GO)``, the file the program waits for; a block that ends normally must
    have left no uncaught exception on the page."""
    program.write_text(source)
    go = program.parent / "go"
    with (
        serving(program.parent, str(program), str(go)) as (srv, api),
        checked_page(browser, width, console=False) as page,
    ):
        page.goto(srv.page_url)
        expect(page.locator("#connection")).to_have_text("Live")
        yield api, page, api.state()["program"]["pid"], go


def rows_of(page: Page, pid: int):
    """The output log's rows of one PID."""
    page.locator("#output-pid").select_option(str(pid))
    return page.locator("#output-log .vrow:visible")


@pytest.mark.parametrize("width", WIDTHS)
def test_a_tqdm_bar_is_one_live_line_that_keeps_its_last_state(browser: Browser, tmp_path: Path, width: int):
    with watched_page(browser, tmp_path / "bar.py", TQDM, width) as (api, page, main, go):
        rows = rows_of(page, main)
        bar = rows.filter(has_text=re.compile(r"\d+/40"))
        expect(bar).to_have_count(1)
        expect(bar).to_have_class(re.compile(r"\bopen\b"))  # in progress: no newline yet
        expect(bar).to_have_attribute("title", re.compile("in progress"))
        go.write_text("go")
        expect(bar).to_contain_text("40/40")
        expect(bar).to_contain_text("100%|")
        expect(bar).not_to_have_class(re.compile(r"\bopen\b"))
        expect(rows.filter(has_text="sum 20540")).to_have_count(1)
        expect(rows.filter(has_text=re.compile(r"\d+/40"))).to_have_count(1)  # never a fragment
        assert wait_program(api)["exitcode"] == 0
        page.screenshot(path=str(tmp_path / f"tqdm-{width}.png"))

        lines = api.get_json(f"/api/workers/{main}/output")["lines"]
        bars = [line for line in lines if "/40" in line["rendered"]]
        assert len(bars) == 1, bars
        (last,) = bars
        assert re.match(r"100%\|█+\| 40/40 \[", last["rendered"]), last
        assert last["stream"] == "stderr" and "open" not in last
        assert last["text"].count("\r") >= 2  # the raw text keeps the redraws


@pytest.mark.parametrize("width", WIDTHS)
def test_words_printed_one_by_one_and_colours_show_as_in_a_terminal(
    browser: Browser, tmp_path: Path, width: int
):
    with watched_page(browser, tmp_path / "pieces.py", PIECES, width) as (api, page, main, go):
        rows = rows_of(page, main)
        dots = rows.filter(has_text=re.compile(r"(\. ){3,}"))
        expect(dots).to_have_count(1)
        expect(dots).to_have_class(re.compile(r"\bopen\b"))

        # the same line in progress in the process's own output (the inspector)
        page.get_by_role("button", name=f"Output of {main}").click()
        inspected = page.locator("#inspector-output .vrow:visible", has_text=re.compile(r"(\. ){3,}"))
        expect(inspected).to_have_count(1)
        expect(inspected).to_have_class(re.compile(r"\bopen\b"))
        page.get_by_role("button", name="Close").click()

        go.write_text("go")
        expect(rows.filter(has_text="done")).to_have_count(1)
        expect(dots).not_to_have_class(re.compile(r"\bopen\b"))
        expect(rows.filter(has_text=re.compile(r"\. \."))).to_have_count(1)  # one line, not one per dot
        expect(rows.filter(has_text="0 1 2 3 4 5 6 7 8 9")).to_have_count(1)

        colours = rows.filter(has_text="green").locator(".val")
        expect(colours).to_have_text("error and green <b>not bold</b>")  # text, never markup
        expect(colours.locator("span.t-bold.fg-1")).to_have_text("error")
        expect(colours.locator("span.fg-2")).to_have_text("green")
        expect(colours.locator("b")).to_have_count(0)
        red = colours.locator("span.fg-1").evaluate("e => getComputedStyle(e).color")
        plain = page.locator("#output-log .vrow:visible .line-no").first
        plain = plain.evaluate("e => getComputedStyle(e).color")
        assert red != plain
        assert wait_program(api)["exitcode"] == 0
        page.screenshot(path=str(tmp_path / f"pieces-{width}.png"), full_page=True)

        # the API: the raw text kept, the rendered line added; as many lines as a terminal shows
        lines = api.get_json(f"/api/workers/{main}/output")["lines"]
        rendered = [line["rendered"] for line in lines]
        assert rendered[0] == "error and green <b>not bold</b>"
        assert lines[0]["text"].startswith("\x1b[1;31merror")
        assert lines[0]["styles"] == [[0, 5, "1;31"], [10, 15, "32"]]
        assert rendered[1:3] == ["0 1 2 3 4 5 6 7 8 9 ", "waiting for process to finish"]
        assert re.fullmatch(r"(\. ){3,}", rendered[3]), rendered[3]
        assert rendered[4:] == ["done"]
        assert not any(line.get("open") for line in lines)
        (child,) = [p for p in api.state()["workers"] if p["pid"] != main and p.get("role") == "process"]
        child_lines = api.get_json(f"/api/workers/{child['pid']}/output")["lines"]
        tab = " " * 8
        expected = [tab + "child sleeping", "", tab + "child terminating"]
        assert [line["rendered"] for line in child_lines] == expected
