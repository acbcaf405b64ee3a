"""A lean parent for the bare spawn baseline: ``python -m benchmarks.bare_spawn``.

Reads ``spawn N`` lines on stdin, answers each with the seconds until N fresh processes
(started from a warmed-up forkserver context) have appended their PID to a plain Manager
list; EOF ends it. It imports no web stack, so its forkserver stays as small as possible.
"""

from __future__ import annotations

import multiprocessing
import sys

from benchmarks.plain import spawn_and_append


def main() -> None:
    ctx = multiprocessing.get_context("forkserver")
    # Preload what the children need, as mpscope preloads its worker code. (The default,
    # preloading __main__, makes each start about 3x slower here: a weaker baseline.)
    ctx.set_forkserver_preload(["benchmarks.plain"])
    manager = ctx.Manager()  # also starts (warms up) the forkserver
    l = manager.list()  # noqa: E741
    print("ready", flush=True)
    for line in sys.stdin:
        print(spawn_and_append(ctx, l, int(line.split()[1])), flush=True)
    manager.shutdown()


if __name__ == "__main__":
    main()
