"""Fast: OutputCapture reads a flooding pipe ahead of its parsing, and keeps every line in order.

A worker printing flat out used to wait on the dashboard at each 64 KiB (the pipe full while
lines were parsed); the pipes are now read into memory ahead of the parsing (up to
READ_AHEAD bytes, then left full), and a flooding stream's pipe is grown. Real pipes, a real
writer thread.
"""

from __future__ import annotations

import fcntl
import os
import threading

import pytest

from testkit.waiting import wait_for
from webapp import pipe_reader
from webapp.output import OutputCapture

LINES = 200_000


def _flood(read_ahead: int, monkeypatch) -> tuple[OutputCapture, int, list[bytes]]:
    monkeypatch.setattr(pipe_reader, "READ_AHEAD", read_ahead)
    capture = OutputCapture(lambda lines, skipped: None, scrollback=LINES + 1)
    read_end, write_end = os.pipe()
    capture.attach(1, {"stdout": read_end})
    lines = [b"line %d \xc3\xa9" % i for i in range(LINES)]
    data = b"\n".join(lines) + b"\nno newline at the end"

    def write() -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(write_end, view[:65536]) :]

    writer = threading.Thread(target=write)
    writer.start()
    writer.join(60)
    assert not writer.is_alive()
    return capture, write_end, lines


@pytest.mark.parametrize(
    "read_ahead", [pipe_reader.READ_AHEAD, 256 * 1024], ids=["read-ahead", "read-ahead-full"]
)
def test_a_flood_is_kept_whole_and_in_order_and_ends_after_its_last_line(read_ahead, monkeypatch):
    capture, write_end, lines = _flood(read_ahead, monkeypatch)
    try:
        if read_ahead == pipe_reader.READ_AHEAD:  # it brought more than GROW_AFTER: its pipe was grown
            assert fcntl.fcntl(write_end, fcntl.F_GETPIPE_SZ) == pipe_reader.PIPE_SIZE
        os.close(write_end)
        wait_for(lambda: capture.outputs[1].open_streams == 0, 30, "the stream to end")
        kept, dropped, total = capture.lines(1)
        assert dropped == 0 and total == LINES + 1
        assert [line["text"] for line in kept[:-1]] == [line.decode() for line in lines]
        assert [line["n"] for line in kept] == list(range(1, LINES + 2))
        assert kept[-1]["text"] == "no newline at the end" and "open" not in kept[-1]
        assert capture.pipes.ahead == 0 and not capture.pipes.behind and not capture.pipes.paused
        assert capture.pipes.grown == 0  # its pipe closed: no longer counted
    finally:
        capture.close()
