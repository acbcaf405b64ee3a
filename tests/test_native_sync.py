"""The program's own ``mp.Barrier`` and ``mp.Event`` as shared objects (issue "Why is it stuck?",
part 1): labelled by the name each was bound to, their state read without their lock, who waits
at them from the waits — and a native Barrier short of parties named ``barrier_short``."""

from __future__ import annotations

import pytest
from run_support import processes, watching

from testkit.waiting import wait_for

SHORT = """
import multiprocessing as mp, sys

def meet(gate, ready):
    ready.wait()
    gate.wait()

if __name__ == "__main__":
    mp.set_start_method(sys.argv[1] if len(sys.argv) > 1 else "{method}")
    gate, ready = mp.Barrier(3), mp.Event()
    workers = [mp.Process(target=meet, args=(gate, ready)) for _ in range(2)]
    for w in workers:
        w.start()
    ready.set()
    for w in workers:
        w.join()
"""

PASSES = """
import multiprocessing as mp

def meet(gate):
    for _ in range(3):
        gate.wait()

if __name__ == "__main__":
    mp.set_start_method("spawn")
    gate = mp.Barrier(2)
    child = mp.Process(target=meet, args=(gate,))
    child.start()
    meet(gate)
    child.join()
    print("met three times")
"""


def _native(api, kind: str) -> tuple[str, dict]:
    return wait_for(
        lambda: next(
            (
                (oid, o)
                for oid, o in api.state()["objects"].items()
                if o["kind"] == kind and o["origin"] == "native"
            ),
            None,
        ),
        20,
        f"the program's {kind}",
    )


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_barrier_short_of_parties_and_a_set_event_are_shown_and_named(tmp_path, method):
    with watching(tmp_path, SHORT.replace("{method}", method)) as (_srv, api):
        children = wait_for(
            lambda: (
                (c := sorted(p for p, w in processes(api).items() if w["name"].startswith("Process-")))
                and len(c) == 2
                and c
            ),
            20,
            "the two children",
        )
        oid, gate = wait_for(
            lambda: (found := _native(api, "Barrier"))[1]["value"]["waiting"] == children and found,
            20,
            "both children waiting at the barrier",
        )
        assert gate["label"].startswith("gate = mp.Barrier(3)") and gate["value"]["parties"] == 3
        assert gate["value"]["broken"] is False
        _, ready = wait_for(
            lambda: (e := _native(api, "Event"))[1]["value"]["set"] and e, 20, "the event set"
        )
        assert ready["label"].startswith("ready = mp.Event()")
        found = wait_for(
            lambda: next(
                (d for d in api.get_json("/api/diagnoses")["diagnoses"] if d["kind"] == "barrier_short"), None
            ),
            20,
            "barrier_short",
        )
        assert found["objects"] == [oid] and sorted(found["pids"]) == children
        assert "2 of the 3 parties wait at gate" in found["text"]


def test_a_barrier_counts_its_passes_and_the_program_is_unchanged(tmp_path):
    from run_support import wait_program

    with watching(tmp_path, PASSES) as (_srv, api):
        program = wait_program(api)
        assert program["exitcode"] == 0
        _, gate = wait_for(
            lambda: (g := _native(api, "Barrier"))[1]["value"]["passed"] == 3 and g, 20, "3 passes"
        )
        assert gate["value"]["waiting"] == []
        output = api.get_json(f"/api/workers/{program['pid']}/output")
        assert "met three times" in str(output)
