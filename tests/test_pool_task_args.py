"""A Pool task's arguments in ``/api/pool-tasks`` and its tooltip (issue 21, the run-mode page).

``mpscope_agent/task_args.py`` writes the arguments as Python would for plain values and
never calls the program's own ``__repr__``; a real program under ``mpscope run`` runs
``pool.map(f, range(3))`` with ``f(1)`` stuck, ``executor.submit(g, ...)`` with an instance
of its own class: ``/api/pool-tasks`` gives each task's ``args``, and in Chromium the bars'
tooltips read ``f(0)``, ``f(1)`` with how long it has run so far.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser
from run_support import RunServer, pool_tasks, write
from support import Api, wait_for

from mpscope_agent.task_args import MAX_TEXT, call_text

pytestmark = pytest.mark.timeout(90)


class Secret:
    def __repr__(self) -> str:
        raise AssertionError("the program's __repr__ was called")


class Number(int):
    def __repr__(self) -> str:
        raise AssertionError("a subclass's __repr__ was called")


def test_the_text_of_a_calls_arguments_is_short_and_never_the_programs_repr():
    assert call_text((1,)) == "1"
    assert call_text((1, "a", (2,), None), {"b": 2.5}) == "1, 'a', (2,), None, b=2.5"
    assert call_text((Secret(), [Secret()], {"k": Number(3)})) == (
        "<Secret object>, [<Secret object>], {'k': <Number object>}"
    )
    assert call_text((10**5000,)) == "<int of 16610 bits>"  # not written out (nor refused)
    assert call_text((list(range(10)), "x" * 100)) == "[0, 1, 2, 3, …], 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'…"
    long = call_text(tuple("abcdefgh" * 3 for _ in range(8)))
    assert len(long) == MAX_TEXT and long.endswith("…")
    assert call_text(()) == ""


PROGRAM = """
import concurrent.futures, multiprocessing as mp, os, time

RELEASE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "release")

class Job:
    def __repr__(self):
        raise SystemExit("repr called")

def f(x):
    while x == 1 and not os.path.exists(RELEASE):
        time.sleep(0.05)
    return x

def g(job, n, flag=True):
    return n

if __name__ == "__main__":
    with concurrent.futures.ProcessPoolExecutor(1) as ex:
        print(ex.submit(g, Job(), 5, flag=False).result(), flush=True)
    with mp.Pool(2) as pool:
        print(pool.map(f, range(3)), flush=True)
"""


@pytest.mark.browser
def test_tooltips_name_each_tasks_call_and_a_stuck_one_says_how_long_so_far(browser: Browser, tmp_path: Path):
    srv = RunServer(tmp_path, str(write(tmp_path, PROGRAM)))
    api = Api(srv)
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    try:

        def tasks() -> dict | None:
            found = {t["args"]: t for t in pool_tasks(api) if t["args"] is not None}
            return found if {"0", "1", "2"} <= set(found) and found["0"]["state"] == "done" else None

        found = wait_for(tasks, 30, "f(0), f(1) and f(2) started, f(0) done")
        assert found["1"]["state"] == "running" and found["1"]["func"].endswith("f")
        assert found["<Job object>, 5, flag=False"]["state"] == "done"
        page = context.new_page()
        page.goto(srv.page_url)
        tips = page.locator("#pool-timeline rect.tl-bar > title")
        wait_for(lambda: tips.count() >= 4, 15, "the tasks' bars")
        texts = tips.all_text_contents()
        stuck = next(text for text in texts if "f(1)" in text)
        assert re.search(r"still running, \d+\.\d+s so far", stuck), stuck
        assert any("f(0)" in text and "so far" not in text for text in texts), texts
        assert any("g(<Job object>, 5, flag=False)" in text for text in texts), texts
        (tmp_path / "release").touch()
        assert "repr called" not in srv.output()
    finally:
        context.close()
        api.close()
        srv.stop()
