"""Labs 1-3: start processes, a thread inside each, and who each process's parent is."""

from __future__ import annotations

import os
import sys
import threading
import time

from .report import Thread, record, state


# -- lab 1: process --------------------------------------------------------------------
def run(name: str, seconds: float) -> None:
    with state("sleeping", f"time.sleep({seconds})"):
        time.sleep(seconds)
    print("hello", name)


def main_process(lab, processes: int, seconds: float) -> dict:
    started = time.perf_counter()
    ps = [lab.Process(target=run, args=(f"msc{i}", seconds)) for i in range(processes)]
    for p in ps:
        p.start()
    for p in ps:
        with lab.state("blocked", f"p.join()  # PID {p.pid}"):
            p.join()
    wall = time.perf_counter() - started
    lab.print(f"all {processes} processes done in {wall:.2f} s")
    return {"wall": wall, "start_order": [p.pid for p in ps]}


# -- lab 2: a thread inside each process -------------------------------------------------
def thread_run() -> None:
    print("thread", threading.get_ident(), "in PID", os.getpid())


def run_with_thread(name: str, seconds: float) -> None:
    with state("sleeping", f"time.sleep({seconds})"):
        time.sleep(seconds)
    print("hello", name, "from main thread", threading.get_ident(), "in PID", os.getpid())
    t = Thread(target=thread_run)  # a threading.Thread that also draws itself on the timeline
    t.start()
    t.join()


def main_threads(lab, processes: int, seconds: float) -> dict:
    ps = [lab.Process(target=run_with_thread, args=(f"msc{i}", seconds)) for i in range(processes)]
    for p in ps:
        p.start()
    for p in ps:
        with lab.state("blocked", f"p.join()  # PID {p.pid}"):
            p.join()
    return {"pids": [p.pid for p in ps]}


# -- lab 3: who is my parent -------------------------------------------------------------
def info(title: str) -> None:
    print(title)
    print("module name:", __name__)
    print("__main__ is called:", sys.modules["__main__"].__name__)
    print("parent process:", os.getppid())
    print("process id:", os.getpid())
    record("children", {"pid": os.getpid(), "ppid": os.getppid(), "main": sys.modules["__main__"].__name__})


def f(name: str) -> None:
    info("called from child process function f")
    print("hello", name)


def main_parent(lab, children: int, start_method: str) -> dict:
    lab.print("main process line")
    lab.print("module name:", __name__)
    lab.print("__main__ is called:", sys.modules["__main__"].__name__)
    lab.print("parent process:", os.getppid())
    lab.print("process id:", os.getpid())
    # start_method="spawn" starts a fresh interpreter straight from the server;
    # the default (forkserver) forks each child from the fork server process.
    ps = [lab.Process(target=f, args=(f"child{i}",), start_method=start_method) for i in range(children)]
    for p in ps:
        p.start()
    for p in ps:
        with lab.state("blocked", f"p.join()  # PID {p.pid}"):
            p.join()
    return {"server_pid": os.getpid(), "server_ppid": os.getppid(), "start_method": start_method}
