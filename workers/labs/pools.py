"""Labs 8-9: a Pool (apply, apply_async, callbacks, close and join) and the GIL."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from .report import Thread, gil_turns, state, task


# -- lab 8: pool -------------------------------------------------------------------------
def foo(i: int, seconds: float) -> int:
    with task(f"foo({i})", i):
        time.sleep(seconds)
        print("in process", os.getpid())
    return i + 100


def bar(lab, arg: int) -> None:
    lab.print("-->exec done:", arg, "callback in PID", os.getpid())


def main_pool(lab, size: int, tasks: int, seconds: float) -> dict:
    lab.print("main process:", os.getpid())
    marks = {}

    # apply waits for each task: one at a time
    start = time.time()
    pool = lab.Pool(size)
    for i in range(tasks):
        with lab.state("blocked", f"pool.apply(foo, ({i},))"):
            pool.apply(foo, (i, seconds))
    pool.close()
    pool.join()
    marks["apply"] = [start, time.time()]

    # apply_async returns at once: size tasks run at a time; callbacks run here
    start = time.time()
    pool = lab.Pool(size)
    for i in range(tasks):
        pool.apply_async(foo, (i, seconds), callback=lambda result: bar(lab, result))
    lab.print("end")
    pool.close()
    with lab.state("blocked", "pool.join()"):
        pool.join()
    marks["apply_async"] = [start, time.time()]

    # join() before close() is refused
    pool = lab.Pool(size)
    try:
        pool.join()
        join_error = None
    except ValueError as exc:
        join_error = f"{type(exc).__name__}: {exc}"
        lab.print("pool.join() before pool.close() raised", join_error)
    pool.close()
    pool.join()

    # close() without join(): the program goes on and ends; at exit the pool is terminated
    done = []
    pool = lab.Pool(size)
    for i in range(tasks):
        pool.apply_async(foo, (i, seconds), callback=done.append)
    pool.close()
    lab.print("end (no pool.join(): the program exits here, terminating the pool)")
    pool.terminate()
    return {
        "marks": marks,
        "join_error": join_error,
        "forgot_join": {"submitted": tasks, "done": len(done)},
        "server_pid": os.getpid(),
    }


# -- lab 9: the GIL -------------------------------------------------------------------------
def crunch(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def crunch_jobs(jobs: int, work: int) -> None:
    with state("running", f"crunch({work}) × {jobs}"):
        for _ in range(jobs):
            crunch(work)


def crunch_jobs_in_turns(jobs: int, work: int) -> None:
    # the same work as crunch_jobs, in pieces, so that the timeline can draw the GIL turns
    with state("running", f"crunch({work}) × {jobs}"):
        for _ in range(jobs):
            for piece in gil_turns(work):
                crunch(piece)


def wait_io(jobs: int, seconds: float) -> None:
    for _ in range(jobs):
        with state("sleeping", f"time.sleep({seconds})  # waiting for IO"):
            time.sleep(seconds)


def in_threads(run: Callable[[int, float], None], jobs: int, arg: float, threads: int) -> None:
    # the jobs shared out among the threads: each thread runs run(its share, arg)
    shares = [jobs // threads + (k < jobs % threads) for k in range(threads)]
    ts = [Thread(target=run, args=(share, arg)) for share in shares if share]
    for t in ts:
        t.start()
    with state("blocked", "t.join()"):
        for t in ts:
            t.join()


def main_gil(lab, jobs: int, work: int, threads: int, processes: int, io_seconds: float) -> dict:
    def timed(name: str, runs: list) -> None:
        started = time.perf_counter()
        ps = [lab.Process(target=target, args=args) for target, args in runs]
        for p in ps:
            p.start()
        for p in ps:
            with lab.state("blocked", f"p.join()  # PID {p.pid}"):
                p.join()
        walls[name] = time.perf_counter() - started
        marks[name] = [time.time() - walls[name], time.time()]
        lab.print(f"{name}: {walls[name]:.3f} s")

    walls, marks = {}, {}
    shares = [jobs // processes + (k < jobs % processes) for k in range(processes)]
    timed("CPU, serial", [(crunch_jobs, (jobs, work))])
    timed(f"CPU, {threads} threads", [(in_threads, (crunch_jobs_in_turns, jobs, work, threads))])
    timed(f"CPU, {processes} processes", [(crunch_jobs, (share, work)) for share in shares if share])
    timed("IO, serial", [(wait_io, (jobs, io_seconds))])
    timed(f"IO, {threads} threads", [(in_threads, (wait_io, jobs, io_seconds, threads))])
    return {
        "walls": walls,
        "marks": marks,
        "cpu_count": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
    }
