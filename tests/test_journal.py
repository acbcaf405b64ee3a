"""The change journal and the server's mirror, in-process: what the Manager records, the page replays."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import Replica

from webapp.encoding import encode_list, encode_pairs
from webapp.journal import ChangeJournal, ObservedDict, ObservedList
from webapp.mirror import SharedStateMirror


def new_journal(capacity: int = 50_000) -> ChangeJournal:
    journal = ChangeJournal(capacity=capacity)
    journal.dict = ObservedDict(journal)
    journal.list = ObservedList(journal)
    return journal


def replay(journal: ChangeJournal, since: SharedStateMirror | None = None) -> tuple[SharedStateMirror, list]:
    """Feed every journal entry into a mirror (a new, empty one unless given); return it and its ops."""
    mirror = since or SharedStateMirror()
    status, entries = journal.read(0, timeout=0, limit=10**6)
    assert status == "ok"
    return mirror, mirror.apply(entries)


def replica_of(ops: list[dict]) -> Replica:
    """Rebuild the encoded state from ``changes`` ops alone, as a page would."""
    replica = Replica()
    replica.load({"version": 0, "list": [], "dict": []})
    replica.add({"from": 0, "to": ops[-1]["seq"], "ops": ops})
    return replica


def assert_mirrors(journal: ChangeJournal, mirror: SharedStateMirror, ops: list[dict]) -> None:
    d, l = journal.dict, journal.list  # noqa: E741
    assert mirror.items == list(l)
    assert list(mirror.entries.items()) == list(d.items())  # same keys, values and order
    assert mirror.version == journal.version
    replica = replica_of(ops)
    assert replica.list == encode_list(list(l))
    assert replica.pairs() == encode_pairs(dict(d))


def test_dict_changes_replay_to_the_same_dict():
    journal = new_journal()
    d = journal.dict
    d[1] = "1"
    d["2"] = 2
    d[0.25] = None
    d["a"] = 1
    d["a"] = 2  # overwriting keeps the key's place
    del d["2"]
    assert d.pop(1) == "1"
    assert d.pop("missing", "default") == "default"
    assert d.popitem() == ("a", 2)
    assert d.setdefault("s", [1]) == [1]
    assert d.setdefault("s", "other") == [1]
    d.update({"u": 1}, v=2)
    d.update([("w", (3, 4))])
    d[("tuple", "key")] = {"nested": {1, 2}}
    snapshot_here = journal.version
    d.clear()
    d["after"] = b"bytes"
    d[2**60] = float("inf")

    mirror, ops = replay(journal)
    assert_mirrors(journal, mirror, ops)
    assert [op["op"] for op in ops if op["seq"] > snapshot_here] == ["clear", "set", "set"]


def test_list_changes_replay_to_the_same_list():
    journal = new_journal()
    l = journal.list  # noqa: E741
    l.append(1)
    l.extend(range(2, 6))
    l.extend(x * 10 for x in range(3))  # a generator is recorded as the values it gave
    l.insert(-1, "before last")
    l.insert(-100, "front")
    l.insert(100, "end")
    assert l.pop(-1) == "end"
    assert l.pop(0) == "front"
    assert l.pop() == 20
    l.remove("before last")
    l[1:3] = ["a", "b", "c"]
    l[-1] = "last"
    del l[0]
    del l[-2]
    del l[::3]
    l.sort(key=str)
    l.reverse()
    l += [9, 8]
    l *= 2
    l[::2] = range(len(l[::2]))

    mirror, ops = replay(journal)
    assert_mirrors(journal, mirror, ops)
    assert {op["op"] for op in ops} == {"append", "extend", "insert", "del", "set", "replace"}
    inserts = [op for op in ops if op["op"] == "insert"]
    assert [op["index"] for op in inserts] == [7, 0, 10]  # negative and out-of-range indexes resolved


def test_versions_are_consecutive_and_ops_carry_writer_and_time():
    journal = new_journal()
    before = time.time()
    journal.list.append(1)
    journal.dict["k"] = "v"
    del journal.dict["k"]
    journal.list.clear()
    status, entries = journal.read(0, timeout=0)
    assert status == "ok"
    assert [e[0] for e in entries] == [1, 2, 3, 4] and journal.version == 4
    mirror = SharedStateMirror()
    ops = mirror.apply(entries)
    assert [op["seq"] for op in ops] == [1, 2, 3, 4]
    for op in ops:
        assert {"seq", "target", "op", "pid", "t"} <= set(op)
        assert op["pid"] == 0  # no Manager connection in-process, so no peer PID
        assert before <= op["t"] <= time.time()


def test_failed_changes_are_not_recorded():
    journal = new_journal()
    d, l = journal.dict, journal.list  # noqa: E741
    for bad in (lambda: l.pop(), lambda: l.remove(1), lambda: l.__setitem__(5, 1), lambda: d.popitem()):
        with pytest.raises((IndexError, ValueError, KeyError)):
            bad()
    with pytest.raises(KeyError):
        del d["missing"]
    assert journal.version == 0
    assert journal.read(0, timeout=0) == ("ok", [])


def test_a_mirror_loaded_from_a_snapshot_skips_entries_it_already_has():
    journal = new_journal()
    journal.list.extend([1, 2, 3])
    journal.dict["x"] = 1
    mirror = SharedStateMirror()
    mirror.load(*journal.snapshot())  # taken at version 2
    journal.list.pop(0)
    journal.dict["y"] = 2
    mirror, ops = replay(journal, since=mirror)  # all four entries offered, two are new
    assert [op["seq"] for op in ops] == [3, 4]
    assert mirror.items == [2, 3] and mirror.entries == {"x": 1, "y": 2}


def test_a_reader_that_fell_too_far_behind_is_told_to_resynchronise():
    journal = new_journal(capacity=5)
    for i in range(12):
        journal.list.append(i)
    assert journal.read(0, timeout=0) == ("overflow", 12)
    assert journal.read(6, timeout=0) == ("overflow", 12)  # entry 7 was dropped
    status, entries = journal.read(7, timeout=0)
    assert status == "ok" and [e[0] for e in entries] == [8, 9, 10, 11, 12]
    assert journal.read(12, timeout=0) == ("ok", [])
    status, entries = journal.read(7, timeout=0, limit=2)
    assert [e[0] for e in entries] == [8, 9]


def test_a_blocked_reader_wakes_as_soon_as_a_change_is_recorded():
    journal = new_journal()
    answers = []
    reader = threading.Thread(target=lambda: answers.append(journal.read(0, timeout=30)))
    reader.start()
    # the reader may not be waiting yet; either way it must return the change, not time out
    started = time.monotonic()
    journal.dict["wake"] = "up"
    reader.join(10)
    assert not reader.is_alive()
    assert time.monotonic() - started < 10
    status, entries = answers[0]
    assert status == "ok" and [e[1:4] for e in entries] == [("dict", "set", ("wake", "up"))]


def test_lock_holders_and_waiters_replay_into_the_mirror():
    journal = new_journal()
    lock = journal.named_lock("demo")
    assert journal.named_lock("demo") is lock
    assert lock.acquire()
    assert not lock.acquire(blocking=False)
    assert not lock.acquire(timeout=0.01)  # waits, then gives up
    mirror, ops = replay(journal)
    assert [op["op"] for op in ops] == ["acquire", "wait", "gave_up"]
    assert mirror.locks["demo"]["holder_pid"] == 0 and mirror.locks["demo"]["waiters"] == []
    lock.release()
    with pytest.raises(RuntimeError):
        lock.release()
    mirror.apply(journal.read(0, timeout=0)[1])
    assert mirror.locks["demo"] == journal.snapshot()[3]["demo"]
    assert mirror.locks["demo"]["holder_pid"] is None


def test_a_sort_that_fails_halfway_still_leaves_the_mirror_equal():
    journal = new_journal()
    values = [32, 23, 33, 12, 18, 39, 11, 1, 35, 14, 27, 25, 22, 17, 38, 5, 36, 10, 16, 26, 37, 8]
    values += [19, 15, 13, 20, 28, 34, 7, 31, 29, 9, 24, 4, 3, 30, 2, 6, 0, "a", 21]
    journal.list.extend(values)
    with pytest.raises(TypeError):
        journal.list.sort()
    mirror, ops = replay(journal)
    assert mirror.items == list(journal.list)


values = st.integers(-3, 3)
keys = st.one_of(st.integers(-3, 3), st.sampled_from(["a", "b", "1"]), st.just(0.5))
index = st.integers(-6, 6)
list_ops = st.one_of(
    st.tuples(st.just("append"), values),
    st.tuples(st.just("extend"), st.lists(values, max_size=3)),
    st.tuples(st.just("insert"), index, values),
    st.tuples(st.just("pop"), index),
    st.tuples(st.just("remove"), values),
    st.tuples(st.just("setitem"), index, values),
    st.tuples(st.just("delitem"), index),
    st.tuples(st.just("setslice"), index, index, st.lists(values, max_size=3)),
    st.tuples(st.just("delslice"), index, index, st.sampled_from([1, 2, -1])),
    st.tuples(st.sampled_from(["sort", "reverse", "lclear"])),
    st.tuples(st.just("imul"), st.integers(0, 2)),
)
dict_ops = st.one_of(
    st.tuples(st.just("dset"), keys, values),
    st.tuples(st.just("ddel"), keys),
    st.tuples(st.just("dpop"), keys),
    st.tuples(st.just("popitem")),
    st.tuples(st.just("setdefault"), keys, values),
    st.tuples(st.just("update"), st.dictionaries(keys, values, max_size=3)),
    st.tuples(st.just("dclear")),
)


def run(op: tuple, d: dict, l: list) -> None:  # noqa: E741
    name, *args = op
    actions = {
        "append": lambda v: l.append(v),
        "extend": lambda vs: l.extend(vs),
        "insert": lambda i, v: l.insert(i, v),
        "pop": lambda i: l.pop(i),
        "remove": lambda v: l.remove(v),
        "setitem": lambda i, v: l.__setitem__(i, v),
        "delitem": lambda i: l.__delitem__(i),
        "setslice": lambda i, j, vs: l.__setitem__(slice(i, j), vs),
        "delslice": lambda i, j, step: l.__delitem__(slice(i, j, step)),
        "sort": lambda: l.sort(),
        "reverse": lambda: l.reverse(),
        "lclear": lambda: l.clear(),
        "imul": lambda n: l.__imul__(n),
        "dset": lambda k, v: d.__setitem__(k, v),
        "ddel": lambda k: d.__delitem__(k),
        "dpop": lambda k: d.pop(k),
        "popitem": lambda: d.popitem(),
        "setdefault": lambda k, v: d.setdefault(k, v),
        "update": lambda other: d.update(other),
        "dclear": lambda: d.clear(),
    }
    try:
        actions[name](*args)
        return None
    except (IndexError, KeyError, ValueError) as exc:
        return type(exc)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(list_ops, dict_ops), max_size=40))
def test_any_sequence_of_changes_replays_to_the_same_state(ops):
    journal = new_journal()
    plain_d: dict = {}
    plain_l: list = []
    for op in ops:
        assert run(op, journal.dict, journal.list) == run(op, plain_d, plain_l)
    assert list(journal.list) == plain_l and list(journal.dict.items()) == list(plain_d.items())
    mirror, changes = replay(journal)
    assert mirror.items == plain_l
    assert list(mirror.entries.items()) == list(plain_d.items())
    if changes:
        assert [c["seq"] for c in changes] == list(range(1, journal.version + 1))
        replica = replica_of(changes)
        assert replica.list == encode_list(plain_l) and replica.pairs() == encode_pairs(plain_d)
