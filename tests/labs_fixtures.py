"""Fixtures for the Labs tests: a real server, a helper that runs labs, Socket.IO clients.

``lab_server`` (one per module) -> ``labs`` (runs a lab over REST and waits for its end,
checking that the run's processes are gone afterwards). The server is a
:class:`testkit.server.Server`: its teardown records every descendant, SIGTERMs it and
asserts that none survived.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.server import Server
from testkit.waiting import wait_for as wait_until


class LabServer(Server):
    """A server at the webapp's default --max-workers that knows its own helper processes."""

    def __init__(self, log_dir: Path) -> None:
        super().__init__(log_dir, max_workers=None)
        # the server's own long-lived helpers: Manager, fork server, resource tracker
        self.baseline = wait_until(self._steady, timeout=10, what="the server's helpers to start")

    def _steady(self) -> set[int] | None:
        return self.descendant_pids() or None

    def extra(self) -> set[int]:
        """Live descendants beyond the server's own helpers (lab processes still running)."""
        return self.descendant_pids() - self.baseline


class Labs:
    """Start lab runs over REST and wait for them to end."""

    def __init__(self, server: LabServer) -> None:
        self.server = server
        self.url = server.url

    def start(self, name: str, params: dict | None = None) -> str:
        answer = self.server.request("POST", f"/api/labs/{name}/runs", json=params or {})
        assert answer.status_code == 201, answer.text
        return answer.json()["id"]

    def get(self, run_id: str) -> dict:
        answer = self.server.request("GET", f"/api/labs/runs/{run_id}")
        assert answer.status_code == 200, answer.text
        return answer.json()

    def wait(self, run_id: str, timeout: float = 30.0) -> dict:
        """Wait for the run to end and for all its processes to be gone; return the run."""
        run = wait_until(
            lambda: (r := self.get(run_id))["status"] != "running" and r, timeout, "the run to end"
        )
        pids = {e["pid"] for e in run["events"]} - {self.server.pid}
        wait_until(
            lambda: not (pids & self.server.descendant_pids()), 10, f"run {run_id}'s processes to be reaped"
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
