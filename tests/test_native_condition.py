"""The program's own ``mp.Condition`` as a shared object (issue "Why is it stuck?", part 1):
labelled by the name it was bound to, its lock's holder sampled in the holding process (with
the depth of an RLock), who is in ``wait()`` or waits to acquire it from the waits — the value
in the Manager Condition's shape."""

from __future__ import annotations

from pathlib import Path

import pytest
from run_support import named, processes, serving, wait_program, watching

from testkit.waiting import wait_for

HELD = str(Path(__file__).parent / "programs" / "condition_held.py")  # ARGV: the start method

NOTIFIED = """
import multiprocessing as mp

def waiter(cond, box):
    with cond:
        while box.value == 0:
            cond.wait()
        print("woken with", box.value, flush=True)

if __name__ == "__main__":
    mp.set_start_method("spawn")
    cond, box = mp.Condition(), mp.Value("i", 0)
    child = mp.Process(target=waiter, args=(cond, box))
    child.start()
    with cond:
        box.value = 7
        cond.notify_all()
    child.join()
    print("done", child.exitcode)
"""


def _condition(api) -> tuple[str, dict]:
    return wait_for(
        lambda: next(
            ((oid, o) for oid, o in api.state()["objects"].items() if o["kind"] == "Condition"), None
        ),
        20,
        "the program's Condition",
    )


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_condition_shows_its_holder_and_who_waits(tmp_path, method):
    with serving(tmp_path, HELD, method) as (_srv, api):
        names = named(api, "waiter", "taker")
        main = api.state()["program"]["pid"]
        waiting = sorted([names["waiter"], names["taker"]])
        oid, cond = wait_for(
            lambda: (
                (c := _condition(api))[1]["value"]["waiters"] == waiting
                and [h["pid"] for h in c[1]["value"]["holders"]] == [main]
                and c
            ),
            20,
            "the main process holding it, both children waiting",
        )
        assert cond["origin"] == "native" and oid.startswith("native-")
        assert cond["label"].startswith("cond = mp.Condition()")
        value = cond["value"]
        assert value["holders"][0]["depth"] == 2 and isinstance(value["holders"][0]["since"], float)
        assert value["initial"] == 1 and value["available"] == 0
        rows = processes(api)
        assert rows[names["waiter"]]["waiting"]["call"] == "wait"
        assert rows[names["waiter"]]["waiting"]["oid"] == oid
        taker = rows[names["taker"]]["waiting"]
        assert (
            taker["call"] == "acquire"
            and taker["oid"] == oid
            and taker["text"].startswith("acquire() of cond")
        )
        # the lock a Condition makes for itself is not a panel of its own
        assert [o["kind"] for o in api.state()["objects"].values() if o["origin"] == "native"].count(
            "RLock"
        ) == 0


def test_a_notified_condition_leaves_the_program_unchanged(tmp_path):
    with watching(tmp_path, NOTIFIED) as (_srv, api):
        program = wait_program(api)
        assert program["exitcode"] == 0
        _oid, cond = wait_for(
            lambda: (c := _condition(api))[1]["value"]["holders"] == [] and c, 20, "nobody holding it"
        )
        assert cond["value"]["waiters"] == []
        output = wait_for(
            lambda: "done 0" in (text := str(api.get_json(f"/api/workers/{program['pid']}/output"))) and text,
            20,
            "the program's output",
        )
        assert "done 0" in output


def test_the_merger_keeps_a_dead_holder_and_drops_a_holder_now_in_wait():
    """In-process: a process in wait() released the lock (its older facts may still say held);
    one that ended holding it stays a holder; one that ended waiting waits no more."""
    from webapp.native.condition import merge_condition

    facts = {11: {"depth": 1, "since": 5.0}, 12: {"depth": 2, "since": 6.0}, 13: {"depth": 0}}
    blocked = {11: {"call": "wait"}, 13: {"call": "acquire"}, 14: {"call": "wait"}}
    value = merge_condition(facts, blocked, ended={12, 14})
    assert value == {
        "initial": 1,
        "available": 0,
        "holders": [{"pid": 12, "since": 6.0, "depth": 2}],
        "waiters": [11, 13],
    }
