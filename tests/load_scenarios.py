"""Load scenarios (short in the tests, long in ``chaos/run.py``): storms, stuck clients, soak.

Each takes a started :class:`testkit.server.Server`, applies its load, asserts the invariants
and returns the figures for the chaos report.
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from hostile_clients import read_until, stuck_client
from state_checks import PING_INTERVAL, after_storm, assert_same_state

from testkit.client import SocketClient as Watcher
from testkit.rest import ENDED, LIVE
from testkit.server import Server
from testkit.waiting import is_alive, wait_for

WEBSOCKET_TIMEOUT = 45  # webapp/serving.py: a silent websocket peer is dropped after this


def spawn_storm(srv: Server, total: int, max_workers: int, sockets: int = 4, threads: int = 48) -> dict:
    """Fire ``total`` spawn and kill requests at once, over REST and Socket.IO.

    Checks: each gets a definite answer (201/409 or 202/404), no more than ``max_workers``
    worker processes ever run (sampled from /proc all along), and afterwards the worker
    table's live PIDs are exactly the worker processes that run.
    """
    rng = random.Random()
    clients = [Watcher(srv) for _ in range(sockets)]
    helpers = srv.helpers()
    known: list[int] = []
    answers: dict[str, int] = {}
    most = 0
    stop = threading.Event()
    lock = threading.Lock()

    def sample() -> None:
        nonlocal most
        while not stop.is_set():
            running = sum(1 for p in srv.descendants() if p.pid not in helpers and is_alive(p))
            most = max(most, running)

    def spawn_body() -> dict:
        seconds = rng.choice([0.0, 0.05, 0.3, 30.0])
        return {"count": rng.randint(1, 3), "task": "sleep", "params": {"seconds": seconds}}

    def job(kind: str) -> str:
        if kind == "rest-spawn":
            response = srv.request("POST", "/api/workers", json=spawn_body())
            status, body = response.status_code, response.json()
        elif kind == "socket-spawn":
            body = rng.choice(clients).call("spawn", spawn_body())
            status = body["status"]
        else:
            with lock:
                pid = rng.choice(known) if known else 1
            if kind == "rest-kill":
                response = srv.kill(pid, rng.choice(["KILL", "TERM"]))
                status, body = response.status_code, response.json()
            else:
                body = rng.choice(clients).call("kill", {"pid": pid, "signal": "KILL"})
                status = body["status"]
        expected = (201, 409) if kind.endswith("spawn") else (202, 404)
        assert status in expected, f"{kind}: {status} {body}"
        if status == 201:
            with lock:
                for info in body["workers"]:
                    known.append(info["pid"])
                    srv.track(info["pid"])
        return f"{kind} {status}"

    kinds = ["rest-spawn"] * 45 + ["socket-spawn"] * 35 + ["rest-kill"] * 10 + ["socket-kill"] * 10
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        with ThreadPoolExecutor(threads) as pool:
            results = list(pool.map(job, [rng.choice(kinds) for _ in range(total)]))
        for result in results:
            answers[result] = answers.get(result, 0) + 1

        def table_matches() -> bool:
            live = {w["pid"] for w in srv.state()["workers"] if w["state"] in LIVE}
            return live == {p.pid for p in srv.descendants() if p.pid not in helpers and is_alive(p)}

        wait_for(table_matches, 10, "the worker table to match the running processes")
        srv.kill_all("KILL")
    finally:
        stop.set()
        sampler.join(10)
        for client in clients:
            client.close()
    assert most <= max_workers, f"{most} workers ran at once, --max-workers {max_workers}"
    wait_for(lambda: not srv.worker_processes(), 10, "every worker process to end")
    assert all(w["state"] in ENDED for w in srv.state()["workers"])
    wait_for(lambda: not srv.zombies(), 5, "no zombies")
    return {"requests": total, "answers": answers, "spawned": len(known), "most_running": most}


# A client that reads nothing misses the server's ping (sent after PING_INTERVAL) and is
# dropped 20 s later: a stuck client must read again within that, so the writes stop by then.
STUCK_DEADLINE = PING_INTERVAL + 10.0


def stuck_clients(srv: Server, seconds: float, stuck: int = 1, workers: int = 4) -> dict:
    """Clients that stop reading while burst workers write flat out for ``seconds``.

    Checks: a reading client keeps up (it catches up as soon as the writes stop), the
    server answers promptly all along, its memory stops growing once the stuck clients'
    queues are full, and a stuck client that reads again is sent a fresh snapshot.

    The writes go on past ``seconds`` until every stuck client was held back: how much a
    stuck socket absorbs before the server's queue grows depends on the kernel's buffer
    autotuning and on how fast this machine writes, so a fixed time is not enough. They
    stop by ``STUCK_DEADLINE`` after the stuck clients connected (``seconds`` must be below
    it), and the stuck clients read again at once, while the reading client catches up.
    """
    assert seconds < STUCK_DEADLINE, f"stuck clients that read nothing for {seconds} s miss a ping"
    watcher = Watcher(srv, reconnect=True)  # a CPU-starved Python client may miss a ping, as in kill_storm
    srv.spawn(1, "burst", n=10, keys=10)
    srv.wait_settled()
    base_fds, base_threads = srv.fds(), srv.threads()
    raws = [stuck_client(srv) for _ in range(stuck)]
    connected = time.monotonic()
    try:
        pids = [w["pid"] for w in srv.spawn(workers, "burst", n=10_000_000, keys=5000)]
        started = time.monotonic()
        slowest = 0.0
        rss_half = None
        held_back = 0
        while (elapsed := time.monotonic() - started) < seconds or held_back < len(raws):
            t = time.monotonic()
            srv.health()
            slowest = max(slowest, time.monotonic() - t)
            if rss_half is None and elapsed >= seconds / 2:
                rss_half = srv.rss()
            held_back = srv.log().count("is not reading")
            assert time.monotonic() - connected < STUCK_DEADLINE, (
                f"only {held_back} of {len(raws)} stuck clients held back within {STUCK_DEADLINE} s"
            )
        rss_end = srv.rss()
        for pid in pids:
            assert srv.kill(pid, "KILL").status_code == 202
        stopped = time.monotonic()
        with ThreadPoolExecutor(len(raws)) as pool:  # read again: a snapshot comes once drained
            reads = [pool.submit(read_until, ws, lambda m: m.startswith('42["snapshot"'), 30) for ws in raws]
            version = srv.wait_settled()["version"]
            watcher.wait_version(version, 15)
            caught_up = time.monotonic() - stopped
            resynced = sum(1 for read in reads if read.result())
    finally:
        for ws in raws:
            ws.close()
        watcher.close()
    srv.wait_baseline(base_fds, base_threads)
    return {
        "seconds": seconds,
        "stuck_clients": stuck,
        "slowest_healthz_s": round(slowest, 3),
        "reader_caught_up_after_s": round(caught_up, 3),
        "rss_growth_second_half_mib": round((rss_end - (rss_half or rss_end)) / 2**20, 1),
        "rss_mib": round(rss_end / 2**20, 1),
        "held_back": held_back,
        "resynced_with_snapshot": resynced,
        "state_version": version,
    }


def reconnect_loop(
    srv: Server, clients: int, seconds: float, settle_threads: bool = False, abandoned: int = 0
) -> dict:
    """``clients`` Socket.IO clients connect, take their snapshot and disconnect, in a loop,
    while a worker writes: the server stays responsive, and its descriptors (at once) and
    threads come back once they are gone.

    Engine.IO (threading mode) gives each connection a ping thread that sleeps
    ``PING_INTERVAL`` seconds and cannot be woken, so each closed connection leaves one
    sleeping thread for up to 25 s: right after the loop the server may have up to one
    extra thread per connection made, and only ``settle_threads`` waits them out.

    ``abandoned`` raw clients connect at the end and then neither read, send nor close:
    with ``settle_threads`` the server must free them too (its websocket timeout, 45 s).
    """
    probe = Watcher(srv)
    probe.close()  # warm up the Socket.IO machinery before the baseline
    writer = srv.spawn(1, "burst", n=10_000_000, rate=500.0, keys=200)[0]["pid"]
    wait_for(lambda: srv.health()["version"] > 10, 10, "the writer")
    base_fds, base_threads = srv.fds(), srv.threads()
    raws = [stuck_client(srv) for _ in range(abandoned)]  # silent from now on
    stop = threading.Event()
    connections = [0] * clients
    errors: list[str] = []

    def loop(index: int) -> None:
        while not stop.is_set():
            try:
                watcher = Watcher(srv)
                try:
                    watcher.wait(lambda w=watcher: w.snapshots, 15, "a snapshot")
                finally:
                    watcher.close()
                connections[index] += 1
            except Exception as exc:  # noqa: BLE001 -- recorded, and the test fails on it
                errors.append(repr(exc))
                return

    threads = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(clients)]
    started = time.monotonic()
    try:
        for thread in threads:
            thread.start()
        slowest, samples = 0.0, []
        while (elapsed := time.monotonic() - started) < seconds:
            t = time.monotonic()
            srv.health()
            slowest = max(slowest, time.monotonic() - t)
            samples.append((elapsed, srv.rss()))
        stop.set()
        for thread in threads:
            thread.join(30)
        assert not errors, errors[:5]
        assert srv.kill(writer, "KILL").status_code == 202
        srv.wait_settled()
        made = sum(connections)
        # an abandoned client holds a descriptor and up to 4 threads until it times out; a few
        # more may be on their way out (a request handler finishing, a lagging-client recheck)
        srv.wait_baseline(base_fds + abandoned, base_threads + made + 4 * abandoned + 4, timeout=15)
        lingering = srv.threads() - base_threads
        if settle_threads:
            srv.wait_baseline(base_fds, base_threads, timeout=WEBSOCKET_TIMEOUT + 20)
    finally:
        stop.set()
        for ws in raws:
            ws.close()
    third = [rss for elapsed, rss in samples if elapsed >= seconds * 2 / 3]
    middle = [rss for elapsed, rss in samples if seconds / 3 <= elapsed < seconds * 2 / 3]
    return {
        "clients": clients,
        "seconds": seconds,
        "connections": made,
        "lingering_ping_threads": lingering,
        "abandoned_clients_freed": abandoned if settle_threads else 0,
        "slowest_healthz_s": round(slowest, 3),
        "rss_growth_last_third_mib": round((max(third) - max(middle)) / 2**20, 1) if middle else 0.0,
        "rss_mib": round(srv.rss() / 2**20, 1),
        "fd_drift": srv.fds() - base_fds,
        "thread_drift": srv.threads() - base_threads,
    }


def soak(srv: Server, seconds: float, clients: int = 3, keys: int = 20) -> dict:
    """Everything at once for ``seconds``: writers, printers, lock users, kills by SIGKILL and
    SIGTERM, replacements; then clients == /api/state == Manager and nothing leaked.

    A short first round (not counted) makes the server open what it opens once, such as a
    long-lived thread's Manager connection, before the descriptor and thread baseline.
    """
    rng = random.Random()
    watchers = [Watcher(srv, reconnect=True) for _ in range(clients)]
    kinds = [
        ("burst", {"n": 10_000_000, "keys": keys}),
        ("burst", {"n": 10_000_000, "rate": 2000.0, "keys": keys}),
        ("burst", {"n": 10_000_000, "rate": 500.0, "keys": keys}),
        ("printer", {"lines": 1_000_000, "interval": 0.001, "stream": "both"}),
        ("counter", {"n": 1_000_000, "lock": True}),
        ("append_pid", {"interval": 0.01}),
        ("crash", {"seconds": 0.05}),
        ("sleep", {"seconds": 0.1}),
    ]

    def round_of(duration: float) -> tuple[int, int]:
        killed = spawned = 0
        deadline = time.monotonic() + duration
        while time.monotonic() < deadline:
            live = [w for w in srv.state()["workers"] if w["state"] in LIVE]
            if len(live) < 12:
                task, params = rng.choice(kinds)
                response = srv.request("POST", "/api/workers", json={"task": task, "params": params})
                assert response.status_code in (201, 409), response.text
                if response.status_code == 201:
                    spawned += 1
                    srv.track(response.json()["workers"][0]["pid"])
            if live and rng.random() < 0.4:
                response = srv.kill(rng.choice(live)["pid"], rng.choice(["KILL", "KILL", "TERM"]))
                assert response.status_code in (202, 404), response.text
                killed += response.status_code == 202
        srv.kill_all("KILL")
        # a counter killed inside `with lock` leaves the lock held by a dead PID: release it
        for lock in srv.get_json("/api/locks")["locks"]:
            if lock["holder_pid"] is not None:
                assert lock["holder_alive"] is False, lock
                assert srv.request("POST", f"/api/locks/{lock['name']}/release").status_code == 200
        return spawned, killed

    try:
        # warm up: a lock waiter that dies makes the monitor thread open its Manager
        # connection (kept for the thread's life), then one short round of everything
        def lock() -> dict:
            found = [lk for lk in srv.get_json("/api/locks")["locks"] if lk["name"] == "warm-up"]
            return found[0] if found else {"holder_pid": None, "waiters": []}

        holder = srv.spawn(1, "hold_lock", lock="warm-up", seconds=3600)[0]["pid"]
        wait_for(lambda: lock()["holder_pid"] == holder, 10, "the holder")
        waiter = srv.spawn(1, "hold_lock", lock="warm-up", seconds=0)[0]["pid"]
        wait_for(lambda: waiter in lock()["waiters"], 10, "the waiter")
        assert srv.kill(waiter, "KILL").status_code == 202
        wait_for(lambda: not lock()["waiters"], 10, "the dead waiter to be forgotten")
        assert srv.kill(holder, "KILL").status_code == 202
        round_of(min(3.0, seconds / 4))
        srv.wait_settled()
        base_fds, base_threads = srv.fds(), srv.threads()
        spawned, killed = round_of(seconds)
        figures = assert_same_state(srv, watchers, timeout=max(20.0, seconds * 2))
        return {
            "seconds": seconds,
            "workers_spawned": spawned,
            "workers_killed": killed,
            **after_storm(srv, watchers, keys, base_fds, base_threads),
            "state_version": figures["version"],
        }
    finally:
        for watcher in watchers:
            watcher.close()
