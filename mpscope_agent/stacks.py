"""Every thread's current Python stack, taken from inside the process (no ptrace needed).

Each frame says whose code it is (``kind``): the ``program``'s own, a ``library``'s (the
standard library, an installed package) or ``mpscope``'s (the agent, a worker's
bootstrap), so that a reader can start at the program's innermost frame and skip ours.
"""

from __future__ import annotations

import os
import sys
import threading
import traceback

STDLIB = os.path.dirname(os.__file__) + os.sep
LIBRARY = (os.sep + "site-packages" + os.sep, os.sep + "dist-packages" + os.sep)
OURS = [os.path.dirname(__file__) + os.sep]  # the agent; a process adds its bootstrap (hide)


def hide(*paths: str) -> None:
    """Count ``paths`` (files or directories) as mpscope's own code in this process."""
    OURS.extend(p for p in paths if p not in OURS)


def frame_kind(filename: str) -> str:
    """``"program"``, ``"library"`` or ``"mpscope"``: whose code ``filename`` is."""
    if filename.startswith(tuple(OURS)):
        return "mpscope"
    if filename.startswith(STDLIB) or filename.startswith("<") or any(part in filename for part in LIBRARY):
        return "library"
    return "program"


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
            {
                "file": f.filename,
                "line": f.lineno,
                "function": f.name,
                "code": f.line or "",
                "kind": frame_kind(f.filename),
            }
            for f in traceback.extract_stack(frame)
        ]
        threads.append({"ident": ident, "name": names.get(ident, "?"), "frames": frames})
    return threads


_sources: dict[str, list[str]] = {}  # the program's files read so far (only those it waits in)


def source_line(filename: str, lineno: int, strip: bool = True) -> str:
    # read here rather than through linecache, which the program may never have imported
    lines = _sources.get(filename)
    if lines is None:
        try:
            with open(filename, encoding="utf-8", errors="replace") as f:
                lines = _sources[filename] = f.read().splitlines()
        except OSError:
            lines = _sources[filename] = []
    line = lines[lineno - 1] if 0 < lineno <= len(lines) else ""
    return line.strip() if strip else line
