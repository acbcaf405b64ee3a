"""``mpscope run``'s overhead: programs under plain ``python`` and under ``mpscope run``, side by side.

A CPU-bound Pool.map (target ≤ 1.1×), the seed tutorial's Manager example and a
Manager-heavy program, 4 processes × 20,000 dict writes (each ≤ 1.3×: every op is
recorded in the program's Manager and streamed to the dashboard).

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

ELAPSED = re.compile(r"^elapsed (\d+\.\d+)$", re.M)


def timed(command: list[str]) -> tuple[float, float]:
    """Run ``command``; return (the program's own elapsed time, the command's wall time)."""
    start = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{command} exited with {done.returncode}: {done.stderr[-2000:]}")
    return float(ELAPSED.search(done.stdout).group(1)), wall


def compare(bench, program: str, args: list[str], rounds: int) -> dict:
    """Alternate plain and watched runs of one program; return their times."""
    path = [str(REPO / "benchmarks" / "programs" / program), *args]
    plain_cmd = [sys.executable, *path]
    watched_cmd = [sys.executable, "-m", "webapp", "run", "--port", "0", "--exit-with-program", *path]
    plain, watched, plain_wall, watched_wall = [], [], [], []
    for _ in range(rounds):
        for times, walls, command in ((plain, plain_wall, plain_cmd), (watched, watched_wall, watched_cmd)):
            elapsed, wall = timed(command)
            times.append(elapsed)
            walls.append(wall)
    bench.log(
        f"{program}: plain {[round(t, 3) for t in plain]} s; mpscope run {[round(t, 3) for t in watched]} s"
    )
    return {"plain": plain, "watched": watched, "plain_wall": plain_wall, "watched_wall": watched_wall}


def run(bench) -> list[dict]:
    items, size = bench.q((64, 400_000), (16, 100_000))
    procs, writes = 4, bench.q(20_000, 2_000)
    rounds = bench.q(7, 2)
    cases = [
        (
            "run.pool_map",
            "cpu_pool_map.py",
            [str(items), str(size)],
            f"CPU-bound Pool(2).map of {items} tasks, timed by the program",
            1.1,
        ),
        (
            "run.manager_example",
            "manager_example.py",
            [],
            "the seed tutorial's Manager example (10 processes)",
            1.3,
        ),
        (
            "run.manager_writes",
            "manager_writes.py",
            [str(procs), str(writes)],
            f"{procs} processes × {writes:,} Manager dict writes, every op recorded and pushed",
            1.3,
        ),
    ]
    rows = []
    bench.data["run"] = {}
    for fid, program, args, what, target in cases:
        times = compare(bench, program, args, rounds)
        bench.data["run"][fid] = times
        plain, watched = times["plain"], times["watched"]
        ratio = min(watched) / min(plain)
        rows.append(
            figure(
                fid,
                f"{what}: mpscope run vs plain python",
                min(watched) * 1000,
                min(plain) * 1000,
                "ms",
                baseline_name="the same program under plain python, runs alternating",
                target=f"≤ {target}×",
                met=ratio <= target,
                note=(
                    f"fastest of {rounds} each (medians {median(watched):.2f} s vs {median(plain):.2f} s); "
                    f"whole command incl. the dashboard's start-up and shutdown "
                    f"{min(times['watched_wall']):.2f} s vs {min(times['plain_wall']):.2f} s"
                ),
            )
        )
    return rows
