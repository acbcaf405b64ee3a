"""A Condition held (twice: its lock is an RLock) by the main process while one child waits in
``wait()`` and another waits to acquire it: the Condition panel's holder and waiters."""

import multiprocessing as mp
import time


def waiter(cond, ready):
    with cond:
        ready.set()
        cond.wait()


def taker(cond):
    with cond:
        pass


if __name__ == "__main__":
    mp.set_start_method("fork")
    cond, ready = mp.Condition(), mp.Event()
    mp.Process(target=waiter, args=(cond, ready), name="waiter").start()
    ready.wait()
    cond.acquire()
    cond.acquire()
    mp.Process(target=taker, args=(cond,), name="taker").start()
    print("holding", flush=True)
    time.sleep(120)
