"""Values a worker writes that JSON cannot carry are shown typed and truncated, and never break
the stream for other clients (the ``odd_values`` task writes them; the page side is tested in
test_security_browser.py)."""

from __future__ import annotations

import json

from reliability_support import (  # noqa: F401 -- servers_fixture provides `servers`
    Server,
    Watcher,
    assert_same_state,
    dict_of,
    key,
    servers_fixture,
    wait_for,
)


def strict_json(text: str):
    """Parse JSON that must be standard: NaN and Infinity literals are refused."""

    def refuse(name: str):
        raise AssertionError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def test_values_json_cannot_carry_are_typed_truncated_and_do_not_break_the_stream(servers):
    srv: Server = servers(max_workers=4)
    before, other = Watcher(srv), Watcher(srv)
    try:
        pid = srv.spawn(1, "odd_values")[0]["pid"]
        info = wait_for(lambda: (w := srv.workers()[pid])["state"] == "exited" and w, 15, "odd_values")
        assert info["exitcode"] == 0, info["error"]
        # the worker has exited once the Manager holds every value; the server's copy follows
        entries = wait_for(
            lambda: (
                (e := dict_of(strict_json(srv.request("GET", "/api/state").text)["dict"]))
                and key("<b>html key</b>") in e
                and e
            ),
            10,
            "every odd value in /api/state",
        )
        assert entries[key("set")] == {"$type": "set", "items": [1, 2, 3]}
        assert entries[key("bytes")] == {"$type": "bytes", "repr": "b'\\x00\\xff'"}
        assert entries[key("object")] == {"$type": "Opaque", "repr": f"<Opaque from {pid}>"}
        assert entries[key("nan")] == {"$type": "float", "repr": "nan"}
        assert entries[key("inf")] == {"$type": "float", "repr": "inf"}
        big = entries[key("big list")]
        assert big == {"$type": "list", "items": list(range(100)), "truncated": True, "length": 100_000}
        assert entries[key("html")] == "<img src=x onerror=alert(1)>"  # text; the page renders it as text
        assert entries[key("<b>html key</b>")] == "a key is text too"
        manager = strict_json(srv.request("GET", "/api/state?source=manager").text)
        assert dict_of(manager["dict"]) == entries

        # the stream goes on: more changes reach both clients, and a late client gets it all too
        srv.spawn(2, "burst", n=300, keys=30)
        late = Watcher(srv)
        try:
            assert_same_state(srv, [before, other, late])
            for watcher in (before, other, late):
                assert watcher.dict[key("big list")] == big
                assert watcher.dict[key("nan")] == {"$type": "float", "repr": "nan"}
        finally:
            late.close()
    finally:
        before.close()
        other.close()
