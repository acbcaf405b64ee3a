"""Checks that every copy of the shared state agrees, and that no acknowledged change was lost."""

from __future__ import annotations

from testkit.client import SocketClient, dict_of
from testkit.server import Server
from testkit.waiting import wait_for

PING_INTERVAL = 25  # Engine.IO's default, which the app keeps


def assert_same_state(server: Server, watchers: list[SocketClient], timeout: float = 20.0) -> dict:
    """Wait for quiet, then assert Manager == /api/state == every watcher; return the figures."""
    state = server.wait_settled(timeout)
    manager = server.state("manager")
    assert state["version"] == manager["version"]
    assert state["list"] == manager["list"], "the mirror's list differs from the Manager's"
    assert dict_of(state["dict"]) == dict_of(manager["dict"]), "the mirror's dict differs from the Manager's"
    table = {w["pid"]: (w["state"], w["signal"], w["exitcode"]) for w in state["workers"]}
    for watcher in watchers:
        watcher.wait_version(state["version"], timeout)

        def same_table(watcher: SocketClient = watcher) -> bool:
            seen = {pid: (w["state"], w["signal"], w["exitcode"]) for pid, w in watcher.workers.items()}
            return seen == table

        watcher.wait(same_table, timeout, "the client's worker table to match /api/state")
        with watcher.cond:
            assert watcher.version == state["version"]
            assert watcher.list == state["list"], "a client's list differs from /api/state"
            assert watcher.dict == dict_of(state["dict"]), "a client's dict differs from /api/state"
            replayed = {oid: obj["value"] for oid, obj in watcher.replica.described().items()}
            served = {oid: obj["value"] for oid, obj in state["objects"].items()}
            assert replayed == served, "a client's shared objects differ from /api/state"
    return {"version": state["version"], "list": len(state["list"]), "dict": len(state["dict"])}


def burst_losses(pairs: list, keys: int) -> tuple[int, int]:
    """Check the ``burst`` keys of killed workers; return ``(mutations checked, lost)``.

    A burst worker writes ``d[f"{pid}:{i % keys}"] = i`` for i = 0, 1, 2, ... and waits for
    each write to be acknowledged before the next. So after its last acknowledged write ``M``
    its keys hold exactly the values ``M-keys+1 .. M``: any other picture means a change the
    Manager acknowledged was lost (or one never made appeared).
    """
    by_pid: dict[str, dict[int, int]] = {}
    for k, v in pairs:
        if isinstance(k, str) and ":" in k:
            pid, index = k.split(":")
            by_pid.setdefault(pid, {})[int(index)] = v
    checked = lost = 0
    for slots in by_pid.values():
        last = max(slots.values())
        expected = {i % keys: i for i in range(max(0, last - keys + 1), last + 1)}
        lost += sum(1 for index, value in expected.items() if slots.get(index) != value)
        lost += len(set(slots) - set(expected))
        checked += last + 1
    return checked, lost


def after_storm(
    srv: Server, watchers: list[SocketClient], keys: int, base_fds: int, base_threads: int
) -> dict:
    """After a storm of burst writers: no change lost, no zombie, descriptors and threads back.

    Returns the figures every storm reports (mutations checked, reconnects, drifts).
    """
    checked, lost = burst_losses(srv.state("manager")["dict"], keys)
    assert lost == 0, f"{lost} acknowledged changes lost"
    wait_for(lambda: not srv.zombies(), 5, "no zombies")
    # a client that reconnected leaves Engine.IO's ping thread asleep for up to 25 s
    reconnected = any(w.connects > 1 for w in watchers)
    srv.wait_baseline(base_fds, base_threads, timeout=PING_INTERVAL + 15 if reconnected else 15)
    return {
        "mutations_checked": checked,
        "lost_acknowledged_changes": lost,
        "clients": len(watchers),
        "client_reconnects": sum(w.connects - 1 for w in watchers),
        "zombies": len(srv.zombies()),
        "fd_drift": srv.fds() - base_fds,
        "thread_drift": srv.threads() - base_threads,
    }
