"""One live server: ``python -m MODULE --port 0 ARGS`` in a subprocess, stopped and checked.

:class:`Server` reads its URL (and a generated token) from what it prints, remembers every
process it starts (:mod:`testkit.processes`), drives it over REST (:mod:`testkit.rest`), and
on :meth:`Server.stop` sends SIGTERM and asserts a clean exit, no process left behind and no
error in its log. :meth:`Server.kill_hard` SIGKILLs it instead and says what outlived it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psutil

from .processes import MARK, ServerProcesses
from .rest import ServerApi, token_session
from .waiting import is_alive, wait_for

REPO = Path(__file__).resolve().parents[1]
RUNNING_AT = re.compile(r"running at (http://[^\s/]+)")  # the URL printed, without its path and token
TOKEN_LINE = re.compile(r"running at http://\S+/#token=([\w-]+)")
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


class Server(ServerProcesses, ServerApi):
    """``python -m MODULE [SUBCOMMAND] --port PORT [--max-workers N] [--rate-limit R] [--token T] ARGS``.

    :param log_dir: where its stdout and stderr go (a temporary directory, removed on stop,
        if None).
    :param subcommand: e.g. ``("run",)`` for ``mpscope run``.
    :param allow_errors: do not fail :meth:`stop` for errors in its log.
    """

    def __init__(
        self,
        log_dir: Path | None = None,
        *args: str,
        module: str = "webapp",
        subcommand: tuple[str, ...] = (),
        port: int = 0,
        max_workers: int | None = 8,
        rate_limit: float | None = None,
        token: str | None = None,
        allow_errors: bool = False,
        startup_timeout: float = STARTUP_TIMEOUT,
    ) -> None:
        self._tmp = None
        if log_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix=f"mpscope-{module}-")
            log_dir = Path(self._tmp.name)
        log_dir.mkdir(parents=True, exist_ok=True)
        stem = f"server-{time.monotonic_ns()}"  # servers may share a log directory
        self.out_path = log_dir / f"{stem}.out"
        self.log_path = log_dir / f"{stem}.log"
        self.allow_errors = allow_errors
        command = [sys.executable, "-m", module, *subcommand, "--port", str(port)]
        if max_workers is not None:
            command += ["--max-workers", str(max_workers)]
        if rate_limit is not None:
            command += ["--rate-limit", str(rate_limit)]
        if token is not None:
            command += ["--token", token]
        self.mark = uuid.uuid4().hex
        with open(self.out_path, "wb") as out, open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [*command, *args],
                cwd=REPO,
                env={**os.environ, MARK: self.mark},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=log,
            )
        self.pid = self.proc.pid
        self.ps = psutil.Process(self.pid)
        self.tracked: dict[int, psutil.Process] = {}
        self.stopped = False
        self.returncode: int | None = None
        try:
            self.url: str = wait_for(self._printed_url, startup_timeout, "the server to print its URL")
            self.port = int(self.url.rsplit(":", 1)[1])
        except BaseException:
            # SIGTERM first: mpscope stops what it started (a SIGKILL would orphan a program)
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self._remove_tmp()
            raise
        printed = TOKEN_LINE.search(self.out_path.read_text())
        self.token = token or (printed.group(1) if printed else None)
        self.session = token_session(self.token)
        self.track_descendants()

    @property
    def page_url(self) -> str:
        """The page as the printed URL opens it: with the token in its fragment, if there is one."""
        return f"{self.url}/#token={self.token}" if self.token else f"{self.url}/"

    def _printed_url(self) -> str | None:
        match = RUNNING_AT.search(self.out_path.read_text())
        if match:
            return match.group(1)
        if self.proc.poll() is not None:
            raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.log()}")
        return None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def errors_logged(self) -> list[str]:
        """Every ERROR record and traceback in the server's log, each with its following lines."""
        found, lines = [], self.log().splitlines()
        for i, line in enumerate(lines):
            if " ERROR " in line or line.startswith("Traceback"):
                found.append("\n".join(lines[i : i + 12]))
        return found

    # -- ending it --------------------------------------------------------------------------
    def terminate(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int:
        """Signal the server and wait for it; kill it (and fail) if it does not stop in time."""
        self.track_descendants()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"server ignored signal {sig} for {timeout}s and was killed") from None
        self.returncode = self.proc.returncode
        return self.returncode

    def stop(self, check: bool = True) -> list[int]:
        """SIGTERM, wait; assert a clean exit, no survivors and no logged errors; return survivors.

        With ``check=False`` nothing is asserted (a benchmark reports survivors instead); the
        survivors are killed either way. A second call returns at once.
        """
        if self.stopped:
            return []
        self.stopped = True
        self.session.close()
        ignored: AssertionError | None = None
        try:
            self.terminate()
        except AssertionError as exc:
            ignored = exc
        survivors = self.survivors(10.0)
        if check:
            assert not survivors, f"processes left behind by the server (now killed): {survivors}"
            assert ignored is None, str(ignored)
            assert self.returncode == 0, f"server exited with {self.returncode}:\n{self.log()[-3000:]}"
            if not self.allow_errors:
                errors = self.errors_logged()
                assert not errors, "the server logged errors:\n" + "\n".join(errors[:3])
        self._remove_tmp()
        return survivors

    def kill_hard(self, within: float = 2.0) -> tuple[list[int], float]:
        """SIGKILL the server; return ``(survivors after `within` s, seconds until all had ended)``."""
        self.stopped = True
        self.session.close()
        self.track_descendants()
        start = time.monotonic()
        self.proc.kill()
        self.returncode = self.proc.wait()
        try:
            wait_for(lambda: not any(is_alive(p) for p in self.tracked.values()), within, "orphans to exit")
        except AssertionError:
            pass
        took = time.monotonic() - start
        survivors = self.survivors(0.0)
        self._remove_tmp()
        return survivors, took

    def _remove_tmp(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
