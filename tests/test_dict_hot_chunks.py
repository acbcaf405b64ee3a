"""A shared dict's hot chunks (sharedstate/kinds/dict_replica.py): once a chunk has been
written to ``HOT`` times it finds an entry by a dict of positions instead of a scan; the
entries, their order, writers and JSON are the same as a plain dict's, through updates,
deletions (which shift positions), appends to a hot chunk, tagged keys and a clear."""

from __future__ import annotations

import json
import random

from sharedstate.kinds import dict_replica
from sharedstate.kinds.dict_replica import DictReplica


def _key(rng: random.Random):
    k = rng.randrange(300)
    if k % 7 == 0:
        return {"__mpscope__": "tuple", "items": [k, "x"]}  # a tagged (unhashable) encoded key
    return f"k{k}" if k % 2 else k


def _canon(encoded):
    return json.dumps(encoded, sort_keys=True) if isinstance(encoded, dict) else encoded


def test_hot_chunks_agree_with_a_plain_dict(monkeypatch):
    monkeypatch.setattr(DictReplica, "CHUNK", 64)
    rng = random.Random(5)
    replica = DictReplica([])
    model: dict = {}  # canonical key -> (encoded key, value, writer), in insertion order
    for step in range(20_000):
        key = _key(rng)
        if rng.random() < 0.005:
            replica.apply({"op": "del", "key": key, "pid": 1})
            model.pop(_canon(key), None)
        else:
            replica.apply({"op": "set", "key": key, "value": step, "pid": 10 + step % 3})
            canon = _canon(key)
            if canon in model:
                model[canon] = (model[canon][0], step, 10 + step % 3)
            else:
                model[canon] = (key, step, 10 + step % 3)
        if step == 10_000:
            replica.apply({"op": "clear", "pid": 1})
            model.clear()
    assert any(chunk.index is not None for chunk in replica.chunks)  # the fast path was taken
    assert replica.value() == [[k, v] for k, v, _ in model.values()]
    assert replica.writers() == [w for _, _, w in model.values()]
    text = b"".join(replica.json_pieces()[0])
    assert json.loads(text) == [[k, v] for k, v, _ in model.values()]


def test_a_chunk_becomes_hot_only_after_many_updates():
    replica = DictReplica([[f"k{i}", i] for i in range(100)])
    for _ in range(dict_replica.HOT - 1):
        replica.apply({"op": "set", "key": "k5", "value": 0, "pid": 1})
    assert replica.chunks[0].index is None  # written once each: no positions kept
    replica.apply({"op": "set", "key": "k5", "value": 0, "pid": 1})
    assert replica.chunks[0].index is not None
    replica.apply({"op": "del", "key": "k0", "pid": 1})
    assert replica.chunks[0].index is None  # positions shifted: built again if still hot
