"""Property test: random changes to the shared dict and list, seen four ways, equal a plain dict and list.

The server runs in this process: ``create_app()`` served by the real threaded server on a
free port, with its real Manager (forkserver) and change feed, and a real Socket.IO client
(:class:`support.LiveClient`) over a websocket. In-process was chosen over a subprocess
server driven by a registered task because the test then drives the very proxies the
server hands to workers (``dashboard.backend.state.dict`` / ``.list``): every mutating method is
called directly, each call's result or exception is compared with a plain ``dict`` /
``list`` at once, and hypothesis can shrink a failing sequence to the one call that
differs, none of which a task reporting through its output would allow.

After each random sequence: the proxy's contents, the plain object, ``GET /api/state``
(the server's mirror), ``GET /api/state?source=manager`` (the Manager's own contents) and
the client's replica (``snapshot`` + ``changes``, through :class:`sharedstate.replica.StateReplica`)
must all agree, and every call must have returned or raised exactly as on the plain object.
"""

from __future__ import annotations

import threading
import types
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import Api, LiveClient
from test_containers import outcome

from sharedstate.encoding import encode_list, encode_pairs
from webapp import create_app
from webapp.serving import make_threaded_server


class LiveServer:
    """``create_app()`` served on a free port in this process, with one connected client."""

    def __init__(self) -> None:
        self.app = create_app({"MAX_WORKERS": 2})
        self.dashboard = self.app.extensions["mpscope"]
        self.http = make_threaded_server(self.app, "127.0.0.1", 0)
        self.thread = threading.Thread(target=self.http.serve_forever, name="test-http", daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.http.server_port}"
        self.api = Api(types.SimpleNamespace(url=self.url, token=None))  # GETs need only the URL
        self.client = LiveClient(self.url)
        self.client.wait(lambda: self.client.replica.version is not None, what="the first snapshot")

    @property
    def shared_dict(self) -> Any:
        return self.dashboard.backend.state.dict

    @property
    def shared_list(self) -> Any:
        return self.dashboard.backend.state.list

    def close(self) -> None:
        self.client.close()
        self.api.close()
        self.http.shutdown()
        self.http.server_close()
        self.thread.join(10)
        self.dashboard.close()


@pytest.fixture(scope="module")
def live() -> Iterator[LiveServer]:
    server = LiveServer()
    yield server
    server.close()


def in_place(method: Callable, arg: Any) -> None:
    """``l += x`` / ``l *= n``: the result is the list itself (a proxy's is the proxy), not compared."""
    method(arg)


# -- the changes ------------------------------------------------------------------------------
# Equal keys of different types (1, 1.0, True) and unhashable ones are in on purpose.
keys = st.one_of(st.integers(-2, 3), st.sampled_from(["a", "b", 1.0, 3.0, True, 0.5, ("t", 1)]))
values = st.one_of(st.integers(-3, 3), st.sampled_from(["x", "y", None, 2.0, (1, "t"), b"b"]))
sortable = st.integers(-3, 3)  # sort() also gets lists mixing ints and str, and must fail alike
index = st.one_of(st.integers(-6, 6), st.sampled_from([10**20, -(10**20), 2**63]))
pair = st.one_of(st.tuples(keys, values), st.tuples(keys), st.tuples(keys, values, values))
bad_key = st.just([["unhashable"], 1])
pairs = st.lists(st.one_of(pair, bad_key), max_size=4)
small_slice = st.builds(
    slice, st.integers(-5, 5) | st.none(), st.integers(-5, 5) | st.none(), st.sampled_from([None, 1, 2, -1])
)

DICT_OPS: dict[str, Any] = {
    "d[k] = v": (st.tuples(keys, values), lambda d, k, v: d.__setitem__(k, v)),
    "del d[k]": (st.tuples(keys), lambda d, k: d.__delitem__(k)),
    "d.pop(k)": (st.tuples(keys), lambda d, k: d.pop(k)),
    "d.pop(k, v)": (st.tuples(keys, values), lambda d, k, v: d.pop(k, v)),
    "d.popitem()": (st.tuples(), lambda d: d.popitem()),
    "d.setdefault(k, v)": (st.tuples(keys, values), lambda d, k, v: d.setdefault(k, v)),
    "d.update(pairs)": (st.tuples(pairs), lambda d, p: d.update(p)),
    "d.update(mapping, **kw)": (
        st.tuples(st.dictionaries(keys, values, max_size=3), st.dictionaries(st.sampled_from("pq"), values)),
        lambda d, m, kw: d.update(m, **kw),
    ),
    "d.clear()": (st.tuples(), lambda d: d.clear()),
}
LIST_OPS: dict[str, Any] = {
    "l.append(v)": (st.tuples(values), lambda l, v: l.append(v)),
    "l.extend(vs)": (st.tuples(st.lists(values, max_size=3)), lambda l, vs: l.extend(vs)),
    "l.insert(i, v)": (st.tuples(index, values), lambda l, i, v: l.insert(i, v)),
    "l[i] = v": (st.tuples(index, values), lambda l, i, v: l.__setitem__(i, v)),
    "l[s] = vs": (
        st.tuples(small_slice, st.lists(values, max_size=3)),
        lambda l, s, vs: l.__setitem__(s, vs),
    ),
    "del l[i]": (st.tuples(index), lambda l, i: l.__delitem__(i)),
    "del l[s]": (st.tuples(small_slice), lambda l, s: l.__delitem__(s)),
    "l.pop()": (st.tuples(), lambda l: l.pop()),
    "l.pop(i)": (st.tuples(index), lambda l, i: l.pop(i)),
    "l.remove(v)": (st.tuples(values), lambda l, v: l.remove(v)),
    "l.sort()": (st.tuples(), lambda l: l.sort()),
    "l.sort(key=str, reverse=True)": (st.tuples(), lambda l: l.sort(key=str, reverse=True)),
    "l.reverse()": (st.tuples(), lambda l: l.reverse()),
    "l += vs": (st.tuples(st.lists(values, max_size=3)), lambda l, vs: in_place(l.__iadd__, vs)),
    "l *= n": (st.tuples(st.integers(-1, 2)), lambda l, n: in_place(l.__imul__, n)),
    "l.clear()": (st.tuples(), lambda l: l.clear()),
}
changes = st.one_of(
    *(st.tuples(st.just(name), args) for name, (args, _) in DICT_OPS.items()),
    *(st.tuples(st.just(name), args) for name, (args, _) in LIST_OPS.items()),
    st.tuples(st.just("l.extend(ints)"), st.lists(sortable, max_size=4)),
)
LIST_OPS["l.extend(ints)"] = (None, lambda l, vs: l.extend(vs))


def apply(change: tuple, d: Any, l: Any) -> tuple[str, Any]:
    name, args = change
    if name in DICT_OPS:
        return outcome(lambda: DICT_OPS[name][1](d, *args))
    return outcome(lambda: LIST_OPS[name][1](l, *args))


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(changes, max_size=30))
def test_random_changes_look_the_same_everywhere(live: LiveServer, sequence: list) -> None:
    d, l = live.shared_dict, live.shared_list
    d.clear()
    l.clear()
    plain_d: dict = {}
    plain_l: list = []
    for change in sequence:
        got = apply(change, d, l)
        want = apply(change, plain_d, plain_l)
        # a proxy hands back copies of what it returns (a list proxy's `l += x` returns no proxy)
        assert got == want, f"{change[0]} with {change[1]!r}: proxy {got!r}, plain {want!r}"
    assert d.copy() == plain_d and list(d.keys()) == list(plain_d)  # same keys, types and order
    assert [type(k) for k in d.copy()] == [type(k) for k in plain_d]
    assert l[:] == plain_l
    want_d, want_l = encode_pairs(plain_d), encode_list(plain_l)

    manager = live.api.state("manager")
    assert manager["dict"] == want_d and manager["list"] == want_l
    assert manager["objects"]["d"]["value"] == want_d and manager["objects"]["l"]["value"] == want_l
    mirror = live.api.wait_version(manager["version"])
    assert mirror["version"] == manager["version"]
    assert mirror["dict"] == want_d and mirror["list"] == want_l
    assert mirror["objects"]["d"]["value"] == want_d and mirror["objects"]["l"]["value"] == want_l

    replica = live.client.replica
    live.client.wait(lambda: replica.version >= manager["version"], what=f"version {manager['version']}")
    with live.client.cond:
        assert replica.dict == want_d and replica.list == want_l
        assert replica.described()["d"]["writers"] == mirror["objects"]["d"]["writers"]
        assert replica.described()["l"]["writers"] == mirror["objects"]["l"]["writers"]


def test_state_sources_and_objects_answer_as_documented(live: LiveServer) -> None:
    live.shared_dict.clear()
    live.shared_dict[3] = "a"
    live.shared_dict[3.0] = "b"
    version = live.api.state("manager")["version"]
    live.api.wait_version(version)
    assert "error" in live.api.get_json("/api/state?source=bogus", status=400)
    one = live.api.get_json("/api/objects/d")
    assert (one["id"], one["kind"], one["value"]) == ("d", "dict", [[3, "b"]])
    assert one["version"] >= version
    assert live.api.get_json("/api/objects/l")["kind"] == "list"
    assert "error" in live.api.get_json("/api/objects/nope", status=404)


def test_a_proxy_stored_in_the_dict_is_shown_as_one_and_the_feed_goes_on(live: LiveServer) -> None:
    live.shared_dict.clear()
    live.shared_dict["e"] = [live.shared_list]
    live.shared_dict["after"] = 1
    manager = live.api.state("manager")  # was a 500 when the Manager's copy held a proxy
    shown = dict((k, v) for k, v in manager["dict"] if k == "e")["e"][0]
    assert shown == {"$type": "proxy", "repr": "<list proxy to l>"}
    mirror = live.api.wait_version(manager["version"])
    assert mirror["dict"] == manager["dict"]
    replica = live.client.replica
    live.client.wait(lambda: replica.version >= manager["version"], what="the client to pass the proxy")
    with live.client.cond:
        assert replica.dict == manager["dict"]
    assert live.shared_dict["e"][0][:] == live.shared_list[:]  # and it reads back as a working proxy
