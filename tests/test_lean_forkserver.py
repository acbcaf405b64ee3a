"""The workers' forkserver and the built-in Manager import no web stack.

Every built-in worker is forked from a forkserver that preloads ``FORKSERVER_PRELOAD``;
while the Manager's code lived under ``webapp`` it carried Flask and Socket.IO (715
modules, 48 MiB) and each fork took twice as long, which the spawn figure showed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from workers.manager import FORKSERVER_PRELOAD

WEB = ("webapp", "flask", "flask_socketio", "socketio", "engineio", "werkzeug", "jinja2")


def test_the_preloaded_modules_import_no_web_stack() -> None:
    code = (
        "import importlib, json, sys\n"
        f"for name in {FORKSERVER_PRELOAD!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    modules = json.loads(out.stdout)
    assert [m for m in modules if m.split(".")[0] in WEB] == []
    assert "workers.manager" in modules and "workers.bootstrap" in modules
