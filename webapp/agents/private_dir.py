"""The private directory a watched program's agent finds the dashboard through.

A 0700 temporary directory holds the agent's Unix socket, a random key the agent must
present, and ``boot/``: mpscope's ``sitecustomize`` and copies of the stdlib-only
``mpscope_agent`` and ``sharedstate`` packages, which is all that goes on the program's
PYTHONPATH (never mpscope's own dependencies).
"""

from __future__ import annotations

import compileall
import os
import secrets
import shutil
import tempfile
from pathlib import Path

import mpscope_agent
import sharedstate
from mpscope_agent import ENV_DIR, ENV_MAIN, ENV_PYTHONPATH

AGENT_SOURCE = Path(mpscope_agent.__file__).parent
SHAREDSTATE_SOURCE = Path(sharedstate.__file__).parent


class PrivateDir:
    """Creates, and on :meth:`remove` deletes, the directory with socket, key and boot files."""

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="mpscope-run-"))  # mode 0700
        self.key = secrets.token_hex(32)
        key_file = self.path / "key"
        key_file.touch(mode=0o600)
        key_file.write_text(self.key)
        self.socket_path = str(self.path / "agent.sock")
        self.boot = self.path / "boot"
        shutil.copytree(
            AGENT_SOURCE,
            self.boot / "mpscope_agent",
            ignore=shutil.ignore_patterns("__pycache__", "boot"),
        )
        shutil.copy(AGENT_SOURCE / "boot" / "sitecustomize.py", self.boot / "sitecustomize.py")
        # the recording types a program's own Managers run (standard library only too)
        shutil.copytree(
            SHAREDSTATE_SOURCE, self.boot / "sharedstate", ignore=shutil.ignore_patterns("__pycache__")
        )
        # Compiled here, before the program starts: otherwise its Manager compiled ~15 modules
        # on its first shared object (~20 ms of the program's time, in every run). Another
        # interpreter (--python) ignores these and compiles its own, as before.
        compileall.compile_dir(self.boot, quiet=2)

    def program_env(self, base: dict[str, str]) -> dict[str, str]:
        """The program's environment: ``base`` plus our boot directory and markers."""
        env = dict(base)
        original = env.get("PYTHONPATH", "")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(self.boot), original) if p)
        env[ENV_PYTHONPATH] = original
        env[ENV_DIR] = str(self.path)
        env[ENV_MAIN] = "1"
        return env

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
