"""Fast: ``GET /api/objects/<id>`` reads only what it answers (issue 23), in process.

A page of a 100,000-entry dict must visit only the chunks its entries are in: here every
other chunk's entries, and the replica's whole value, writers and JSON pieces, raise when
touched. The unpaged answer is written from the replica's cached JSON pieces (the value is
never built in Python): it must equal what the snapshot says of the object, after changes.
Runs of unchanged pieces keep their joined bytes from one snapshot to the next.
A joining client's missed changes are found walking back from the newest ones only.
"""

from __future__ import annotations

import json

import pytest
from inprocess import fake_app_fixture  # noqa: F401 -- the ``app`` fixture

from sharedstate.kinds.dicts import DictReplica
from sharedstate.kinds.values import ValueReplica
from webapp.dashboard import Dashboard
from webapp.snapshots import ChangeHistory, Grouper, grouped

pytestmark = pytest.mark.fast

ENTRIES = 100_000


@pytest.fixture
def big(app) -> DictReplica:
    """Object ``big``: a dict of 100,000 entries (written by PIDs 1-7), beside a Value."""
    dashboard: Dashboard = app.extensions["mpscope"]
    replica = DictReplica([[f"k{i}", i] for i in range(ENTRIES)], [i % 7 + 1 for i in range(ENTRIES)])
    dashboard.mirror.replace(
        3,
        {
            "big": ("dict", "big = m.dict()", replica, 4242, "manager"),
            "v": (
                "Value",
                "v = m.Value('i', 5)",
                ValueReplica({"typecode": "i", "value": 5}),
                None,
                "manager",
            ),
        },
    )
    return replica


class Untouchable:
    """Entries (a chunk's, or all of them) that may be counted but not read."""

    def __init__(self, count: int) -> None:
        self.count = count

    def __len__(self) -> int:
        return self.count

    def values(self):
        raise AssertionError("entries outside the page were read")

    __iter__ = __getitem__ = index = values


def forbid_whole(monkeypatch, replica: DictReplica, *names: str) -> None:
    for name in names:

        def refuse(*args, name=name):
            raise AssertionError(f"{name}() builds the whole object")

        monkeypatch.setattr(replica, name, refuse)


def only_chunks(monkeypatch, replica: DictReplica, offset: int, count: int) -> None:
    """Entries ``offset`` to ``offset + count`` may be read, nothing else of ``replica``."""
    first, last = offset // DictReplica.CHUNK, (offset + max(count, 1) - 1) // DictReplica.CHUNK
    for index, chunk in enumerate(replica.chunks):
        if not first <= index <= last:
            for name in ("keys", "values", "pids"):
                monkeypatch.setattr(chunk, name, Untouchable(len(chunk)))
    monkeypatch.setattr(replica, "where", Untouchable(len(replica.where)))  # counted only
    forbid_whole(monkeypatch, replica, "value", "writers", "json_pieces")


def test_a_page_of_a_big_dict_reads_only_its_chunks(client, big, monkeypatch):
    # across a chunk boundary (512 entries a chunk); the last page, shorter than its limit
    for offset, limit in ((70_000, 600), (ENTRIES - 3, 10)):
        with monkeypatch.context() as patch:
            only_chunks(patch, big, offset, limit)
            page = client.get(f"/api/objects/big?offset={offset}&limit={limit}").get_json()
        shown = range(offset, min(offset + limit, ENTRIES))
        assert page["total"] == ENTRIES and (page["offset"], page["limit"]) == (offset, limit)
        assert page["value"] == [[f"k{i}", i] for i in shown]
        assert page["writers"] == [i % 7 + 1 for i in shown]
    with monkeypatch.context() as patch:
        only_chunks(patch, big, ENTRIES, 0)  # past the end: every chunk is only counted
        beyond = client.get(f"/api/objects/big?offset={ENTRIES + 5}&limit=10").get_json()
    assert beyond["value"] == [] and beyond["total"] == ENTRIES


def test_the_unpaged_object_is_the_snapshots_written_from_its_pieces(app, client, big, monkeypatch):
    mirror = app.extensions["mpscope"].mirror
    mirror.apply_ops(
        [
            {"seq": 4, "object": "big", "op": "set", "key": "k5", "value": "changed", "pid": 9},
            {"seq": 5, "object": "big", "op": "del", "key": "k6", "pid": 9},
            {"seq": 6, "object": "big", "op": "set", "key": "new", "value": [1, "ü"], "pid": 8},
        ]
    )
    snapshot = json.loads(client.get("/api/state").get_data())["objects"]
    forbid_whole(monkeypatch, big, "value", "writers", "texts")
    answer = client.get("/api/objects/big")
    assert answer.status_code == 200 and answer.is_json
    whole = json.loads(answer.get_data())
    assert whole == {"id": "big", "version": 6, **snapshot["big"]}
    assert whole["value"][5] == ["k5", "changed"] and whole["value"][-1] == ["new", [1, "ü"]]
    assert len(whole["value"]) == len(whole["writers"]) == ENTRIES
    assert int(answer.headers["Content-Length"]) == len(answer.get_data())
    # fields= keeps the named ones, in that order
    only = client.get("/api/objects/big?fields=writers,kind")
    assert list(json.loads(only.get_data())) == ["writers", "kind"]
    assert json.loads(only.get_data())["writers"] == snapshot["big"]["writers"]


def test_a_small_object_unpaged_is_as_the_mirror_describes_it(app, client, big):
    mirror = app.extensions["mpscope"].mirror
    assert client.get("/api/objects/v").get_json() == mirror.object("v")
    assert client.get("/api/objects/v?fields=value,id").get_json() == {
        "value": {"typecode": "i", "value": 5},
        "id": "v",
    }
    for bad in ("nope", "value,nope", ","):
        refused = client.get(f"/api/objects/v?fields={bad}")
        assert refused.status_code == 400 and "fields" in refused.get_json()["error"]
    missing = client.get("/api/objects/gone")
    assert missing.status_code == 404 and "gone" in missing.get_json()["error"]


def test_the_changes_since_a_snapshot_are_those_a_full_scan_finds():
    """``ChangeHistory.since`` walks back from the newest payload only as far as it must (it
    runs under the lock pushes take): the same ops as every payload scanned, gaps included."""
    history = ChangeHistory()
    payloads, seq = [], 0
    for size, gap in [(3, 0), (1, 2), (5, 0), (2, 4), (1, 0), (4, 1)]:
        first = seq + gap
        ops = [{"seq": first + i} for i in range(1, size + 1)]
        seq = ops[-1]["seq"]
        payloads.append({"from": first, "to": seq, "ops": ops})
        history.add(payloads[-1])
    for version in range(seq + 2):
        found = history.since(version)
        scanned = [op for p in payloads if p["to"] > version for op in p["ops"] if op["seq"] > version]
        assert found == ({} if version >= seq else {"from": version, "to": seq, "ops": scanned})


def test_a_snapshot_after_a_few_changes_joins_only_the_runs_they_are_in():
    """``Grouper`` reuses the bytes of every run of pieces that did not change: a 100,000-entry
    dict changed in one entry and grown by one costs a join of two runs, not of 2 MB."""
    replica = DictReplica([[f"k{i}", i] for i in range(ENTRIES)], [1] * ENTRIES)
    group = Grouper()
    value, _ = replica.json_pieces()
    first = group(value)
    assert b"".join(first) == b"".join(value) and group.joined == len(b"".join(value))
    replica.apply({"op": "set", "key": "k50000", "value": "changed", "pid": 2})
    replica.apply({"op": "set", "key": "new", "value": 1, "pid": 2})
    before = group.joined
    value, _ = replica.json_pieces()
    second = group(value)
    assert b"".join(second) == b"".join(value)
    assert json.loads(b"".join(second))[50_000] == ["k50000", "changed"]
    assert group.joined - before < 2 * 200 * 1024  # the changed run and the last one
    assert sum(a is b for a, b in zip(first, second, strict=False)) >= len(first) - 2
    pieces = [bytes([65 + i % 26]) * n for i, n in enumerate([1, 5, 0, 40, 3, 100, 2, 2, 60] * 50)]
    for size in (1, 4, 50, 1000):  # any pieces, any size: the same bytes in the same order
        assert b"".join(Grouper(size)(pieces)) == b"".join(pieces) == b"".join(grouped(pieces, size))
