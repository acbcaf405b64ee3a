"""A worker printing as fast as it can is not slowed much by mpscope's output capture.

mpscope: the ``printer`` task (lines=N, interval=0) as a worker, whose stdout is a pipe
read by the server; its run time is the worker's own ``started_at`` → ``ended_at``.
Baselines, side by side: the same task in a bare process whose stdout is a file, once
block-buffered (what ``python worker.py > file`` does) and once line-buffered (what
mpscope did before it flushed every 50 ms instead), each timed from before ``start()`` to
``join()``, as mpscope's worker is;
and plain python printing the same way to a pipe that a thread of ours reads (what mpscope's
worker writes to), with its CPU time beside the wall time.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import sys
import tempfile
import threading
import time

from . import plain
from .harness import Server, at_most, median, wait_for


def bare(ctx, lines: int, line_buffered: bool) -> float:
    fd, path = tempfile.mkstemp(prefix="bench-printer-")
    os.close(fd)
    try:
        p = ctx.Process(target=plain.print_to_file, args=(path, lines, line_buffered))
        # from before start(), as mpscope's worker is timed (its started_at is taken before it
        # is started, its ended_at once it is reaped) and as to_pipe() is
        t0 = time.time()
        p.start()
        p.join()
        return time.time() - t0
    finally:
        os.unlink(path)


def _print_to_pipe(write_end: int, lines: int) -> None:
    from workers.tasks import printer

    os.dup2(write_end, 1)
    os.close(write_end)
    with open(1, "w", closefd=False) as sys.stdout:  # block-buffered, as python makes it for a pipe
        printer(None, None, lines=lines, interval=0.0)


def _drain(fd: int) -> None:
    while os.read(fd, 1 << 16):
        pass


def to_pipe(lines: int) -> tuple[float, float]:
    """Plain python printing to a pipe that we read: (wall, CPU) seconds of the printing process."""
    read_end, write_end = os.pipe()
    reader = threading.Thread(target=_drain, args=(read_end,))
    reader.start()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = multiprocessing.get_context("fork").Process(target=_print_to_pipe, args=(write_end, lines))
    t0 = time.time()
    p.start()
    os.close(write_end)
    p.join()
    wall = time.time() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    reader.join()
    os.close(read_end)
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def ours(server, lines: int) -> float:
    (pid,) = server.spawn_pids(1, "printer", lines=lines, interval=0.0)
    server.wait_idle()
    info = server.call("GET", f"/api/workers/{pid}")
    # the dashboard reads a flood ahead of its parsing: the last lines may be parsed a moment
    # after the worker ended (its run time is what is measured)
    wait_for(
        lambda: server.get_json(f"/api/workers/{pid}/output")["total"] == lines,  # since= past the end: 400
        60,
        f"all {lines} lines captured",
    )
    server.call("DELETE", "/api/workers", state="ended")
    return info["ended_at"] - info["started_at"]


def buffered_server() -> Server:
    """A server of our own whose workers' stdout is buffered as python's is by default.

    PYTHONUNBUFFERED (set in some shells and containers) makes a worker's stdout unbuffered,
    as it makes plain python's: a write per print, ~4x slower, against baselines that are
    block-buffered whatever the environment says.
    """
    saved = os.environ.pop("PYTHONUNBUFFERED", None)
    try:
        return Server("webapp", "--max-workers", "64", "--rate-limit", "0")
    finally:
        if saved is not None:
            os.environ["PYTHONUNBUFFERED"] = saved


def run(bench) -> list[dict]:
    server = buffered_server()
    ctx = multiprocessing.get_context("forkserver")
    lines = bench.q(200_000, 50_000)
    times: dict[str, list[float]] = {"mpscope": [], "file": [], "file_lines": [], "pipe": [], "pipe_cpu": []}
    for rep in range(bench.q(3, 1)):
        order = (
            ["file", "mpscope", "pipe", "file_lines"]
            if rep % 2 == 0
            else ["file_lines", "pipe", "mpscope", "file"]
        )
        for kind in order:
            if kind == "mpscope":
                times[kind].append(ours(server, lines))
            elif kind == "pipe":
                wall, cpu = to_pipe(lines)
                times["pipe"].append(wall)
                times["pipe_cpu"].append(cpu)
            else:
                times[kind].append(bare(ctx, lines, kind == "file_lines"))
    server.stop()
    m = {k: median(v) * 1000 for k, v in times.items()}
    bench.log(f"{lines:,} lines: {m}")
    return [
        at_most(
            "output.printer",
            f"worker printing {lines:,} lines flat out, captured vs to a file",
            m["mpscope"],
            m["file"],
            "ms",
            1.5,
            baseline_name="stdout to a file (block-buffered)",
            note=f"vs a line-buffered file ({m['file_lines']:.0f} ms): "
            f"{m['mpscope'] / m['file_lines']:.2f}×; vs plain python to a pipe we read ({m['pipe']:.0f} ms "
            f"wall, {m['pipe_cpu']:.0f} ms CPU): {m['mpscope'] / m['pipe']:.2f}×; every line captured",
        )
    ]
