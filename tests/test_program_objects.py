"""ProgramObjects: a watched program's Manager journals, replayed into the mirror in order.

Without a server: a real :class:`ChangeJournal` with recording dicts and lists produces the
batches exactly as a Manager's agent sends them (``mpscope_agent.manager_hooks``), and a
real mirror replays them. While nobody watches, batches are held and replayed before any
read; what a reader sees, and the ``changes`` a page gets, must be the same either way.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from mpscope_agent.manager_hooks import GAP, UNWATCHED_GAP, JournalSender, _wire
from sharedstate.journal import ChangeJournal
from sharedstate.kinds.dicts import ObservedDict
from sharedstate.kinds.lists import ObservedList
from testkit.waiting import wait_for
from webapp import journals as program_objects
from webapp.journals import ManagerJournals as ProgramObjects
from webapp.mirror import SharedStateMirror


class FakeAgent:
    """One Manager's journal, sent in batches as its agent's JournalSender does."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.journal = ChangeJournal()
        self.sent = 0
        self.d = self.journal.add("dict", ObservedDict(), label="d = manager.dict()  · t.py:1")
        self.l = self.journal.add("list", ObservedList(), label="l = manager.list()  · t.py:2")  # noqa: E741

    def batch(self) -> dict:
        status, entries = self.journal.read(self.sent, timeout=0)
        assert status == "ok"
        self.sent = entries[-1][0]
        return {"t": "journal", "entries": _wire(entries)}


class Feed:
    """ProgramObjects over a real mirror, with ``watched`` under the test's control."""

    def __init__(self) -> None:
        self.mirror = SharedStateMirror()
        self.watching = False
        self.payloads: list[dict] = []
        self.objects = ProgramObjects(self.mirror, self.payloads.append, lambda: self.watching)

    def value(self, manager_pid: int, name: str):
        objects = self.mirror.snapshot()["objects"]
        return next(
            o["value"]
            for oid, o in objects.items()
            if oid.startswith(f"{manager_pid}:") and o["label"].startswith(name)
        )


@pytest.fixture
def feed() -> Iterator[Feed]:
    f = Feed()
    yield f
    f.objects.close()


def test_held_batches_are_replayed_in_order_before_a_read(feed: Feed) -> None:
    a, b = FakeAgent(101), FakeAgent(202)
    a.d["x"] = 1
    a.l.append(101)
    feed.objects.receive(a.pid, a.batch())
    b.d["x"] = 2
    feed.objects.receive(b.pid, b.batch())
    a.d["x"] = 3
    a.l.append(101)
    feed.objects.receive(a.pid, a.batch())
    assert feed.mirror.version == 0 and not feed.payloads  # nobody watches: held

    assert feed.value(101, "d") == [["x", 3]]
    assert feed.value(101, "l") == [101, 101]
    assert feed.value(202, "d") == [["x", 2]]
    # the changes as a page would have had them: one version after another, as they came
    ops = [op for payload in feed.payloads for op in payload["ops"]]
    assert [op["seq"] for op in ops] == list(range(1, len(ops) + 1))
    sets = [(op["object"].split(":")[0], op["value"]) for op in ops if op["op"] == "set"]
    assert sets == [("101", 1), ("202", 2), ("101", 3)]
    assert feed.mirror.current_version() == len(ops)


def test_batches_are_replayed_at_once_while_someone_watches(feed: Feed) -> None:
    a = FakeAgent(101)
    a.d["k"] = "v"
    feed.objects.receive(a.pid, a.batch())
    feed.watching = True
    a.d["k"] = "w"
    feed.objects.receive(a.pid, a.batch())
    # what was held went first, then the new batch, before receive() returned
    sets = [op["value"] for payload in feed.payloads for op in payload["ops"] if op["op"] == "set"]
    assert sets == ["v", "w"]
    assert feed.mirror.version == len([op for p in feed.payloads for op in p["ops"]])


def test_a_full_hold_is_replayed_without_waiting_for_a_reader(feed: Feed, monkeypatch) -> None:
    monkeypatch.setattr(program_objects, "HOLD_BYTES", 2000)
    a = FakeAgent(101)
    for i in range(200):  # each batch is a few hundred bytes of base64
        a.d[f"key-{i}"] = i
        feed.objects.receive(a.pid, a.batch())
    assert feed.objects.held_bytes <= 2000
    assert feed.mirror.version > 0  # replayed without any read
    assert len(feed.value(101, "d")) == 200


def test_held_batches_are_replayed_once_the_managers_are_quiet(feed: Feed) -> None:
    a = FakeAgent(101)
    a.d["done"] = True
    feed.objects.receive(a.pid, a.batch())
    # no read: the objects' own thread replays them QUIET after the last batch
    wait_for(lambda: feed.mirror.version > 0, 5, "the held batch replayed")
    assert not feed.objects.held


def test_a_read_during_a_replay_sees_a_consistent_state(feed: Feed) -> None:
    a = FakeAgent(101)
    for i in range(2000):
        a.l.append(i)
        if i % 100 == 99:
            feed.objects.receive(a.pid, a.batch())
    seen: list = []
    readers = [threading.Thread(target=lambda: seen.append(feed.value(101, "l"))) for _ in range(4)]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join(10)
    assert seen == [list(range(2000))] * 4


def test_a_batch_that_cannot_be_replayed_is_skipped_and_later_ones_are_not(feed: Feed) -> None:
    a = FakeAgent(101)
    a.d["before"] = 1
    feed.objects.receive(a.pid, a.batch())
    feed.objects.receive(a.pid, {"t": "journal", "entries": _wire(42)})  # not a list of entries
    feed.objects.receive(a.pid, {"t": "journal", "entries": "not base64 !"})
    a.d["after"] = 2
    feed.objects.receive(a.pid, a.batch())
    assert feed.value(101, "d") == [["before", 1], ["after", 2]]
    assert not feed.objects.held and feed.objects.held_bytes == 0


def test_each_manager_sends_at_the_slow_pace_only_while_no_page_is_open(feed: Feed) -> None:
    agents = {pid: FakeAgent(pid) for pid in (101, 202)}
    senders = {pid: JournalSender(agent.journal) for pid, agent in agents.items()}
    told: list[tuple[int, bool]] = []

    def tell(pid: int, message: dict) -> bool:
        assert message["t"] == "pace"
        told.append((pid, message["watched"]))
        senders[pid].pace(message["watched"])  # what the agent's channel does with it
        return True

    feed.objects.tell = tell
    for agent in agents.values():
        agent.d["x"] = agent.pid
        feed.objects.receive(agent.pid, agent.batch())
    assert told == [(101, False), (202, False)]  # each on its first batch
    assert {s.gap for s in senders.values()} == {UNWATCHED_GAP}

    agents[101].d["x"] = 1
    feed.objects.receive(101, agents[101].batch())
    assert len(told) == 2  # told once, not per batch

    feed.watching = True
    feed.value(101, "d")  # a page joining reads the mirror: every Manager is told at once
    assert sorted(told[2:]) == [(101, True), (202, True)]
    assert {s.gap for s in senders.values()} == {GAP}
    assert all(not s.hurry.locked() for s in senders.values())  # a slow wait is cut short

    feed.watching = False  # the page closed: the next batch of each says so
    agents[202].d["x"] = 2
    feed.objects.receive(202, agents[202].batch())
    assert told[-1] == (202, False) and senders[202].gap == UNWATCHED_GAP and senders[101].gap == GAP
