"""Helpers for the ``mpscope run`` tests: a dashboard watching one of the programs in examples/.

:class:`RunServer` is the harness's :class:`testkit.server.Server` started as
``python -m webapp run --port 0 ... examples/PROGRAM.py ARGS``: the program's own output
goes to the server's stdout/stderr files, as it would go to the terminal.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from support import Api, LiveClient

from testkit.server import REPO, Server
from testkit.waiting import wait_for

EXAMPLES = REPO / "examples"

# The interpreter the watched programs run under: ours, or MPSCOPE_TEST_PYTHON (`make
# test-cpython` runs the `mpscope run` tests under each Python it finds, through --python:
# the agent patches private stdlib functions that move between versions). A test that
# compares with a plain run runs that plain run with it too.
PROGRAM_PYTHON = os.environ.get("MPSCOPE_TEST_PYTHON") or sys.executable
PYTHON_FLAGS: tuple[str, ...] = ("--python", PROGRAM_PYTHON) if sys.executable != PROGRAM_PYTHON else ()
PROGRAM_VERSION: tuple[int, ...] = (
    tuple(sys.version_info[:2])
    if not PYTHON_FLAGS
    else tuple(
        int(n)
        for n in subprocess.run(
            [PROGRAM_PYTHON, "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True, text=True
        ).stdout.split()
    )
)


class RunServer(Server):
    """``mpscope run`` on a program; ``stop()`` also proves that nothing of the program survived."""

    def __init__(self, log_dir: Path, program: str, *args: str, flags: tuple[str, ...] = ()) -> None:
        # the program's own stderr (its tracebacks included) goes to our log: only ours count
        super().__init__(
            log_dir,
            *PYTHON_FLAGS,
            *flags,
            str(EXAMPLES / program),
            *args,
            subcommand=("run",),
            rate_limit=0,
            allow_errors=True,
        )

    def stop(self, check: bool = True) -> list[int]:
        """SIGTERM the dashboard; it must stop the program, leave no process and log no error of its own."""
        survivors = super().stop(check)
        if check:
            ours = [line for line in self.log().splitlines() if line.startswith("mpscope: ERROR")]
            assert not ours, "mpscope logged errors:\n" + "\n".join(ours)
        return survivors

    def output(self) -> str:
        """What reached the terminal: stdout and stderr."""
        return self.out_path.read_text(errors="replace") + self.log()


def wait_program(api: Api, states: tuple[str, ...] = ("exited", "killed"), timeout: float = 30.0) -> dict:
    """Wait until the program is in one of ``states``; return its ``program`` info."""
    return wait_for(
        lambda: (p := api.state()["program"])["state"] in states and p, timeout, f"the program to be {states}"
    )


def processes(api: Api) -> dict[int, dict]:
    return {w["pid"]: w for w in api.state()["workers"]}


def by_name(api: Api, name: str) -> dict | None:
    return next((w for w in api.state()["workers"] if w["name"] == name), None)


def diagnosis(api: Api, kind: str, timeout: float = 20.0) -> dict:
    """Wait until ``/api/diagnoses`` names a diagnosis of ``kind``; return it."""
    return wait_for(
        lambda: next((d for d in api.get_json("/api/diagnoses")["diagnoses"] if d["kind"] == kind), None),
        timeout,
        f"the {kind} diagnosis",
    )


def named(api: Api, *names: str, timeout: float = 20.0) -> dict[str, int]:
    """Wait until the program's processes include one of each of ``names``; return their PIDs by name."""
    return wait_for(
        lambda: (
            (found := {w["name"]: pid for pid, w in processes(api).items()}).keys() >= set(names) and found
        ),
        timeout,
        f"processes named {', '.join(names)}",
    )


def pool_tasks(api: Api) -> list[dict[str, Any]]:
    return api.get_json("/api/pool-tasks")["tasks"]


def write(tmp_path: Path, source: str, name: str = "program.py") -> Path:
    path = tmp_path / name
    path.write_text(source)
    return path


def run_command(*args: str) -> list[str]:
    """The command line of ``mpscope run --exit-with-program ARGS`` (the program's Python chosen)."""
    return [sys.executable, "-m", "webapp", "run", "--port", "0", "--exit-with-program", *PYTHON_FLAGS, *args]


def run_to_end(*args: str, cwd: Path = REPO, env: dict | None = None) -> subprocess.CompletedProcess:
    """``mpscope run --exit-with-program ARGS`` to its end."""
    return subprocess.run(run_command(*args), cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def exported_trace(recording: Path, out: Path) -> list[dict]:
    """``python -m webapp export RECORDING -o OUT``, which must succeed: the trace's events, each
    checked against the trace event format's rules."""
    done = subprocess.run(
        [sys.executable, "-m", "webapp", "export", str(recording), "-o", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    events = json.loads(out.read_text())["traceEvents"]
    for event in events:
        assert event["ph"] in "XMCisf" and isinstance(event["name"], str)
        assert isinstance(event["pid"], int) and isinstance(event["tid"], int)
        assert isinstance(event["ts"], (int, float)) and event["ts"] >= 0
        if event["ph"] == "X":
            assert event["dur"] > 0
    return events


@contextlib.contextmanager
def serving(tmp_path: Path, *args: str) -> Iterator[tuple[RunServer, Api]]:
    """``mpscope run ARGS`` (the program and its arguments), and a REST client; stopped after."""
    srv = RunServer(tmp_path, *args)
    api = Api(srv)
    try:
        yield srv, api
    finally:
        api.close()
        srv.stop()


@contextlib.contextmanager
def watching(tmp_path: Path, source: str) -> Iterator[tuple[RunServer, Api]]:
    """``mpscope run`` on a program written from ``source``, and a REST client; stopped after."""
    with serving(tmp_path, str(write(tmp_path, source))) as both:
        yield both


__all__ = [
    "PROGRAM_PYTHON",
    "PROGRAM_VERSION",
    "RunServer",
    "LiveClient",
    "wait_program",
    "processes",
    "by_name",
    "named",
    "diagnosis",
    "pool_tasks",
]
