"""One process's kept output: its numbered lines, bounded in lines, and what each costs.

A line is kept as ``(n, t, stream, text, rendered, styles, open, cost)``; ``cost`` counts
the bytes it holds in memory, so that the output capture can bound everything it keeps in
bytes. The sizes here are those of a line in a JSON message (an ``output`` batch is
bounded in bytes too).
"""

from __future__ import annotations

import collections
import itertools
import json

LINE_COST = 200  # bytes a kept line costs besides its text: tuple, time, number (tracemalloc: ~197)
LINE_JSON = 92  # JSON bytes of a line besides its texts: {"pid":..,"n":..,"t":..,"stream":..,"rendered":..}


def text_size(text: str) -> int:
    """JSON bytes of a string (escaped as JSON does it)."""
    if text.isascii() and text.isprintable():  # the usual case, without encoding it
        return 2 + len(text) + text.count('"') + text.count("\\")
    return len(json.dumps(text))


def line_size(line: dict) -> int:
    """JSON bytes of one line in a message."""
    text, rendered = line["text"], line["rendered"]
    size = text_size(text)
    size = LINE_JSON + size + (size if rendered is text else text_size(rendered))
    if "styles" in line:
        size += 12 + len(json.dumps(line["styles"]))
    return size


def cheap_size(line: dict) -> int:
    """What a line is counted as while it waits to be sent or is recent (exact for plain ASCII)."""
    return LINE_JSON + len(line["text"]) + len(line["rendered"])


def line_message(pid: int | None, entry: tuple) -> dict:
    """The message form of a kept line ``(n, t, stream, text, rendered, styles, open, cost)``
    (``pid`` None: in its own process's list, where no line names it)."""
    n, t, stream, text, rendered, styles, is_open, _ = entry
    line = {"n": n, "t": t, "stream": stream, "text": text, "rendered": rendered}
    if pid is not None:
        line = {"pid": pid, **line}
    if styles:
        line["styles"] = styles
    if is_open:
        line["open"] = True
    return line


class WorkerOutput:
    """The bounded scrollback of one worker's output.

    Lines are kept as ``(n, t, stream, text, rendered, styles, open, cost)``.
    """

    def __init__(self, scrollback: int) -> None:
        self.lines: collections.deque[tuple] = collections.deque()
        self.scrollback = scrollback
        self.count = 0
        self.bytes = 0
        self.open_streams = 0

    def add(self, stream: str, text: str, rendered: str, styles, is_open: bool, t: float, cost: int) -> int:
        """Keep a line (dropping the oldest past ``scrollback``); return its number."""
        self.count += 1
        self.lines.append((self.count, t, stream, text, rendered, styles, is_open, cost))
        self.bytes += cost
        if len(self.lines) > self.scrollback:
            self.bytes -= self.lines.popleft()[7]
        return self.count

    def replace(self, entry: tuple) -> None:
        """Put a new state of line ``entry[0]`` in place of the old one (if it is still kept)."""
        i = entry[0] - self.count - 1  # from the end: the lines are in order
        if i >= -len(self.lines):
            self.bytes += entry[7] - self.lines[i][7]
            self.lines[i] = entry

    def drop_oldest(self) -> int:
        """Drop the oldest line kept; return the bytes freed."""
        cost = self.lines.popleft()[7]
        self.bytes -= cost
        return cost

    def since(self, n: int) -> tuple[list[dict], int, int]:
        """Return lines numbered above ``n``, how many of those were dropped, and the total."""
        first = self.count - len(self.lines) + 1  # number of the oldest line kept
        dropped = max(0, first - 1 - n) if self.count else 0
        skip = max(0, n - (first - 1))
        return (
            [line_message(None, entry) for entry in itertools.islice(self.lines, skip, None)],
            dropped,
            self.count,
        )
