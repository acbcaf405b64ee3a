"""Screen: the one terminal all processes of a lab run print to, rebuilt from their writes.

Each write a child makes arrives as one chunk, in arrival order. Chunks are joined the
way a shared terminal joins them: a line is complete at its newline, whoever wrote it,
so two processes writing half-lines at once produce one mixed line. A line keeps the
PID, PPID and thread of its first writer, and lists every writer when there were more.
"""

from __future__ import annotations

MAX_LINE = 2000


class Screen:
    """Assemble chunks from many writers into lines, as one shared terminal would."""

    def __init__(self) -> None:
        self.line: dict | None = None

    def write(self, pid: int, ppid: int, tid: int, t: float, stream: str, text: str) -> list[dict]:
        """Add one chunk; return the lines it completed."""
        done = []
        *complete, rest = text.split("\n")
        for piece in complete:
            self._add(pid, ppid, tid, t, stream, piece)
            done.append(self._take())
        if rest:
            self._add(pid, ppid, tid, t, stream, rest)
        return done

    def flush(self) -> list[dict]:
        """Return the unfinished line, if any (the run is over)."""
        return [self._take()] if self.line is not None else []

    def _add(self, pid: int, ppid: int, tid: int, t: float, stream: str, text: str) -> None:
        if self.line is None:
            self.line = {
                "pid": pid,
                "ppid": ppid,
                "tid": tid,
                "t": t,
                "stream": stream,
                "text": "",
                "writers": [],
            }
        line = self.line
        if len(line["text"]) < MAX_LINE:
            line["text"] = (line["text"] + text)[:MAX_LINE]
        if pid not in line["writers"]:
            line["writers"].append(pid)

    def _take(self) -> dict:
        line, self.line = self.line, None
        if line is None:  # a bare newline with nothing before it
            return {}
        if len(line["writers"]) < 2:
            del line["writers"]
        return line
