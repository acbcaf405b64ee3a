"""The chunked JSON of a big dict or list equals a full re-encode, after any ops, however read.

DictReplica and ListReplica keep their JSON in pieces (chunks re-encoded only when they
changed: ``Replica.json_pieces``), and the mirror and ``SnapshotCache`` hand those pieces
out as they are. Here, with tiny chunks so that every op crosses chunk boundaries, random
ops are applied and, after each few, the pieces joined must be exactly the JSON of
``value()`` and ``writers()``; a page must be the same slice of them; and the mirror's
snapshot (socket and REST) must parse to what ``snapshot()`` says.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharedstate.kinds.dicts import DictReplica
from sharedstate.kinds.lists import ListReplica
from webapp.mirror import SharedStateMirror
from webapp.snapshots import SnapshotCache, grouped

SEP = (",", ":")
# (no booleans: a plain dict takes True for 1, where the journal would name the key as stored)
keys = st.one_of(st.integers(-3, 12), st.just(1.5), st.sampled_from(["a", "ü", '"q"', "</x>"]), st.none())
values = st.one_of(st.none(), st.integers(-5, 5), st.text(max_size=3), st.lists(st.integers(), max_size=2))
pids = st.one_of(st.integers(1, 4), st.none())


def joined(pieces: list[bytes]) -> str:
    return b"".join(pieces).decode()


def assert_pieces_equal_full(replica) -> None:
    value, writers = replica.json_pieces()
    assert joined(value) == json.dumps(replica.value(), separators=SEP)
    assert joined(writers) == json.dumps(replica.writers(), separators=SEP)


dict_ops = st.lists(
    st.one_of(
        st.tuples(st.just("set"), keys, values, pids),
        st.tuples(st.just("del"), keys),
        st.tuples(st.just("clear")),
        st.tuples(st.just("read")),
    ),
    max_size=80,
)


@pytest.fixture(autouse=True)
def tiny_chunks(monkeypatch):
    monkeypatch.setattr(DictReplica, "CHUNK", 3)
    monkeypatch.setattr(ListReplica, "CHUNK", 3)


@settings(max_examples=200, deadline=None)
@given(start=st.lists(st.tuples(keys, values), max_size=10), ops=dict_ops)
def test_dict_pieces_equal_a_full_encode_after_random_ops(start, ops):
    plain = dict(start)
    replica = DictReplica([[k, v] for k, v in plain.items()])
    expected_order = list(plain)
    for op in ops:
        if op[0] == "set":
            _, key, value, pid = op
            replica.apply({"op": "set", "key": key, "value": value, "pid": pid})
            plain[key] = value
        elif op[0] == "del":
            replica.apply({"op": "del", "key": op[1], "pid": 1})
            plain.pop(op[1], None)
        elif op[0] == "clear":
            replica.apply({"op": "clear", "pid": 1})
            plain.clear()
        else:
            assert_pieces_equal_full(replica)
        expected_order = list(plain)
    assert [k for k, _ in replica.value()] == expected_order  # insertion order, as a dict keeps it
    assert [v for _, v in replica.value()] == list(plain.values())
    assert_pieces_equal_full(replica)
    for offset, end in ((0, 2), (1, 5), (3, None), (len(plain), None)):
        pairs, writers = replica.page(offset, end)
        assert pairs == replica.value()[offset:end] and writers == replica.writers()[offset:end]


list_ops = st.lists(
    st.one_of(
        st.tuples(st.just("append"), values),
        st.tuples(st.just("extend"), st.lists(values, max_size=5)),
        st.tuples(st.just("insert"), st.integers(0, 30), values),
        st.tuples(st.just("set"), st.integers(0, 30), values),
        st.tuples(st.just("del"), st.integers(0, 30)),
        st.tuples(st.just("clear")),
        st.tuples(st.just("replace"), st.lists(values, max_size=8)),
        st.tuples(st.just("read")),
    ),
    max_size=80,
)


@settings(max_examples=200, deadline=None)
@given(start=st.lists(values, max_size=10), ops=list_ops, pid=pids)
def test_list_pieces_equal_a_full_encode_after_random_ops(start, ops, pid):
    plain = list(start)
    replica = ListReplica(plain)
    for op in ops:
        name = op[0]
        if name == "read":
            assert_pieces_equal_full(replica)
            continue
        if name in ("insert", "set", "del"):  # indexes as the journal resolves them
            if name != "insert" and not plain:
                continue
            index = min(op[1], len(plain) - (name != "insert"))
        if name == "append":
            plain.append(op[1])
            replica.apply({"op": name, "value": op[1], "pid": pid})
        elif name == "extend":
            plain.extend(op[1])
            replica.apply({"op": name, "values": op[1], "pid": pid})
        elif name == "insert":
            plain.insert(index, op[2])
            replica.apply({"op": name, "index": index, "value": op[2], "pid": pid})
        elif name == "set":
            plain[index] = op[2]
            replica.apply({"op": name, "index": index, "value": op[2], "pid": pid})
        elif name == "del":
            del plain[index]
            replica.apply({"op": name, "index": index, "pid": pid})
        elif name == "clear":
            plain.clear()
            replica.apply({"op": name, "pid": pid})
        else:
            plain = list(op[1])
            replica.apply({"op": name, "values": op[1], "pid": pid})
    assert replica.value() == plain
    assert_pieces_equal_full(replica)


def test_grouped_keeps_the_bytes_and_their_order():
    pieces = [bytes([65 + i % 26]) * n for i, n in enumerate([1, 5, 0, 40, 3, 100, 2, 2, 60])]
    for size in (1, 4, 50, 1000):
        groups = grouped(pieces, size)
        assert b"".join(groups) == b"".join(pieces)
        assert all(len(g) < size + 100 for g in groups)


def test_a_snapshot_of_the_mirror_parses_to_what_snapshot_says(monkeypatch):
    monkeypatch.setattr("webapp.mirrored.REUSE", 0)  # a fresh snapshot per version
    mirror = SharedStateMirror()
    d = DictReplica([[f"k{i}", i] for i in range(10)], [7] * 10)
    mirror.replace(
        5,
        {
            "d": ("dict", "shared dict d", d, None, "manager"),
            "l": ("list", "shared list l", ListReplica(list(range(7))), None, "manager"),
            "9:1": ("dict", "e = m.dict()", DictReplica([]), 9, "manager"),
        },
    )
    cache = SnapshotCache(mirror)
    for seq, op in enumerate(
        [
            {"object": "d", "op": "set", "key": "k3", "value": "x", "pid": 2},
            {"object": "d", "op": "del", "key": "k0", "pid": 2},
            {"object": "d", "op": "set", "key": "new", "value": [1], "pid": 3},
            {"object": "l", "op": "del", "index": 0, "pid": 3},
            {"object": "l", "op": "append", "value": "z", "pid": 3},
        ],
        start=6,
    ):
        mirror.apply_ops([{**op, "seq": seq}])
        snap, full = cache.get(), mirror.snapshot()
        socket = json.loads(b"{" + b"".join(snap.socket_members))
        assert socket == {"version": seq, "objects": full["objects"]}
        rest = json.loads(snap.head({"locks": []}) + b"".join(snap.members))
        mirrored = ("version", "objects", "list", "dict", "writers")
        assert rest == {"locks": [], **{k: full[k] for k in mirrored}}
        only = json.loads(b"".join(snap.fields(["dict", "version", "x"], {"x": 1})))
        assert only == {"dict": full["dict"], "version": seq, "x": 1}
    assert mirror.object("d", 1, 2)["value"] == full["objects"]["d"]["value"][1:3]
    assert mirror.object("d", 1, 2)["total"] == 10
    assert mirror.object("d", leave_out=frozenset({"value", "writers"}))["value"] is None
