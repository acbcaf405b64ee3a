"""The program's own objects (origin ``native``) in a recording (issue 22): ``mpscope open`` shows,
at any moment, each one as the live page had it then (a Queue, a Lock held by a child, an Event,
a Value, a Pipe, a SharedMemory block), and ``mpscope export`` keeps the native queue's depth as a counter."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from run_support import RunServer, exported_trace, wait_program, write
from support import Api, LiveClient

from testkit.server import Server
from testkit.waiting import wait_for

pytestmark = pytest.mark.timeout(120)

# Two quiet moments, each held until the test creates a file: a child holding the Lock with
# three items in the Queue, then the Lock free with one item left.
PROGRAM = """
import multiprocessing as mp
import os
import sys
import time
from multiprocessing import shared_memory


def step(name):
    while not os.path.exists(os.path.join(sys.argv[1], name)):
        time.sleep(0.02)


def hold(lock, q, go, v):
    with lock:
        v.value = 7
        for i in range(3):
            q.put(("item", i))
        go.wait()


if __name__ == "__main__":
    q = mp.Queue()
    lock = mp.Lock()
    go = mp.Event()
    v = mp.Value("i", 0)
    a, b = mp.Pipe()
    shm = shared_memory.SharedMemory(create=True, size=64)
    child = mp.Process(target=hold, args=(lock, q, go, v))
    child.start()
    a.send("hello")
    step("one")
    go.set()
    child.join()
    v.value += 1
    q.get(), q.get()
    step("two")
    shm.close()
    shm.unlink()
    print("done")
"""


def natives(state: dict) -> dict[str, dict]:
    return {oid: o for oid, o in state["objects"].items() if o.get("origin") == "native"}


def of_kind(objects: dict[str, dict], kind: str) -> dict:
    (obj,) = [o for o in objects.values() if o["kind"] == kind]
    return obj


def settled(api: Api, ready) -> tuple[dict, float]:
    """The native objects once ``ready`` holds and two reads in a row agree, and the time then."""
    last: list[dict] = [{}]

    def check():
        now = natives(api.state())
        same = now == last[0] and ready(now)
        last[0] = now
        return same

    wait_for(check, 20, "a quiet moment of the program")
    return last[0], time.time()


def test_native_objects_replay_as_they_were_live(tmp_path: Path):
    steps = tmp_path / "steps"
    steps.mkdir()
    path = tmp_path / "run.sqlite"
    srv = RunServer(tmp_path, str(write(tmp_path, PROGRAM)), str(steps), flags=("--record", str(path)))
    api = Api(srv)
    try:
        first, t1 = settled(
            api,
            lambda o: (
                len(o) == 6  # a Value is read only while a page is open, or at exit: whatever it reads
                and of_kind(o, "Lock")["value"]["holders"]
                and of_kind(o, "Queue")["value"]["depth"] == 3
            ),
        )
        (steps / "one").touch()
        second, t2 = settled(
            api,
            lambda o: (
                not of_kind(o, "Lock")["value"]["holders"] and of_kind(o, "Queue")["value"]["depth"] == 1
            ),
        )
        (steps / "two").touch()
        wait_program(api)
        # the last reading, at exit: the child's 7, and the parent's + 1
        last, _ = settled(
            api,
            lambda o: (
                of_kind(o, "SharedMemory")["value"]["unlinked"] and of_kind(o, "Value")["value"]["value"] == 8
            ),
        )
    finally:
        api.close()
        srv.stop()
    assert {o["kind"] for o in first.values()} == {"Queue", "Lock", "Event", "Value", "Pipe", "SharedMemory"}
    opened = Server(tmp_path / "open", str(path), subcommand=("open",), max_workers=None)
    api = Api(opened)
    client = LiveClient(opened)
    try:
        assert natives(api.state()) == last  # it opens at the end
        for at, live in ((t1, first), (t2, second)):
            assert client.call("replay_seek", {"t": at})["status"] == 200
            replayed = natives(api.state())
            assert replayed == live, (at, replayed, live)
        # played forward from the first moment, the recorded changes bring it to the end's state
        assert client.call("replay_seek", {"t": t1})["status"] == 200
        assert client.call("replay_play", {"speed": 16})["status"] == 200
        wait_for(
            lambda: (r := api.get_json("/api/replay"))["position"] == r["end"] and not r["playing"],
            30, what="the play to reach the end",
        )  # fmt: skip
        assert natives(api.state()) == last
    finally:
        client.close()
        api.close()
        opened.stop()
    events = exported_trace(path, tmp_path / "trace.json")  # each event checked against the format
    label = of_kind(first, "Queue")["label"]
    depths = [e["args"]["depth"] for e in events if e["ph"] == "C" and e["name"] == f"{label} depth"]
    assert depths[0] == 0 and max(depths) == 3 and depths[-1] == 1, depths  # 3 put, 2 got
