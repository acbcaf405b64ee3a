"""A worker printing as fast as it can is not slowed much by mpscope's output capture.

mpscope: the ``printer`` task (lines=N, interval=0) as a worker, whose stdout is a pipe
read by the server; its run time is the worker's own ``started_at`` → ``ended_at``.
Baselines, side by side: the same task in a bare process whose stdout is a file, once
block-buffered (what ``python worker.py > file`` does) and once line-buffered (what
mpscope sets up so lines show up live), each timed from ``start()`` to ``join()``.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
import time

from . import plain
from .harness import figure, median


def bare(ctx, lines: int, line_buffered: bool) -> float:
    fd, path = tempfile.mkstemp(prefix="bench-printer-")
    os.close(fd)
    try:
        p = ctx.Process(target=plain.print_to_file, args=(path, lines, line_buffered))
        p.start()
        t0 = time.time()
        p.join()
        return time.time() - t0
    finally:
        os.unlink(path)


def ours(server, lines: int) -> float:
    (pid,) = server.spawn_pids(1, "printer", lines=lines, interval=0.0)
    server.wait_idle()
    info = server.call("GET", f"/api/workers/{pid}")
    total = server.call("GET", f"/api/workers/{pid}/output", since=lines)["total"]
    assert total == lines, f"captured {total} of {lines} lines"
    server.call("DELETE", "/api/workers", state="ended")
    return info["ended_at"] - info["started_at"]


def run(bench) -> list[dict]:
    server = bench.server()
    ctx = multiprocessing.get_context("forkserver")
    lines = bench.q(200_000, 50_000)
    times: dict[str, list[float]] = {"mpscope": [], "file": [], "file_lines": []}
    for rep in range(bench.q(3, 1)):
        order = ["file", "mpscope", "file_lines"] if rep % 2 == 0 else ["file_lines", "mpscope", "file"]
        for kind in order:
            if kind == "mpscope":
                times[kind].append(ours(server, lines))
            else:
                times[kind].append(bare(ctx, lines, kind == "file_lines"))
    m = {k: median(v) * 1000 for k, v in times.items()}
    bench.log(f"{lines:,} lines: {m}")
    return [
        figure(
            "output.printer",
            f"worker printing {lines:,} lines flat out, captured vs to a file",
            m["mpscope"],
            m["file"],
            "ms",
            baseline_name="stdout to a file (block-buffered)",
            target="≤ 1.5×",
            met=m["mpscope"] / m["file"] <= 1.5,
            note=f"vs a line-buffered file ({m['file_lines']:.0f} ms): "
            f"{m['mpscope'] / m['file_lines']:.2f}×; every line captured",
        )
    ]
