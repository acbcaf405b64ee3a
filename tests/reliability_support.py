"""The ``servers`` fixture of the reliability, security and fuzz tests, and the names they import.

``servers(*cli_args, max_workers=8, rate_limit=0, token=None)`` starts a
:class:`testkit.server.Server` that is stopped and checked (no survivors, clean exit, no
errors logged) when the test ends; :class:`ModuleServer` does the same for a test module.
The rest lives by job: the harness in ``testkit/``, misbehaving clients in
``hostile_clients``, state checks in ``state_checks``, the scenarios (which ``chaos/run.py``
also runs) in ``fault_scenarios`` and ``load_scenarios``, the browser page in ``reliability_page``.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from browser_support import chromium_or_skip  # noqa: F401 -- re-exported for the tests
from fault_scenarios import kill_manager, kill_storm, server_kill, short_workers  # noqa: F401
from hostile_clients import Hammer, Stranger, read_until, stuck_client  # noqa: F401
from load_scenarios import reconnect_loop, soak, spawn_storm, stuck_clients  # noqa: F401
from reliability_page import Page, chromium_fixture  # noqa: F401
from state_checks import assert_same_state, burst_losses  # noqa: F401

from testkit.client import SocketClient as Watcher  # noqa: F401
from testkit.client import dict_of, key  # noqa: F401
from testkit.rest import ENDED, LIVE  # noqa: F401
from testkit.server import REPO, Server  # noqa: F401 -- REPO re-exported
from testkit.waiting import is_alive, wait_for  # noqa: F401


def start_server(log_dir: Path, *args: str, **options: Any) -> Server:
    """A server as these tests want it: no rate limit (they send bursts) unless one is given."""
    options.setdefault("rate_limit", 0)
    return Server(log_dir, *args, **options)


@pytest.fixture(name="servers")
def servers_fixture(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Factory: ``servers(*cli_args, max_workers=8, rate_limit=0, token=None)`` -> a started Server.

    Every server it started is stopped and checked (no survivors, clean exit, no errors
    logged) when the test ends.
    """
    started: list[Server] = []
    numbers = itertools.count()  # a test may start servers from several threads

    def start(*args: str, **options: Any) -> Server:
        srv = start_server(tmp_path / f"server{next(numbers)}", *args, **options)
        started.append(srv)
        return srv

    def stop(srv: Server) -> str | None:
        try:
            srv.stop()
        except AssertionError as exc:
            return str(exc)
        return None

    yield start
    with ThreadPoolExecutor(max(1, len(started))) as pool:  # each stop waits on its own processes
        failures = [failure for failure in pool.map(stop, started) if failure]
    assert not failures, "\n".join(failures)


class ModuleServer:
    """A server shared by a test module: ``with ModuleServer(...) as srv`` stops and checks it."""

    def __init__(self, *args: str, **options: Any) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="mpscope-rel-")
        self.args, self.options = args, options

    def __enter__(self) -> Server:
        self.server = start_server(Path(self.tmp.name), *self.args, **self.options)
        return self.server

    def __exit__(self, *exc: Any) -> None:
        try:
            self.server.stop()
        finally:
            self.tmp.cleanup()
