"""The shared harness: servers in subprocesses, a measuring Socket.IO client, stats and CPU.

* :class:`Server` is the one live server (:class:`testkit.server.Server`) running
  ``python -m webapp`` (or the polling baseline); :meth:`Server.stop` reports (and kills)
  any process it started that outlived it, for the run's report.
* :class:`Client` is a minimal Socket.IO client over a raw websocket
  (:func:`testkit.client.raw_socket`) with one reader thread. It
  stamps each frame as it arrives, before decoding, so every client-side figure (mpscope's
  and the baseline's) is measured the same way, and it rebuilds the shared state only from
  ``snapshot`` + ``changes`` events, as the page does.
* :func:`percentile`, :func:`median`, :func:`cpu_seconds` and :func:`figure` are the stats.

Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import threading
import time
from array import array
from collections.abc import Callable
from functools import cached_property
from typing import Any

import psutil

from sharedstate.replica import StateReplica
from testkit.client import raw_socket
from testkit.server import REPO  # noqa: F401 -- the benchmarks find files from it
from testkit.server import Server as LiveServer
from testkit.waiting import wait_for  # noqa: F401 -- the benchmarks wait with it

_servers: list[Server] = []


# -- stats --------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    s = sorted(values)
    pos = (len(s) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(s) - 1)
    return s[low] + (s[high] - s[low]) * (pos - low)


def median(values: list[float]) -> float:
    return percentile(values, 50)


def cpu_seconds(pid: int) -> float:
    """CPU seconds used so far by process ``pid``'s live threads (not its children).

    Summed from each thread's ``/proc/PID/task/TID/schedstat`` (nanoseconds), because
    psutil's user + system times tick in 10 ms steps, too coarse for a 3 s window at
    1,000 mutations/s. Threads that end between two readings are lost, so windows are
    taken where none do (the steady middle of a phase).
    """
    try:
        total = 0
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
            except (FileNotFoundError, ProcessLookupError):
                continue  # the thread just ended
        return total / 1e9
    except OSError:
        times = psutil.Process(pid).cpu_times()
        return times.user + times.system


def rss(pid: int) -> int:
    return psutil.Process(pid).memory_info().rss


def figure(
    fid: str,
    what: str,
    value: float,
    baseline: float | None,
    unit: str,
    *,
    ratio: float | None = None,
    target: str = "",
    met: bool | None = None,
    baseline_name: str = "",
    note: str = "",
) -> dict:
    """One reported figure: the subject, its side-by-side baseline and their ratio."""
    if ratio is None and baseline:
        ratio = value / baseline
    return {
        "id": fid,
        "what": what,
        "value": value,
        "baseline": baseline,
        "baseline_name": baseline_name,
        "ratio": ratio,
        "unit": unit,
        "target": target,
        "met": met,
        "note": note,
    }


def at_most(
    fid: str,
    what: str,
    value: float,
    baseline: float,
    unit: str,
    times: float,
    *,
    baseline_name: str,
    target: str = "",
    note: str = "",
) -> dict:
    """A figure whose target is ``value`` at most ``times`` × ``baseline`` (``target``: its wording,
    "≤ TIMES×" unless given)."""
    return figure(
        fid,
        what,
        value,
        baseline,
        unit,
        baseline_name=baseline_name,
        target=target or f"≤ {times:g}×",
        met=value / baseline <= times,
        note=note,
    )


def paired(
    fid: str,
    what: str,
    value: list[float],
    baseline: list[float],
    times: float,
    *,
    baseline_name: str,
    note: str = "",
) -> dict:
    """Seconds of a subject and its baseline, run in pairs: a figure of their medians in ms whose
    ratio, the median of the pairs' ratios, is to be at most ``times``."""
    ratio = median([v / b for v, b in zip(value, baseline, strict=True)])
    return figure(
        fid,
        what,
        median(value) * 1000,
        median(baseline) * 1000,
        "ms",
        ratio=ratio,
        baseline_name=baseline_name,
        target=f"≤ {times}× (median of the pairs' ratios)",
        met=ratio <= times,
        note=note,
    )


# -- servers ------------------------------------------------------------------------------
class Server(LiveServer):
    """A benchmark's server subprocess (mpscope, or the polling baseline ``module``).

    Waits and requests are patient (the machine is loaded on purpose), and :meth:`stop`
    returns the PIDs it had to kill instead of failing, so the run reports them.
    """

    request_timeout = 60.0

    def __init__(self, module: str = "webapp", *args: str, name: str = "mpscope") -> None:
        self.name = name
        super().__init__(None, *args, module=module, max_workers=None, startup_timeout=60)
        _servers.append(self)

    @cached_property
    def manager_pid(self) -> int:
        """Read once: the benchmarks sample it often and must not make the server work for it."""
        return self.health()["manager_pid"]

    def wait_idle(self, timeout: float = 120, interval: float | None = 0.05) -> None:
        """Wait until no worker runs and the feed caught up; polls every 50 ms, to cost the server little."""
        super().wait_idle(timeout, interval)

    def fill(self, entries: int = 0, items: int = 0, writers: int = 2) -> None:
        """Grow the dict to ``entries`` keys and the list to ``items`` items, as fast as we can."""
        if entries:
            per = entries // writers
            self.spawn(writers, "burst", n=per, keys=per, target="dict")
        if items:
            self.spawn(1, "burst", n=items, target="list")
        self.wait_idle(300)
        self.call("DELETE", "/api/workers", state="ended")

    def cpu(self) -> tuple[float, float]:
        """CPU seconds so far of (server, Manager)."""
        return cpu_seconds(self.pid), cpu_seconds(self.manager_pid)

    def stop(self, check: bool = False) -> list[int]:
        """SIGTERM, wait, and kill whatever it started that survives; return those PIDs."""
        if self in _servers:
            _servers.remove(self)
        return super().stop(check)


def stop_all() -> list[int]:
    """Stop every server still running (the runner's last step, also on errors)."""
    leftovers = []
    for server in list(_servers):
        leftovers += server.stop()
    return leftovers


# -- the measuring client -----------------------------------------------------------------
class Replica:
    """Every shared object rebuilt from ``snapshot`` + ``changes``, through the one replayer.

    A thin adapter over :class:`sharedstate.replica.StateReplica` for this client, which reads
    frames in order on one thread: ``version`` is -1 until the first snapshot, and
    :meth:`apply` says when a batch does not follow on, so the client can ask for a resync.
    """

    def __init__(self) -> None:
        self.state = StateReplica()

    @property
    def version(self) -> int:
        return -1 if self.state.version is None else self.state.version

    @property
    def list(self) -> list:
        return self.state.list

    @property
    def dict(self) -> list:
        """The shared dict as ``[[key, value], ...]``, as ``/api/state`` gives it."""
        return self.state.dict

    def load(self, snap: dict) -> None:
        self.state.load(snap)

    def apply(self, batch: dict) -> bool:
        """Apply a ``changes`` batch; False if it does not follow on (a resync is needed)."""
        if batch["to"] <= self.version:
            return True
        if batch["from"] > self.version:
            return False
        self.state.add(batch)
        return True

    def matches(self, state: dict) -> bool:
        """True if every rebuilt object (and the old dict and list fields) equals ``state``'s."""
        if self.state.dict != state["dict"] or self.state.list != state["list"]:
            return False
        mine = self.state.described()
        theirs = state.get("objects", {})
        return mine.keys() == theirs.keys() and all(
            mine[oid]["value"] == obj["value"] for oid, obj in theirs.items()
        )


class Client:
    """A Socket.IO client over a raw websocket: one reader thread, frames stamped on arrival.

    ``latency`` collects ``arrival - op["t"]`` for every op received and ``op_t`` the ops'
    ``t``, so a benchmark can keep only the ops applied within its measuring window.
    ``on_event(name, data, arrival)`` sees every other event (the polling baseline's).
    """

    def __init__(
        self,
        url: str,
        *,
        on_event: Callable[[str, Any, float], None] | None = None,
        rcvbuf: int | None = None,
        read: bool = True,
        replica: bool = True,
        token: str | None = None,
    ) -> None:
        self.ws = raw_socket(url, token, rcvbuf=rcvbuf, timeout=60)
        self.on_event = on_event
        self.replica = Replica() if replica else None
        self.cond = threading.Condition()
        self.latency = array("d")
        self.op_t = array("d")
        self.snapshots = 0
        self.batches = 0
        self.gaps = 0
        self.frames = 0
        self.workers: dict[int, dict] = {}
        self.seen_at: dict[tuple[int, str], float] = {}  # (pid, state) -> first arrival
        self.closed = False
        self.thread = None
        if read:
            self.thread = threading.Thread(target=self._read, name="bench-client", daemon=True)
            self.thread.start()

    def _read(self) -> None:
        while True:
            try:
                message = self.ws.recv()
            except Exception:
                break
            now = time.time()
            if not message:
                break
            self.frames += 1
            if message == "2":  # Engine.IO ping
                self.ws.send("3")
                continue
            if message.startswith("42"):
                name, data = json.loads(message[2:])[:2]
                with self.cond:
                    self._event(name, data, now)
                    self.cond.notify_all()
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def _event(self, name: str, data: Any, now: float) -> None:
        if name == "changes":
            self.batches += 1
            ops = data["ops"]
            self.op_t.extend([op["t"] for op in ops])
            self.latency.extend([now - op["t"] for op in ops])
            if self.replica is not None and not self.replica.apply(data):
                self.gaps += 1
                try:
                    self.ws.send('42["resync"]')
                except OSError:  # closed by the benchmark meanwhile: it has what it measured
                    pass
        elif name == "snapshot":
            self.snapshots += 1
            if self.replica is not None and data["version"] >= self.replica.version:
                self.replica.load(data)
            self._workers(data["workers"], now)
        elif name == "workers":
            self._workers(data["workers"], now)
        elif self.on_event is not None:
            self.on_event(name, data, now)

    def _workers(self, infos: list[dict], now: float) -> None:
        for info in infos:
            self.workers[info["pid"]] = info
            self.seen_at.setdefault((info["pid"], info["state"]), now)

    def wait(self, predicate: Callable[[], Any], timeout: float = 60, what: str = "an event") -> Any:
        """Wait until ``predicate()``, checked under the client's lock after each event, is truthy."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not (value := predicate()):
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    raise TimeoutError(f"client: timed out after {timeout}s waiting for {what}")
                self.cond.wait(left)
            return value

    def latencies(self, t0: float = 0.0, t1: float = float("inf")) -> list[float]:
        """Push latencies (seconds) of the ops the Manager applied between ``t0`` and ``t1``."""
        with self.cond:
            return [lat for t, lat in zip(self.op_t, self.latency, strict=True) if t0 <= t <= t1]

    def clear(self) -> None:
        with self.cond:
            self.latency = array("d")
            self.op_t = array("d")

    def close(self) -> None:
        try:
            self.ws.close(timeout=1)
        except Exception:
            pass
        if self.thread is not None:
            self.thread.join(5)


def summary_ms(latencies: list[float]) -> dict:
    """p50/p90/p99/max in milliseconds, and how many samples."""
    return {
        "n": len(latencies),
        "p50": percentile(latencies, 50) * 1000,
        "p90": percentile(latencies, 90) * 1000,
        "p99": percentile(latencies, 99) * 1000,
        "max": max(latencies) * 1000 if latencies else float("nan"),
    }
