"""Every thread's current Python stack, taken from inside the process (no ptrace needed)."""

from __future__ import annotations

import sys
import threading
import traceback


def current_stacks(skip=None) -> list:
    """Return every thread's current Python stack, innermost frame last.

    ``skip`` is a thread ident (or a set of them) to leave out; threads whose name
    starts with ``mpscope-`` are mpscope's own helpers and are left out too.
    """
    skipped = skip if isinstance(skip, (set, frozenset)) else {skip}
    names = {t.ident: t.name for t in threading.enumerate()}
    threads = []
    for ident, frame in sys._current_frames().items():
        if ident in skipped or names.get(ident, "").startswith("mpscope-"):
            continue
        frames = [
            {"file": f.filename, "line": f.lineno, "function": f.name, "code": f.line or ""}
            for f in traceback.extract_stack(frame)
        ]
        threads.append({"ident": ident, "name": names.get(ident, "?"), "frames": frames})
    return threads
