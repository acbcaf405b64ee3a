"""``mpscope run --record`` against ``mpscope run``: the program's time and the dashboard's CPU.

The same Manager-heavy program as bench_run's, in alternating pairs, with and without a
recording: what the recorder costs (the journals replayed, the JSON, SQLite) shows in the
mpscope process's own CPU, read exactly at its exit (benchmarks/proc_cpu.py).
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

from .harness import REPO, paired
from .proc_cpu import measure

ELAPSED = re.compile(r"^elapsed (\d+\.\d+)$", re.M)


def timed_cpu(command: list[str]) -> tuple[float, float]:
    """Run ``command``; return (the program's own elapsed time, the mpscope process's own CPU
    seconds: user + system of its threads, not its children's; benchmarks/proc_cpu.py)."""
    done = measure(command, REPO)
    return float(ELAPSED.search(done.stdout).group(1)), done.own_cpu


def recording_on_vs_off(bench, procs: int, writes: int, rounds: int) -> list[dict]:
    """``mpscope run --record`` against ``mpscope run``, in alternating pairs: the program's
    time, and the dashboard's CPU (target ≤ 1.2×: the writer thread, the encoding, SQLite)."""
    path = [str(REPO / "benchmarks" / "programs" / "manager_writes.py"), str(procs), str(writes)]
    base = [sys.executable, "-m", "webapp", "run", "--port", "0", "--exit-with-program"]
    with tempfile.TemporaryDirectory(prefix="mpscope-bench-record-") as tmp:
        off_cmd = [*base, *path]
        on_cmd = [*base, "--record", str(Path(tmp) / "run.sqlite"), *path]
        sides: dict[str, tuple[list[float], list[float]]] = {"off": ([], []), "on": ([], [])}
        for i in range(rounds):
            pair = [("off", off_cmd), ("on", on_cmd)]
            for side, command in pair if i % 2 == 0 else reversed(pair):
                elapsed, cpu = timed_cpu(command)
                sides[side][0].append(elapsed)
                sides[side][1].append(cpu)
        size = (Path(tmp) / "run.sqlite").stat().st_size
    (off_t, off_cpu), (on_t, on_cpu) = sides["off"], sides["on"]
    bench.data["run"]["run.record"] = {"off": off_t, "on": on_t, "off_cpu": off_cpu, "on_cpu": on_cpu}
    bench.log(f"record: program off {off_t} on {on_t} s; dashboard CPU off {off_cpu} on {on_cpu} s")
    what = f"{procs} processes × {writes:,} Manager dict writes under mpscope run, --record on vs off"
    recorded, own_cpu = f"the recording: {size / 2**20:.1f} MiB", "user + system of the mpscope process only"
    return [
        paired(
            f"run.record_{key}",
            f"{what}: {subject}",
            on,
            off,
            times,
            baseline_name="the same under mpscope run without --record, in alternating pairs",
            note=f"{rounds} pairs; {note}",
        )
        for key, subject, on, off, times, note in (
            ("program", "the program's time", on_t, off_t, 1.1, recorded),
            ("cpu", "the dashboard process's CPU", on_cpu, off_cpu, 1.2, own_cpu),
        )
    ]
