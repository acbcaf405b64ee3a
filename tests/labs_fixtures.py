"""Fixtures for the Labs tests: a real server, a helper that runs labs, Socket.IO clients.

``lab_server`` (one per module) -> ``labs`` (runs a lab over REST and waits for its end,
checking that the run's processes are gone afterwards). Teardown records every
descendant of the server, SIGTERMs it and asserts that none survived.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests
from support import is_alive as alive
from support import wait_for as wait_until

REPO = Path(__file__).resolve().parents[1]
URL = re.compile(r"http://127\.0\.0\.1:\d+")


class LabServer:
    """``python -m webapp --port 0`` in a subprocess; ``stop()`` checks nothing is left."""

    def __init__(self, log_dir: Path) -> None:
        self.out_path, self.log_path = log_dir / "labs-server.out", log_dir / "labs-server.log"
        with open(self.out_path, "wb") as out, open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "webapp", "--port", "0"],
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=log,
            )
        self.ps = psutil.Process(self.proc.pid)
        self.pid = self.proc.pid
        self.seen: dict[int, psutil.Process] = {}
        self.url = wait_until(self._url, timeout=30, what="the server's URL")
        # the server's own long-lived helpers: Manager, fork server, resource tracker
        self.baseline = wait_until(self._steady, timeout=10, what="the server's helpers to start")

    def _url(self) -> str | None:
        match = URL.search(self.out_path.read_text())
        if match:
            return match.group(0)
        if self.proc.poll() is not None:
            raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.log()}")
        return None

    def _steady(self) -> set[int] | None:
        return self.descendants() or None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def descendants(self) -> set[int]:
        try:
            found = self.ps.children(recursive=True)
        except psutil.NoSuchProcess:
            return set()
        for process in found:
            self.seen.setdefault(process.pid, process)
        return {p.pid for p in found if alive(p)}

    def extra(self) -> set[int]:
        """Live descendants beyond the server's own helpers (lab processes still running)."""
        return self.descendants() - self.baseline

    def stop(self) -> None:
        self.descendants()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("the server ignored SIGTERM") from None
        try:
            wait_until(
                lambda: not any(alive(p) for p in self.seen.values()), 10, "the server's processes to end"
            )
        finally:
            left = [p.pid for p in self.seen.values() if alive(p)]
            for pid in left:
                psutil.Process(pid).kill()
        assert not left, f"processes left behind: {left}"
        assert code == 0, f"server exited with {code}:\n{self.log()[-3000:]}"
        errors = [line for line in self.log().splitlines() if " ERROR " in line or "Traceback" in line]
        assert not errors, "server logged errors:\n" + "\n".join(errors)


class Labs:
    """Start lab runs over REST and wait for them to end."""

    def __init__(self, server: LabServer) -> None:
        self.server = server
        self.url = server.url

    def start(self, name: str, params: dict | None = None) -> str:
        answer = requests.post(f"{self.url}/api/labs/{name}/runs", json=params or {}, timeout=10)
        assert answer.status_code == 201, answer.text
        return answer.json()["id"]

    def get(self, run_id: str) -> dict:
        answer = requests.get(f"{self.url}/api/labs/runs/{run_id}", timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def wait(self, run_id: str, timeout: float = 30.0) -> dict:
        """Wait for the run to end and for all its processes to be gone; return the run."""
        run = wait_until(
            lambda: (r := self.get(run_id))["status"] != "running" and r, timeout, "the run to end"
        )
        pids = {e["pid"] for e in run["events"]} - {self.server.pid}
        wait_until(
            lambda: not (pids & self.server.descendants()), 10, f"run {run_id}'s processes to be reaped"
        )
        return run

    def run(self, name: str, params: dict | None = None, timeout: float = 30.0) -> dict:
        run = self.wait(self.start(name, params), timeout)
        assert run["status"] == "done", f"{name}: {run['status']} {run.get('error')}\n{run['output']}"
        return run


@pytest.fixture(scope="module", name="lab_server")
def lab_server_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """A real mpscope server for one test module, checked for leftovers when stopped."""
    server = LabServer(tmp_path_factory.mktemp("labs"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(name="labs")
def labs_fixture(lab_server: LabServer) -> Labs:
    """Run labs on the module's server."""
    return Labs(lab_server)
