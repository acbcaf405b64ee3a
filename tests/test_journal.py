"""The change journal, the server's mirror and the one replayer: what the Manager records, clients replay.

Two layers, both without a server:

* in-process: a :class:`ChangeJournal` holding observed objects directly (no Manager, so
  every PID is 0) -- versions, overflow, the blocking reader, failed changes, and a
  property test of random dict/list changes;
* through a real :class:`StateManager` (forkserver, shared by the module): every kind a
  SyncManager serves, driven through its ordinary proxy. After each test the Manager's
  own snapshot, the mirror that replayed the journal and a :class:`StateReplica` rebuilt
  from the mirror's ``snapshot`` + the ``changes`` ops must hold the same objects.

:class:`Follower` and the ``state_manager`` fixture are reused by ``test_containers.py``.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from replay_fixtures import comparable

from sharedstate.encoding import encode, encode_list, encode_pairs
from sharedstate.journal import ChangeJournal
from sharedstate.kinds import KINDS
from sharedstate.kinds.dicts import ObservedDict
from sharedstate.kinds.lists import ObservedList
from sharedstate.kinds.locks import RecordedLock
from sharedstate.replica import StateReplica
from webapp.manager import StateManager, start_manager
from webapp.mirror import SharedStateMirror


# -- following a journal as the server and a client do ------------------------------------
class Follower:
    """A mirror loaded from the journal's snapshot, and a client replica loaded from the mirror's.

    :meth:`catch_up` feeds the journal's new entries to the mirror and the ops it returns to
    the replica, as the server's feed and a page do; :meth:`assert_same` compares both with
    the Manager's own snapshot.
    """

    def __init__(self, journal: Any) -> None:
        self.journal = journal
        self.mirror = SharedStateMirror()
        self.mirror.load(*journal.snapshot())
        self.replica = StateReplica()
        self.replica.load(self.mirror.snapshot())
        self.ops: list[dict] = []

    def catch_up(self, upto: int | None = None) -> list[dict]:
        """Replay the journal's new entries (up to version ``upto``, if given)."""
        limit = 10**6 if upto is None else upto - self.mirror.version
        if limit <= 0:
            return []
        status, entries = self.journal.read(self.mirror.version, 0, limit)
        assert status == "ok", (status, entries)
        before = self.mirror.version
        ops = self.mirror.apply(entries)
        if ops:
            self.replica.add({"from": before, "to": ops[-1]["seq"], "ops": ops})
        self.ops += ops
        return ops

    def ops_of(self, oid: str) -> list[dict]:
        return [op for op in self.ops if op["object"] == oid]

    def assert_same(self, *oids: str) -> dict[str, Any]:
        """Assert Manager == mirror == replica for ``oids`` (all objects if none given); return
        the Manager's encoded values.

        The Manager's snapshot is taken first and the mirror replays exactly up to its
        version, so a thread still changing an object cannot make them differ.
        """
        contents = SharedStateMirror()
        contents.load(*self.journal.snapshot())
        self.catch_up(upto=contents.version)
        assert self.mirror.version == contents.version
        manager, mirrored = contents.snapshot()["objects"], self.mirror.snapshot()["objects"]
        replayed = self.replica.described()
        assert self.replica.version == self.mirror.version
        values = {}
        for oid in oids or manager:
            want = comparable(manager[oid]["value"])
            assert comparable(mirrored[oid]["value"]) == want, (
                f"the mirror's {oid} differs from the Manager's"
            )
            assert comparable(replayed[oid]["value"]) == want, (
                f"the replica's {oid} differs from the Manager's"
            )
            assert replayed[oid]["kind"] == manager[oid]["kind"] == mirrored[oid]["kind"]
            assert replayed[oid].get("writers") == mirrored[oid].get("writers")
            values[oid] = manager[oid]["value"]
        return values


def oid_of(proxy: Any, follower: Follower) -> str:
    """The id of the object a proxy made with ``manager.KIND(...)`` points to: the newest created."""
    return [op["object"] for op in follower.catch_up() if op["op"] == "create"][-1]


# -- in-process: the journal on its own -----------------------------------------------------
def new_journal(capacity: int = 50_000) -> tuple[ChangeJournal, ObservedDict, ObservedList]:
    journal = ChangeJournal(capacity=capacity)
    d = journal.add("dict", ObservedDict(), "d", "d")
    l = journal.add("list", ObservedList(), "l", "l")
    return journal, d, l


def replay(journal: ChangeJournal) -> tuple[SharedStateMirror, StateReplica, list[dict]]:
    """Feed every journal entry, creations included, into an empty mirror and a replica."""
    mirror, replica = SharedStateMirror(), StateReplica()
    replica.load({"version": 0, "objects": {}})
    status, entries = journal.read(0, timeout=0, limit=10**6)
    assert status == "ok"
    ops = mirror.apply(entries)
    if ops:
        replica.add({"from": 0, "to": ops[-1]["seq"], "ops": ops})
    return mirror, replica, ops


def assert_replays(journal: ChangeJournal, d: dict, l: list) -> list[dict]:
    mirror, replica, ops = replay(journal)
    assert mirror.version == replica.version == journal.version
    assert list(mirror.entries.items()) == list(d.items())  # same keys, values and order
    assert mirror.items == list(l)
    assert replica.dict == mirror.snapshot()["dict"] == encode_pairs(dict(d))
    assert replica.list == mirror.snapshot()["list"] == encode_list(list(l))
    return ops


def test_in_process_dict_changes_replay_to_the_same_dict():
    journal, d, l = new_journal()
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
    d |= {"or": 1}
    d[("tuple", "key")] = {"nested": {1, 2}}
    before_clear = journal.version
    d.clear()
    d["after"] = b"bytes"
    d[2**60] = float("inf")
    ops = assert_replays(journal, d, l)
    assert [op["op"] for op in ops if op["seq"] > before_clear] == ["clear", "set", "set"]


def test_in_process_list_changes_replay_to_the_same_list():
    journal, d, l = new_journal()
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
    ops = assert_replays(journal, d, l)
    assert {op["op"] for op in ops if op["object"] == "l"} == {
        "create",
        "append",
        "extend",
        "insert",
        "del",
        "set",
        "replace",
    }
    inserts = [op for op in ops if op["op"] == "insert"]
    assert [op["index"] for op in inserts] == [7, 0, 10]  # negative and out-of-range indexes resolved


def test_versions_are_consecutive_and_ops_carry_object_kind_writer_and_time():
    journal, d, l = new_journal()
    before = time.time()
    l.append(1)
    d["k"] = "v"
    del d["k"]
    l.clear()
    status, entries = journal.read(0, timeout=0)
    assert status == "ok"
    assert [e[0] for e in entries] == [1, 2, 3, 4, 5, 6] and journal.version == 6
    ops = SharedStateMirror().apply(entries)
    assert [op["seq"] for op in ops] == [1, 2, 3, 4, 5, 6]
    assert [(op["object"], op["kind"], op["target"]) for op in ops] == [
        ("d", "dict", "dict"),
        ("l", "list", "list"),
        ("l", "list", "list"),
        ("d", "dict", "dict"),
        ("d", "dict", "dict"),
        ("l", "list", "list"),
    ]
    for op in ops:
        assert op["pid"] == 0  # no Manager connection in-process, so no peer PID
    assert all(before <= op["t"] <= time.time() for op in ops[2:])  # after the two creations


def test_failed_changes_are_not_recorded():
    journal, d, l = new_journal()
    version = journal.version
    for bad in (lambda: l.pop(), lambda: l.remove(1), lambda: l.__setitem__(5, 1), lambda: d.popitem()):
        with pytest.raises((IndexError, ValueError, KeyError)):
            bad()
    with pytest.raises(KeyError):
        del d["missing"]
    with pytest.raises(OverflowError):
        l.insert(10**20, "x")
    with pytest.raises(TypeError):
        d.update([(["unhashable"], 1)])
    assert journal.version == version
    assert journal.read(version, timeout=0) == ("ok", [])


def test_a_mirror_loaded_from_a_snapshot_skips_entries_it_already_has():
    journal, d, l = new_journal()
    l.extend([1, 2, 3])
    d["x"] = 1
    mirror = SharedStateMirror()
    mirror.load(*journal.snapshot())  # taken at version 4 (two creations, two changes)
    l.pop(0)
    d["y"] = 2
    ops = mirror.apply(journal.read(0, timeout=0)[1])  # all six entries offered, two are new
    assert [op["seq"] for op in ops] == [5, 6]
    assert mirror.items == [2, 3] and mirror.entries == {"x": 1, "y": 2}


def test_a_reader_that_fell_too_far_behind_is_told_to_resynchronise():
    journal, d, l = new_journal(capacity=5)
    for i in range(10):
        l.append(i)
    assert journal.read(0, timeout=0) == ("overflow", 12)
    assert journal.read(6, timeout=0) == ("overflow", 12)  # entry 7 was dropped
    status, entries = journal.read(7, timeout=0)
    assert status == "ok" and [e[0] for e in entries] == [8, 9, 10, 11, 12]
    assert journal.read(12, timeout=0) == ("ok", [])
    status, entries = journal.read(7, timeout=0, limit=2)
    assert [e[0] for e in entries] == [8, 9]


def test_a_read_returns_the_entries_after_the_version_asked_in_order_up_to_the_limit():
    # the newest are read from the deque's newer end, the others by index: both, across blocks
    journal, d, l = new_journal(capacity=1000)
    for i in range(1500):
        l.append(i)
    version = journal.version  # 1502: the oldest kept is 503
    for after in (502, 503, 700, 1436, 1501):
        for limit in (1, 64, 65, 999, 1000, 5000):
            status, entries = journal.read(after, timeout=0, limit=limit)
            assert status == "ok"
            assert [e[0] for e in entries] == list(range(after + 1, min(version, after + limit) + 1))
            assert [e[3] for e in entries] == [(v - 3,) for v in range(after + 1, after + 1 + len(entries))]


def test_a_blocked_reader_wakes_as_soon_as_a_change_is_recorded():
    journal, d, l = new_journal()
    answers = []
    reader = threading.Thread(target=lambda: answers.append(journal.read(2, timeout=30)))
    reader.start()
    # the reader may not be waiting yet; either way it must return the change, not time out
    started = time.monotonic()
    d["wake"] = "up"
    reader.join(10)
    assert not reader.is_alive()
    assert time.monotonic() - started < 10
    status, entries = answers[0]
    assert status == "ok" and [e[1:3] for e in entries] == [("d", "set")]


def test_in_process_named_lock_holders_and_waiters_replay():
    journal, d, l = new_journal()
    lock = journal.named("Lock", "lock:demo", lambda j: RecordedLock(j, "Lock"))
    assert journal.named("Lock", "lock:demo", lambda j: RecordedLock(j, "Lock")) is lock
    with pytest.raises(TypeError):
        journal.named("dict", "lock:demo", KINDS["dict"].make)
    assert lock.acquire()
    assert not lock.acquire(blocking=False)
    assert not lock.acquire(timeout=0.01)  # waits, then gives up
    mirror, replica, ops = replay(journal)
    assert [op["op"] for op in ops if op["object"] == "lock:demo"] == ["create", "acquire", "wait", "gave_up"]
    assert mirror.snapshot()["locks"] == [
        {"name": "demo", "holder_pid": 0, "held_since": ops[-3]["t"], "waiters": []}
    ]
    assert replica.locks["demo"]["holder_pid"] == 0 and replica.locks["demo"]["waiters"] == []
    lock.release()
    with pytest.raises(RuntimeError):
        lock.release()
    mirror, replica, ops = replay(journal)
    assert replica.locks["demo"]["holder_pid"] is None
    assert mirror.snapshot()["locks"][0]["holder_pid"] is None


def test_a_sort_that_fails_halfway_still_replays_to_the_same_list():
    journal, d, l = new_journal()
    values = [32, 23, 33, 12, 18, 39, 11, 1, 35, 14, 27, 25, 22, 17, 38, 5, 36, 10, 16, 26, 37, 8]
    values += [19, 15, 13, 20, 28, 34, 7, 31, 29, 9, 24, 4, 3, 30, 2, 6, 0, "a", 21]
    l.extend(values)
    with pytest.raises(TypeError):
        l.sort()
    assert_replays(journal, d, l)


values = st.integers(-3, 3)
keys = st.one_of(st.integers(-3, 3), st.sampled_from(["a", "b", "1"]), st.just(0.5), st.just(1.0))
index = st.integers(-6, 6)
list_ops = st.one_of(
    st.tuples(st.just("append"), values),
    st.tuples(st.just("extend"), st.lists(values, max_size=3)),
    st.tuples(st.just("insert"), st.one_of(index, st.just(10**20)), values),
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
    st.tuples(st.just("update"), st.lists(st.one_of(st.tuples(keys, values), st.tuples(keys)), max_size=3)),
    st.tuples(st.just("dclear")),
)


def run(op: tuple, d: dict, l: list) -> type | None:
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
        "update": lambda pairs: d.update(pairs),
        "dclear": lambda: d.clear(),
    }
    try:
        actions[name](*args)
        return None
    except (IndexError, KeyError, ValueError, OverflowError) as exc:
        return type(exc)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(list_ops, dict_ops), max_size=40))
def test_any_sequence_of_changes_replays_to_the_same_state(ops):
    journal, d, l = new_journal()
    plain_d: dict = {}
    plain_l: list = []
    for op in ops:
        assert run(op, d, l) == run(op, plain_d, plain_l), op
    assert list(l) == plain_l and list(d.items()) == list(plain_d.items())
    changes = assert_replays(journal, plain_d, plain_l)
    assert [c["seq"] for c in changes] == list(range(1, journal.version + 1))


# -- through a real Manager: every kind ------------------------------------------------------
@pytest.fixture(scope="module")
def state_manager() -> Iterator[StateManager]:
    """One recording Manager (forkserver, as the server starts it) for the module."""
    manager = start_manager(multiprocessing.get_context("forkserver"))
    yield manager
    manager.shutdown()


@pytest.fixture
def follower(state_manager: StateManager) -> Follower:
    return Follower(state_manager.journal())


def test_every_kind_the_manager_serves_is_recorded(state_manager: StateManager, follower: Follower):
    assert set(KINDS) == {
        "dict",
        "list",
        "Queue",
        "JoinableQueue",
        "Value",
        "Array",
        "Namespace",
        "Lock",
        "RLock",
        "Semaphore",
        "BoundedSemaphore",
        "Condition",
        "Event",
        "Barrier",
    }
    made = {
        "Value": ("i", 1),
        "Array": ("i", [1, 2]),
        "Barrier": (2,),
    }
    for kind in KINDS:
        getattr(state_manager, kind)(*made.get(kind, ()))
    follower.catch_up()
    assert [op["kind"] for op in follower.ops if op["op"] == "create"] == list(KINDS)
    follower.assert_same(*(op["object"] for op in follower.ops))


def test_dict_through_the_manager(state_manager: StateManager, follower: Follower):
    d = state_manager.dict({"start": 0})
    oid = oid_of(d, follower)
    d[1] = "1"
    d[3] = "a"
    d[3.0] = "b"  # the dict keeps the key 3
    d.update([("u", 1)], v=2)
    assert d.setdefault("s", [1]) == [1]
    assert d.pop("u") == 1
    assert d.pop("missing", None) is None
    assert d.popitem() == ("s", [1])
    del d[1]
    plain = {"start": 0, 3: "b", "v": 2}
    assert follower.assert_same(oid)[oid] == encode_pairs(plain) == encode_pairs(d.copy())
    assert [op["key"] for op in follower.ops_of(oid) if op["op"] == "set" and op["value"] == "b"] == [3]
    d.clear()
    assert follower.assert_same(oid)[oid] == []


def test_list_through_the_manager(state_manager: StateManager, follower: Follower):
    l = state_manager.list([3, 1, 2])
    oid = oid_of(l, follower)
    l.append(4)
    l.extend([5, 6])
    l.insert(-100, 0)
    l[1] = "one"
    l[2:4] = ["x"]
    del l[-1]
    assert l.pop(0) == 0
    l.remove("x")
    l += [9]
    l *= 2
    l.reverse()
    l.sort(key=str)
    assert follower.assert_same(oid)[oid] == encode_list(l[:])
    l.clear()
    assert follower.assert_same(oid)[oid] == [] and len(l) == 0


def test_queue_items_puts_gets_and_blocked_callers(state_manager: StateManager, follower: Follower):
    q = state_manager.Queue(maxsize=2)
    oid = oid_of(q, follower)
    q.put("a")
    q.put(("b", 2))
    with pytest.raises(queue.Full):
        q.put("c", timeout=0.01)  # blocks, times out: the Manager journals block and unblock
    with pytest.raises(queue.Full):
        q.put_nowait("never")
    assert q.get() == "a"
    q.put("c")
    value = follower.assert_same(oid)[oid]
    assert value["items"] == [encode(("b", 2)), "c"] and value["maxsize"] == 2
    assert value["blocked"] == []
    assert [op["op"] for op in follower.ops_of(oid)] == [
        "create",
        "put",
        "put",
        "block",
        "unblock",
        "get",
        "put",
    ]
    assert q.get() == ("b", 2) and q.get() == "c"
    with pytest.raises(queue.Empty):
        q.get(timeout=0.01)
    assert follower.assert_same(oid)[oid]["items"] == [] and q.qsize() == 0


def test_a_caller_blocked_in_get_is_shown_until_an_item_arrives(
    state_manager: StateManager, follower: Follower
):
    q = state_manager.Queue()
    oid = oid_of(q, follower)
    got = []
    getter = threading.Thread(target=lambda: got.append(q.get(timeout=10)))
    getter.start()
    deadline = time.monotonic() + 10
    while not any(op["op"] == "block" for op in follower.ops_of(oid)):
        assert time.monotonic() < deadline, "the getter never blocked"
        follower.journal.read(follower.mirror.version, 0.5)
        follower.catch_up()
    blocked = follower.assert_same(oid)[oid]["blocked"]
    assert [(b["pid"], b["call"]) for b in blocked] == [(multiprocessing.current_process().pid, "get")]
    q.put("x")
    getter.join(10)
    assert got == ["x"]
    assert follower.assert_same(oid)[oid]["blocked"] == []


def test_joinable_queue_counts_unfinished_tasks(state_manager: StateManager, follower: Follower):
    q = state_manager.JoinableQueue()
    oid = oid_of(q, follower)
    for i in range(3):
        q.put(i)
    q.get()
    q.task_done()
    assert follower.assert_same(oid)[oid]["unfinished"] == 2
    q.get()
    q.task_done()
    q.get()
    q.task_done()
    with pytest.raises(ValueError):
        q.task_done()  # task_done() called too many times, as a plain JoinableQueue says
    q.join()  # nothing unfinished: returns at once
    value = follower.assert_same(oid)[oid]
    assert value["unfinished"] == 0 and value["items"] == []
    assert [op["op"] for op in follower.ops_of(oid)].count("task_done") == 3


def test_value_and_array(state_manager: StateManager, follower: Follower):
    v = state_manager.Value("d", 1.5)
    vid = oid_of(v, follower)
    v.value = 2.25
    a = state_manager.Array("i", [1, 2, 3])
    aid = oid_of(a, follower)
    a[0] = 10
    a[-1] = 30
    with pytest.raises(TypeError):
        a[1] = "not an int"
    with pytest.raises(IndexError):
        a[5] = 1
    values = follower.assert_same(vid, aid)
    assert values[vid] == {"typecode": "d", "value": 2.25} and v.value == 2.25
    assert values[aid] == {"typecode": "i", "items": [10, 2, 30]} == {"typecode": "i", "items": list(a)}
    assert [op["index"] for op in follower.ops_of(aid) if op["op"] == "set"] == [0, 2]


def test_namespace(state_manager: StateManager, follower: Follower):
    ns = state_manager.Namespace(x=1)
    oid = oid_of(ns, follower)
    ns.y = [2]
    ns.x = "one"
    del ns.y
    with pytest.raises(AttributeError):
        del ns.missing
    assert follower.assert_same(oid)[oid] == {"attrs": {"x": "one"}}
    assert [op["op"] for op in follower.ops_of(oid)] == ["create", "setattr", "setattr", "delattr"]


def test_lock_holder_waiter_and_release(state_manager: StateManager, follower: Follower):
    lock = state_manager.Lock()
    oid = oid_of(lock, follower)
    me = multiprocessing.current_process().pid
    assert lock.acquire()
    assert not lock.acquire(timeout=0.01)  # waits (this connection), gives up
    value = follower.assert_same(oid)[oid]
    assert [h["pid"] for h in value["holders"]] == [me] and value["available"] == 0
    assert value["waiters"] == []
    lock.release()
    with pytest.raises(RuntimeError):
        lock.release()
    assert follower.assert_same(oid)[oid]["holders"] == []
    assert [op["op"] for op in follower.ops_of(oid)] == ["create", "acquire", "wait", "gave_up", "release"]


def test_rlock_depth(state_manager: StateManager, follower: Follower):
    rlock = state_manager.RLock()
    oid = oid_of(rlock, follower)
    rlock.acquire()
    rlock.acquire()
    rlock.acquire()
    assert [h["depth"] for h in follower.assert_same(oid)[oid]["holders"]] == [3]
    rlock.release()
    assert [h["depth"] for h in follower.assert_same(oid)[oid]["holders"]] == [2]
    rlock.release()
    rlock.release()
    with pytest.raises(RuntimeError):
        rlock.release()
    value = follower.assert_same(oid)[oid]
    assert value["holders"] == [] and value["available"] == 1


def test_semaphore_and_bounded_semaphore(state_manager: StateManager, follower: Follower):
    sem = state_manager.Semaphore(2)
    sid = oid_of(sem, follower)
    bounded = state_manager.BoundedSemaphore(1)
    bid = oid_of(bounded, follower)
    assert sem.acquire() and sem.acquire()
    assert not sem.acquire(blocking=False)
    values = follower.assert_same(sid)
    assert values[sid]["available"] == 0 and len(values[sid]["holders"]) == 2
    sem.release()
    sem.release()
    sem.release()  # a plain Semaphore may go above its start
    assert follower.assert_same(sid)[sid]["available"] == 3
    bounded.acquire()
    bounded.release()
    with pytest.raises(ValueError):
        bounded.release()
    assert follower.assert_same(bid)[bid] == {"initial": 1, "available": 1, "holders": [], "waiters": []}


def test_condition_wait_and_notify(state_manager: StateManager, follower: Follower):
    cond = state_manager.Condition()
    oid = oid_of(cond, follower)
    with pytest.raises(RuntimeError):
        cond.notify()  # not holding its lock
    woken = []

    def waiter() -> None:
        with cond:
            woken.append(cond.wait(10))

    thread = threading.Thread(target=waiter)
    thread.start()
    deadline = time.monotonic() + 10
    while not follower.assert_same(oid)[oid]["waiters"]:
        assert time.monotonic() < deadline, "the waiter never waited"
        follower.journal.read(follower.mirror.version, 0.5)
    with cond:
        cond.notify()
    thread.join(10)
    assert woken == [True]
    value = follower.assert_same(oid)[oid]
    assert value["waiters"] == [] and value["holders"] == []
    names = [op["op"] for op in follower.ops_of(oid)]
    assert names[-4:] == ["notify", "release", "wake", "release"]


def test_event_set_clear_and_waiters(state_manager: StateManager, follower: Follower):
    event = state_manager.Event()
    oid = oid_of(event, follower)
    assert not event.wait(0.01)  # waits, times out
    event.set()
    assert event.is_set() and event.wait(0)
    assert follower.assert_same(oid)[oid] == {"set": True, "waiters": []}
    event.clear()
    assert follower.assert_same(oid)[oid] == {"set": False, "waiters": []}
    assert [op["op"] for op in follower.ops_of(oid)] == ["create", "wait", "wake", "set", "clear"]


def test_barrier_fills_passes_breaks_and_resets(state_manager: StateManager, follower: Follower):
    barrier = state_manager.Barrier(2)
    oid = oid_of(barrier, follower)
    other = threading.Thread(target=barrier.wait, args=(10,))
    other.start()
    deadline = time.monotonic() + 10
    while not follower.assert_same(oid)[oid]["waiting"]:
        assert time.monotonic() < deadline, "the first party never arrived"
        follower.journal.read(follower.mirror.version, 0.5)
    assert barrier.wait(10) in (0, 1)
    other.join(10)
    assert follower.assert_same(oid)[oid] == {"parties": 2, "waiting": [], "broken": False, "passed": 1}
    barrier.abort()
    with pytest.raises(threading.BrokenBarrierError):
        barrier.wait(1)
    assert follower.assert_same(oid)[oid]["broken"] is True and barrier.broken
    barrier.reset()
    assert follower.assert_same(oid)[oid] == {"parties": 2, "waiting": [], "broken": False, "passed": 1}
