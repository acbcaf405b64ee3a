"""Labs 6-7: state shared through a Manager, and a Lock around the one shared screen."""

from __future__ import annotations

import os
import sys
import time

from .report import state


# -- lab 6: manager ------------------------------------------------------------------------
def f(d, l) -> None:  # noqa: E741 -- the tutorial's names
    d[1] = "1"
    d["2"] = 2
    d[0.25] = None
    l.append(os.getpid())
    print(l)


def count(d, n: int, lock, go) -> None:
    go.wait()  # start together, or the first may be done before the last has started
    with state("running", f'd["counter"] += 1, {n} times' + (" with the lock" if lock else "")):
        for _ in range(n):
            if lock is None:
                d["counter"] += 1  # a get, then a set: two requests to the Manager
            else:
                with lock:
                    d["counter"] += 1


def main_manager(lab, processes: int, racers: int, increments: int, tries: int) -> dict:
    with lab.Manager() as manager:
        d = manager.dict()
        l = manager.list(range(5))  # noqa: E741
        ps = [lab.Process(target=f, args=(d, l)) for _ in range(processes)]
        for p in ps:
            p.start()
        for p in ps:
            p.join()
        shared = {"dict": list(d.items()), "list": list(l)}

        races = []
        for use_lock in (False, True):
            lock = lab.Lock() if use_lock else None
            for _ in range(tries):
                d["counter"] = 0
                go = lab.Barrier(racers)
                ps = [lab.Process(target=count, args=(d, increments, lock, go)) for _ in range(racers)]
                for p in ps:
                    p.start()
                for p in ps:
                    p.join()
                got, expected = d["counter"], racers * increments
                lab.print(f"lock={use_lock}: counter = {got} of {expected} ({expected - got} lost)")
                races.append({"lock": use_lock, "got": got, "expected": expected})
    return {**shared, "races": races}


# -- lab 7: lock -------------------------------------------------------------------------------
def say(i: int, lock, lines: int, words: int, go) -> None:
    go.wait()
    for n in range(lines):
        if lock is not None:
            with state("waiting_lock", "lock.acquire()"):
                lock.acquire()
        try:
            for w in range(words):
                sys.stdout.write(f"p{i}.{n}.{w} ")
                sys.stdout.flush()  # a slow screen: every word is a write of its own
                time.sleep(0.001)
            print()
        finally:
            if lock is not None:
                lock.release()


def main_lock(lab, processes: int, lines: int, words: int, lock: str) -> dict:
    phases = {"both": (False, True), "off": (False,), "on": (True,)}[lock]
    marks = []
    for use_lock in phases:
        lab.print(f"--- {processes} processes printing {'with' if use_lock else 'without'} a Lock ---")
        started = time.time()
        the_lock = lab.Lock() if use_lock else None
        go = lab.Barrier(processes)
        ps = [lab.Process(target=say, args=(i, the_lock, lines, words, go)) for i in range(processes)]
        for p in ps:
            p.start()
        for p in ps:
            p.join()
        marks.append({"lock": use_lock, "from": started, "to": time.time()})
    return {"phases": marks}
