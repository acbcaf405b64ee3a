"""``mpscope run``'s overhead: a CPU-bound Pool.map under plain ``python`` and under ``mpscope run``.

Runs alternate (plain, watched, plain, watched...) so that both see the same machine. The
program times itself from its first line to the end of its Pool (Pool start-up included:
that is where the agent connects each worker); the dashboard's own start-up, which the
program does not wait for, is reported apart as the whole command's wall time. The
figure compares the fastest run of each: on a shared 2-core machine other work only ever
adds time, and the median swung by 3x between runs.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time

from .harness import REPO, figure, median

PROGRAM = REPO / "benchmarks" / "programs" / "cpu_pool_map.py"
ELAPSED = re.compile(r"^elapsed (\d+\.\d+)$", re.M)


def timed(command: list[str]) -> tuple[float, float]:
    """Run ``command``; return (the program's own elapsed time, the command's wall time)."""
    start = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{command} exited with {done.returncode}: {done.stderr[-2000:]}")
    return float(ELAPSED.search(done.stdout).group(1)), wall


def run(bench) -> list[dict]:
    items, size = bench.q((64, 400_000), (16, 100_000))
    rounds = bench.q(7, 2)
    args = [str(PROGRAM), str(items), str(size)]
    plain_cmd = [sys.executable, *args]
    watched_cmd = [sys.executable, "-m", "webapp", "run", "--port", "0", "--exit-with-program", *args]
    plain, watched, plain_wall, watched_wall = [], [], [], []
    for _ in range(rounds):
        for times, walls, command in ((plain, plain_wall, plain_cmd), (watched, watched_wall, watched_cmd)):
            elapsed, wall = timed(command)
            times.append(elapsed)
            walls.append(wall)
    bench.log(f"plain {[round(t, 3) for t in plain]} s; mpscope run {[round(t, 3) for t in watched]} s")
    bench.data["run"] = {
        "plain": plain,
        "watched": watched,
        "plain_wall": plain_wall,
        "watched_wall": watched_wall,
    }
    ratio = min(watched) / min(plain)
    return [
        figure(
            "run.pool_map",
            f"CPU-bound Pool(2).map of {items} tasks, timed by the program: mpscope run vs plain python",
            min(watched) * 1000,
            min(plain) * 1000,
            "ms",
            baseline_name="the same program under plain python, runs alternating",
            target="≤ 1.1×",
            met=ratio <= 1.1,
            note=(
                f"fastest of {rounds} each (medians {median(watched):.2f} s vs {median(plain):.2f} s); "
                f"whole command incl. the dashboard's start-up and shutdown "
                f"{min(watched_wall):.2f} s vs {min(plain_wall):.2f} s"
            ),
        )
    ]
