"""Helpers and fixtures for the browser tests: a real mpscope server and headless system Chromium.

``browser`` (one Chromium per session, shared by every module that imports it) and
``live_server`` (one server per test module) are pytest fixtures; import them into a test
module to use them. :class:`LiveServer` also works
outside pytest (``tools/screenshot.py`` uses it).

The server runs as ``python -m webapp --port N`` in its own subprocess, so its workers are
real processes. Stopping it records every descendant first, sends SIGTERM, waits (and kills
after 10 s), and then checks that every recorded process is gone.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from support import is_alive, wait_for

# Only for things outside the page (the server's log, processes, the REST API); anything the
# page shows is waited for with Playwright's ``expect``.
wait_until = wait_for

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
URL = re.compile(r"http://127\.0\.0\.1:\d+")
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """One ``python -m webapp`` subprocess; ``stop()`` ends it and proves nothing was left behind."""

    def __init__(self, port: int = 0, max_workers: int = 8, log_dir: Path | None = None) -> None:
        self._tmp = None
        if log_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="mpscope-browser-")
            log_dir = Path(self._tmp.name)
        self.out_path = log_dir / f"server-{port}-{time.monotonic_ns()}.out"
        self.log_path = self.out_path.with_suffix(".log")
        with open(self.out_path, "wb") as out, open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "webapp", "--port", str(port), "--max-workers", str(max_workers)],
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=log,
            )
        self.ps = psutil.Process(self.proc.pid)
        self.recorded: dict[int, psutil.Process] = {}
        self.returncode: int | None = None
        self.stopped = False
        try:
            self.url: str = wait_until(self._printed_url, STARTUP_TIMEOUT, "the server to print its URL")
        except BaseException:
            self.proc.kill()
            self.proc.wait()
            self._cleanup_tmp()
            raise
        self.port = int(self.url.rsplit(":", 1)[1])
        self.record_descendants()

    def _printed_url(self) -> str | None:
        match = URL.search(self.out_path.read_text())
        if match:
            return match.group(0)
        if self.proc.poll() is not None:
            raise AssertionError(f"the server exited with {self.proc.returncode}:\n{self.log()}")
        return None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    # -- processes -------------------------------------------------------------------------
    def record_descendants(self) -> list[psutil.Process]:
        """Remember every process now below the server, to check later that it ended."""
        try:
            found = self.ps.children(recursive=True)
        except psutil.NoSuchProcess:
            found = []
        for process in found:
            self.recorded.setdefault(process.pid, process)
        return found

    def stop(self) -> None:
        """Record descendants, SIGTERM the server, wait (kill after 10 s); fail if anything survived."""
        if self.stopped:
            return
        self.stopped = True
        self.record_descendants()
        killed = False
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                killed = True
        self.returncode = self.proc.returncode
        try:
            wait_until(
                lambda: not any(is_alive(p) for p in self.recorded.values()),
                STOP_TIMEOUT,
                "the server's processes to end",
            )
        except AssertionError:
            survivors = [p for p in self.recorded.values() if is_alive(p)]
            for process in survivors:
                try:
                    process.kill()
                except psutil.NoSuchProcess:
                    pass
            raise AssertionError(
                f"processes left behind by the server (now killed): {sorted(p.pid for p in survivors)}"
            ) from None
        finally:
            self._cleanup_tmp()
        assert not killed, f"the server ignored SIGTERM for {STOP_TIMEOUT}s and was killed"
        assert self.returncode == 0, f"the server exited with {self.returncode}"

    def _cleanup_tmp(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # -- the REST API (for set-up and checks; the tests themselves drive the page) ------------
    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def state(self) -> dict:
        return self.call("GET", "/api/state")

    def workers(self) -> dict[int, dict]:
        return {w["pid"]: w for w in self.state()["workers"]}

    def spawn(self, count: int = 1, task: str = "append_pid", **params: Any) -> list[int]:
        answer = self.call("POST", "/api/workers", {"count": count, "task": task, "params": params})
        pids = [w["pid"] for w in answer["workers"]]
        self.record_descendants()
        return pids

    def reset(self) -> None:
        """SIGKILL every worker, wait until none runs, empty the state and forget ended workers."""
        self.record_descendants()
        self.call("DELETE", "/api/workers?state=running&signal=KILL")
        wait_until(lambda: self.call("GET", "/healthz")["workers"] == 0, 15, "every worker to end")
        self.call("POST", "/api/state/reset")
        wait_until(lambda: (s := self.state())["list"] == [] and s["dict"] == [], 10, "an empty state")
        self.call("DELETE", "/api/workers?state=ended")


def launch_chromium(playwright):
    """Start the system Chromium headless (Playwright's own download does not exist here)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def chromium_or_skip() -> None:
    """Skip when there is no system Chromium, unless REQUIRE_BROWSER=1 asks for a failure."""
    if os.path.exists(CHROMIUM):
        return
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but {CHROMIUM} does not exist")
    pytest.skip(f"{CHROMIUM} is not installed")


# -- fixtures -------------------------------------------------------------------------------
class _SharedChromium:
    """One Playwright driver and Chromium per process, however many modules import ``browser``.

    A fixture imported into several test modules is a separate definition in each, so a
    session-scoped ``browser`` would start once per module; and a second sync Playwright
    cannot start while the first runs. The fixtures therefore share this one, and the last
    to finish closes it.
    """

    def __init__(self) -> None:
        self.users = 0
        self.playwright: Any = None
        self.chromium: Any = None

    def acquire(self) -> Any:
        if self.chromium is None:
            from playwright.sync_api import sync_playwright

            playwright = sync_playwright().start()
            try:
                self.chromium = launch_chromium(playwright)
            except BaseException:
                playwright.stop()
                raise
            self.playwright = playwright
        self.users += 1
        return self.chromium

    def release(self) -> None:
        self.users -= 1
        if self.users == 0:
            chromium, playwright = self.chromium, self.playwright
            self.chromium = self.playwright = None
            try:
                chromium.close()
            finally:
                playwright.stop()


_shared_chromium = _SharedChromium()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless system Chromium for the whole session (skips if it is not installed)."""
    chromium_or_skip()
    chromium = _shared_chromium.acquire()
    try:
        yield chromium
    finally:
        _shared_chromium.release()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One mpscope server (--max-workers 8) for a test module; stopped and checked at its end."""
    server = LiveServer(log_dir=tmp_path_factory.mktemp("live-server"))
    try:
        yield server
    finally:
        server.stop()
