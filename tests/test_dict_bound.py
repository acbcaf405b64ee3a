"""A shared dict past ``--max-entries`` (issue 21, security 6): the dashboard keeps the first
entries, counts the rest (``"truncated"``), and the program is unharmed.

The replica's rules are checked in-process; then a real program under a real
``mpscope run --max-entries 300`` stores 2,000 entries: its output and exit code are those
of plain python, and ``GET /api/state`` and ``/api/objects/<id>`` show 300 entries and say
how many more there are.
"""

from __future__ import annotations

import subprocess

import pytest
from run_support import PROGRAM_PYTHON, RunServer, run_to_end, wait_program, write
from support import Api, wait_for

from sharedstate.kinds.dict_replica import DictReplica
from webapp.snapshots import ChangeHistory

pytestmark = pytest.mark.timeout(90)


def test_entries_beyond_the_bound_are_counted_once_and_not_kept(monkeypatch):
    monkeypatch.setattr(DictReplica, "MAX_ENTRIES", 3)
    replica = DictReplica([["a", 1], ["b", 2]], [7, 7])
    for key, value in (("c", 3), ("d", 4), ("e", 5), ("d", 40), ("a", 10)):
        replica.apply({"op": "set", "key": key, "value": value, "pid": 8})
    assert replica.value() == [["a", 10], ["b", 2], ["c", 3]]  # the first three, updated in place
    assert replica.writers() == [8, 7, 8]
    assert replica.truncated == 2  # d and e, d counted once though written twice
    replica.apply({"op": "del", "key": "d", "pid": 8})
    assert replica.truncated == 1
    replica.apply({"op": "del", "key": "b", "pid": 8})  # room again: a new key is kept
    replica.apply({"op": "set", "key": "f", "value": 6, "pid": 9})
    assert replica.value() == [["a", 10], ["c", 3], ["f", 6]] and replica.truncated == 1
    replica.apply({"op": "clear", "pid": 9})
    assert replica.value() == [] and replica.truncated == 0
    assert b"".join(replica.json_pieces()[0]) == b"[]"


def test_the_change_history_counts_a_creates_value_and_keeps_none_past_its_bound():
    # a Manager whose journal overflowed sends each object whole again: a create holding
    # every pair, which must not stay alive as "one op" among 50,000 kept
    history = ChangeHistory(max_ops=100)
    small = {"seq": 1, "op": "create", "value": [[1, 1]] * 10}
    history.add({"from": 0, "to": 1, "ops": [small]})
    assert history.ops == 11 and history.since(0)["ops"] == [small]
    big = {"seq": 2, "op": "create", "value": [[1, 1]] * 500}
    history.add({"from": 1, "to": 2, "ops": [big]})
    assert not history.payloads and history.ops == 0
    assert history.since(1) is None  # a client behind it gets a snapshot
    assert history.since(2) == {}  # one at it needs nothing
    history.add({"from": 2, "to": 3, "ops": [{"seq": 3, "op": "set"}]})
    assert history.since(2)["ops"] == [{"seq": 3, "op": "set"}]


PROGRAM = """
import multiprocessing as mp

if __name__ == "__main__":
    with mp.Manager() as m:
        d = m.dict()
        d.update([(i, i * i) for i in range(1500)])
        for i in range(1500, 2000):
            d[i] = str(i)
        del d[1999]
        print("len", len(d), "sum", sum(k for k in d.keys()), "last", d[1998])
    print("done")
"""


def test_a_program_past_the_bound_is_unharmed_and_the_state_says_truncated(tmp_path):
    script = write(tmp_path, PROGRAM)
    plain = subprocess.run([PROGRAM_PYTHON, str(script)], capture_output=True, text=True, timeout=60)
    watched = run_to_end("--max-entries", "300", str(script), cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr
    printed = "".join(line for line in watched.stdout.splitlines(True) if not line.startswith("mpscope "))
    assert (watched.returncode, printed) == (plain.returncode, plain.stdout)
    refused = run_to_end("--max-entries", "0", str(script), cwd=tmp_path)
    assert refused.returncode == 2 and "--max-entries must be from 1" in refused.stderr

    srv = RunServer(tmp_path, str(script), flags=("--max-entries", "300"))
    api = Api(srv)
    try:
        wait_program(api)

        def the_dict():
            objects = api.state()["objects"]
            found = [obj for obj in objects.values() if obj["kind"] == "dict"]
            return found and found[0]["truncated"] == 1699 and found[0]

        shown = wait_for(the_dict, 30, "the dict with 300 entries kept and 1,699 more counted")
        assert shown["value"] == [[i, i * i] for i in range(300)] and len(shown["writers"]) == 300
        oid = next(oid for oid, obj in api.state()["objects"].items() if obj["kind"] == "dict")
        one = api.get_json(f"/api/objects/{oid}")
        assert one["truncated"] == 1699 and len(one["value"]) == 300
        page = api.get_json(f"/api/objects/{oid}?offset=290&limit=20")
        assert page["total"] == 300 and page["truncated"] == 1699 and len(page["value"]) == 10
        assert "done" in srv.output()
    finally:
        api.close()
        srv.stop()
