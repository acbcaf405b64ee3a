"""The program's own mp.Value, Array, RawValue, shared_memory.SharedMemory and ShareableList under
``mpscope run`` (issue "Why is it stuck?", part 1): each is an object of origin native,
labelled by its line, with its value as the last process read it at its exit; a block
says its name, size and the processes that mapped it; the program runs as without mpscope."""

from __future__ import annotations

import subprocess

import pytest
from run_support import PROGRAM_PYTHON, LiveClient, wait_program, watching, write

from testkit.waiting import wait_for

PROGRAM = """\
import multiprocessing as mp
import sys
from multiprocessing import shared_memory


def work(counter, arr, raw, shm, sl, n):
    for _ in range(n):
        with counter.get_lock():
            counter.value += 1
    with arr.get_lock():
        arr[0] += 1
    raw.value = 2.5
    shm.buf[0] = 7
    sl[0] = "done"


if __name__ == "__main__":
    mp.set_start_method(METHOD)
    counter = mp.Value("i", 0)
    arr = mp.Array("d", [0.0, 1.5, 2.5])
    raw = mp.RawValue("d", 0.0)
    shm = shared_memory.SharedMemory(create=True, size=64)
    sl = shared_memory.ShareableList(["a", 1, 2.5, None])
    procs = [mp.Process(target=work, args=(counter, arr, raw, shm, sl, 1000)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    print("counter", counter.value, "arr", list(arr), "raw", raw.value, "buf", shm.buf[0], "sl", list(sl))
    shm.close()
    shm.unlink()
    sl.shm.close()
    sl.shm.unlink()
    sys.exit(3)
"""


def native(api) -> dict[str, dict]:
    """The native objects by the name their label binds (``counter = mp.Value(...)``)."""
    objects = api.state()["objects"].values()
    return {o["label"].split(" = ")[0]: o for o in objects if o.get("origin") == "native"}


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_values_and_shared_memory_are_native_objects_with_their_final_values(tmp_path, method):
    source = PROGRAM.replace("METHOD", repr(method))
    (tmp_path / "plain").mkdir()
    plain_program = write(tmp_path / "plain", source)
    plain = subprocess.run([PROGRAM_PYTHON, str(plain_program)], capture_output=True, text=True, timeout=60)
    with watching(tmp_path, source) as (srv, api):
        program = wait_program(api)
        assert program["exitcode"] == plain.returncode == 3
        wanted = {"counter", "arr", "raw", "shm", "sl"}
        # each child's exit sample comes on its own connection: in any order with the others'
        got = wait_for(
            lambda: (
                (o := native(api)).keys() >= wanted
                and o["counter"]["value"]["value"] == 4000
                and o["sl"]["value"]["items"][:1] == ["'done'"]
                and len(o["shm"]["value"]["mapped_by"]) == len(o["sl"]["value"]["mapped_by"]) == 5
                and o
            ),
            20,
            "every object with its final value",
        )
        assert plain.stdout.startswith("counter 4000")
        wait_for(lambda: srv.output().count(plain.stdout.strip()) == 1, 20, "the output, as without mpscope")
        state = api.state()
    counter, arr, raw, shm, sl = (got[name] for name in ("counter", "arr", "raw", "shm", "sl"))
    workers = sorted(
        w["pid"] for w in state["workers"] if w["name"] == "MainProcess" or w["name"].startswith("Process-")
    )
    assert counter["kind"] == "Value" and counter["label"] == 'counter = mp.Value("i", 0)  · program.py:19'
    assert counter["value"] == {"typecode": "i", "value": 4000, "raw": False}
    assert arr["kind"] == "Array" and arr["label"].startswith("arr = mp.Array(")
    assert (
        arr["value"]["items"] == [{"$type": "float", "repr": "4.0"}, 1.5, 2.5] and arr["value"]["length"] == 3
    )
    assert raw["kind"] == "Value" and raw["value"]["raw"] is True and raw["value"]["value"] == 2.5
    assert shm["kind"] == "SharedMemory" and shm["label"].endswith("program.py:22")
    value = shm["value"]
    assert value["name"] and value["size"] >= 64 and value["unlinked"] is True
    assert value["mapped_by"] == workers and value["open_in"] == []  # the parent and its 4 children
    assert sl["kind"] == "ShareableList" and sl["label"].startswith("sl = shared_memory.ShareableList(")
    assert sl["value"]["items"] == ["'done'", "1", "2.5", "None"] and sl["value"]["length"] == 4
    assert sl["value"]["mapped_by"] == workers


TICKING = """\
import multiprocessing as mp
import os
import time

if __name__ == "__main__":
    ticks = mp.Value("i", 0)
    while not os.path.exists(STOP):
        ticks.value += 1
        with open(PROGRESS + ".tmp", "w") as f:
            f.write(str(ticks.value))
        os.replace(PROGRESS + ".tmp", PROGRESS)
        time.sleep(0.01)
    print("ticked", ticks.value > 0)
"""


def test_a_value_is_read_again_only_while_a_page_is_open(tmp_path):
    progress, stop = tmp_path / "progress", tmp_path / "stop"
    source = TICKING.replace("STOP", repr(str(stop))).replace("PROGRESS", repr(str(progress)))

    def ticks(api) -> int | None:
        found = native(api).get("ticks")
        return found["value"]["value"] if found else None

    with watching(tmp_path, source) as (srv, api):
        (first,) = wait_for(lambda: (t := ticks(api)) is not None and (t,), 20, "the Value, as first sampled")
        # more than two samples (0.5 s apart) later, nobody watching: its first reading stands
        wait_for(lambda: progress.exists() and int(progress.read_text() or 0) >= first + 100, 20, "100 more")
        assert ticks(api) == first
        page = LiveClient(api)
        try:  # a page is open: the agent is told (pace) and reads it again at each sample
            wait_for(lambda: ticks(api) >= first + 100, 20, "the Value read again")
        finally:
            page.close()
        stop.touch()
        assert wait_program(api)["exitcode"] == 0
        wait_for(lambda: "ticked True" in srv.output(), 20, "the program's output")


MANAGED = """\
import multiprocessing as mp
from multiprocessing.managers import SharedMemoryManager


def fill(sl, block):
    sl[1] = 42
    block.buf[:3] = b"abc"


if __name__ == "__main__":
    mp.set_start_method("spawn")
    with SharedMemoryManager() as smm:
        block = smm.SharedMemory(size=128)
        sl = smm.ShareableList([0, 1, 2])
        p = mp.Process(target=fill, args=(sl, block))
        p.start()
        p.join()
        print("sl", list(sl), bytes(block.buf[:3]))
"""


def test_a_shared_memory_managers_blocks_are_the_programs_line_and_say_so(tmp_path):
    with watching(tmp_path, MANAGED) as (srv, api):
        assert wait_program(api)["exitcode"] == 0
        got = wait_for(
            lambda: (
                (o := native(api)).keys() >= {"block", "sl"}
                and o["sl"]["value"]["items"] == ["0", "42", "2"]
                and len(o["block"]["value"]["mapped_by"]) == 2
                # the manager's shutdown unlinked them, and the child's close came in too
                and all(o[k]["value"]["unlinked"] and not o[k]["value"]["open_in"] for k in ("block", "sl"))
                and o
            ),
            20,
            "the blocks, as the child left them, unlinked and closed",
        )
        wait_for(lambda: "sl [0, 42, 2] b'abc'" in srv.output(), 20, "the program's output")
    block, sl = got["block"], got["sl"]
    assert block["label"] == "block = smm.SharedMemory(size=128)  · program.py:13"
    assert block["kind"] == "SharedMemory" and block["value"]["size"] == 128
    assert sl["kind"] == "ShareableList" and sl["label"].startswith("sl = smm.ShareableList([0, 1, 2])")
    for obj in (block, sl):  # the manager's shutdown unlinked them; nobody has them open any more
        assert obj["value"]["manager"] is True and obj["value"]["unlinked"] is True
        assert obj["value"]["open_in"] == []
