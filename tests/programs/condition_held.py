"""A Condition held (twice: its lock is an RLock) by the main process while one child waits in
``wait()`` and another waits to acquire it: the Condition panel's holder and waiters.

``condition_held.py [START_METHOD]``: fork unless told."""

import multiprocessing as mp
import sys
import time


def waiter(cond, ready):
    with cond:
        ready.set()
        cond.wait()


def taker(cond):
    with cond:
        pass


if __name__ == "__main__":
    mp.set_start_method(sys.argv[1] if len(sys.argv) > 1 else "fork")
    cond, ready = mp.Condition(), mp.Event()
    mp.Process(target=waiter, args=(cond, ready), name="waiter").start()
    ready.wait()
    cond.acquire()
    cond.acquire()
    mp.Process(target=taker, args=(cond,), name="taker").start()
    print("holding", flush=True)
    time.sleep(120)
