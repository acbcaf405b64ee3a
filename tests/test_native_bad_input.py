"""Bad input for the native objects (issue "Why is it stuck?", Rules): 10,000 native objects, a
Queue of huge items, a process that closes every descriptor, a program that never idles. Each
program (``tests/programs/bad_*.py``) runs under ``mpscope run`` with a Socket.IO client
connected (values are read while a page is open) and plainly: the same output and exit code,
the dashboard's memory bounded, nothing hangs (every wait has a timeout)."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from run_support import PROGRAM_PYTHON, LiveClient, RunServer, processes, run_to_end, wait_program
from support import Api

from testkit.waiting import wait_for

PROGRAMS = Path(__file__).parent / "programs"
DASHBOARD_RSS = 400 * 2**20  # bytes: measured 50-76 MiB at most for these programs


def plain(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([PROGRAM_PYTHON, *args], capture_output=True, text=True, timeout=60, env=env)


def watched(tmp_path: Path, program: str, *args: str) -> tuple[RunServer, Api, LiveClient]:
    srv = RunServer(tmp_path, str(PROGRAMS / program), *args)
    api = Api(srv)
    return srv, api, LiveClient(api)


def native(api: Api, kind: str) -> list[dict]:
    return [o for o in api.state()["objects"].values() if o.get("origin") == "native" and o["kind"] == kind]


def stopped(srv: RunServer, api: Api, page: LiveClient) -> None:
    page.close()
    api.close()
    srv.stop()


def test_ten_thousand_native_objects_are_followed_within_bounds(tmp_path):
    srv, api, page = watched(tmp_path, "bad_many_objects.py", "fork", "10000")
    try:
        program = wait_program(api, timeout=60)
        assert program["exitcode"] == 0
        locks = wait_for(lambda: len(n := native(api, "Lock")) == 10_000 and n, 20, "the 10,000 locks")
        assert locks[0]["label"].startswith("locks = [mp.Lock() for _ in range(n)]")
        values = wait_for(
            lambda: (
                len(v := native(api, "Value")) == 1_000
                and all(x["value"]["value"] is not None for x in v)
                and v
            ),
            20,
            "the 1,000 values, each told at the program's exit",
        )
        assert sorted(v["value"]["value"] for v in values) == list(range(1_000))
        wait_for(lambda: "made 10000 1000 100 4950" in srv.output(), 20, "the program's output")
        assert srv.ps.memory_info().rss < DASHBOARD_RSS
    finally:
        stopped(srv, api, page)


def test_a_queue_of_huge_items_is_counted_and_its_items_shown_short(tmp_path):
    size, items = str(256 * 2**20), "2"  # 1 GB items: the same path (measured in the report)
    srv, api, page = watched(tmp_path, "bad_huge_items.py", size, items)
    try:
        program = wait_program(api, timeout=60)
        assert program["exitcode"] == 0
        queue = wait_for(
            lambda: (
                (q := native(api, "Queue")) and q[0]["value"]["put"] == q[0]["value"]["got"] == 2 and q[0]
            ),
            20,
            "both items put and got",
        )
        shown = [item["repr"] for item in queue["value"]["items"]]
        assert len(shown) == 2 and all(text.startswith("b'\\x00\\x00") and len(text) <= 80 for text in shown)
        assert srv.ps.memory_info().rss < DASHBOARD_RSS
        wait_for(lambda: f"got {2 * 256 * 2**20}\nexit 0" in srv.output(), 20, "the program's output")
    finally:
        stopped(srv, api, page)


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_child_that_closes_every_descriptor_keeps_its_files_to_itself(tmp_path, method):
    """Its agent's socket goes with the rest: the agent stops, and the files the child opens on
    the freed numbers get none of mpscope's lines (nor are read by it, nor closed under it)."""
    env = {**__import__("os").environ, "BAD_CLOSE_SECONDS": "1.5"}
    program = str(PROGRAMS / "bad_close_all.py")
    with ThreadPoolExecutor(1) as pool:  # the plain run alongside the watched one: each takes 1.5 s
        plain_run = pool.submit(plain, program, method, str(tmp_path / "plain.txt"), env=env)
        under = run_to_end(program, method, str(tmp_path / "watched.txt"), env=env)
        alone = plain_run.result()
    assert alone.returncode == under.returncode == 0, under.stderr
    assert alone.stdout == "child wrote True\nexit 0 foreign 0\n"
    assert under.stdout.split("\n", 1)[1] == alone.stdout and "Traceback" not in under.stderr
    assert under.stdout.startswith("mpscope running at ")
    assert set((tmp_path / "watched.txt").read_text().splitlines()) == {"line"}


def test_a_program_that_never_idles_still_has_its_facts_sent(tmp_path):
    srv, api, page = watched(tmp_path, "bad_never_idle.py", "2")  # its puts are sampled twice a second
    try:

        def puts() -> int | None:
            queues = native(api, "Queue")
            return (
                queues[0]["value"]["put"] if queues and api.state()["program"]["state"] == "running" else None
            )

        first = wait_for(lambda: (n := puts()) and n, 10, "the busy program's puts counted while it runs")
        wait_for(lambda: (n := puts()) and n > first, 10, "its puts counted again, still running")
        main = api.state()["program"]["pid"]
        assert processes(api)[main]["waiting"] is None  # busy: it waits on nothing
        program = wait_program(api, timeout=30)
        assert program["exitcode"] == 0
        wait_for(lambda: "looped True" in srv.output(), 20, "the program's output")
        assert srv.ps.memory_info().rss < DASHBOARD_RSS
    finally:
        stopped(srv, api, page)


def test_the_agent_follows_a_bounded_number_of_objects(monkeypatch):
    """In-process: past MAX_FOLLOWED, new objects are not followed until followed ones die."""
    from mpscope_agent import native_objects

    class Thing:
        pass

    monkeypatch.setattr(native_objects, "MAX_FOLLOWED", 3)
    monkeypatch.setattr(native_objects, "_known", {})
    monkeypatch.setattr(native_objects, "_exit_hook", [True])  # no exit sample in the test process
    things = [Thing() for _ in range(5)]
    for i, thing in enumerate(things):
        native_objects.remember(thing, f"native-t{i}", "Queue", None, lambda _: {})
    assert [native_objects.oid_of(t) for t in things] == ["native-t0", "native-t1", "native-t2", None, None]
    del things[:2]
    native_objects.sample()  # the dead ones' entries go
    native_objects.remember(things[-1], "native-t4", "Queue", None, lambda _: {})
    assert native_objects.oid_of(things[-1]) == "native-t4"
