"""NativeObjects merges every process's facts about one of the program's own objects into one
value (a ``sample`` op through the one journal order), which the mirror, a snapshot and a
recording's replayer all read as the object's value."""

from __future__ import annotations

import pytest

from sharedstate.kinds import replica_for
from sharedstate.kinds.sampled import SampledReplica
from webapp.journals import ManagerJournals
from webapp.mirror import SharedStateMirror
from webapp.native import NativeObjects, merger

pytestmark = pytest.mark.fast


@merger("TestCounter")
def _merge_counter(facts: dict[int, dict], blocked: dict[int, dict], ended: set[int]) -> dict:
    return {
        "total": sum(f.get("n", 0) for f in facts.values()),
        "by": {str(pid): f.get("n", 0) for pid, f in sorted(facts.items())},
        "blocked": sorted(blocked),
        "ended": sorted(ended),
    }


@pytest.fixture
def natives():
    mirror = SharedStateMirror()
    changes: list[dict] = []
    journals = ManagerJournals(mirror, changes.append, lambda: True)
    return NativeObjects(journals), mirror, changes


def test_facts_of_every_process_are_merged_into_one_value(natives):
    objects, mirror, changes = natives
    objects.receive(
        10, {"objects": [{"oid": "native-c", "kind": "TestCounter", "label": "c = C()  · p.py:3"}]}
    )
    objects.receive(11, {"facts": {"native-c": {"n": 2}}})  # a child's facts
    objects.receive(10, {"facts": {"native-c": {"n": 3}}})
    value = mirror.objects["native-c"].replica.value()
    assert value["total"] == 5 and value["by"] == {"10": 3, "11": 2}
    assert mirror.objects["native-c"].origin == "native"
    ops = [op for batch in changes for op in batch["ops"]]
    assert [op["op"] for op in ops] == ["create", "sample", "sample"]
    assert ops[0]["origin"] == "native" and ops[-1]["value"]["total"] == 5


def test_facts_told_before_the_object_are_merged_once_it_is(natives):
    objects, mirror, _ = natives
    objects.receive(11, {"facts": {"native-c": {"n": 4}}})
    assert "native-c" not in mirror.objects
    objects.receive(10, {"objects": [{"oid": "native-c", "kind": "TestCounter", "label": "c"}]})
    assert mirror.objects["native-c"].replica.value()["total"] == 4


def test_waits_and_ends_reach_the_merger_and_same_values_send_nothing(natives):
    objects, mirror, changes = natives
    objects.receive(10, {"objects": [{"oid": "native-c", "kind": "TestCounter", "label": "c"}]})
    objects.waiting(12, {"oid": "native-c", "call": "get", "since": 1.0, "text": "get() on c"})
    assert mirror.objects["native-c"].replica.value()["blocked"] == [12]
    objects.receive(12, {"facts": {"native-c": {"n": 1}}})
    objects.processes_ended({12})
    value = mirror.objects["native-c"].replica.value()
    assert value["blocked"] == [] and value["ended"] == [12]
    count = len(changes)
    objects.receive(12, {"facts": {"native-c": {"n": 1}}})  # the same merged value as before
    assert len(changes) == count


def test_unknown_kinds_locks_and_bad_messages_change_nothing(natives):
    objects, mirror, changes = natives
    objects.receive(
        10, {"objects": [{"oid": "x", "kind": "Nope"}, {"oid": "l", "kind": "Lock"}, {"kind": "TestCounter"}]}
    )
    objects.receive(10, {"facts": ["not", "a", "dict"], "objects": None})
    objects.waiting(10, "not a dict")
    assert mirror.objects == {} and changes == []


def test_native_kinds_other_than_locks_are_sampled_replicas():
    assert replica_for("Queue", "native") is SampledReplica
    assert replica_for("Pipe") is SampledReplica  # a kind no Manager serves
    assert replica_for("Queue", "manager") is not SampledReplica
    assert replica_for("Lock", "native") is not SampledReplica
