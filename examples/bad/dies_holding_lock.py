"""A child dies holding a Manager lock; the next one waits for it forever (until released)."""

import multiprocessing as mp
import os
import time


def hold_and_die(lock):
    lock.acquire()
    print("holder", os.getpid(), "took the lock and dies", flush=True)
    os._exit(1)


def wait_for_it(lock):
    print("waiter", os.getpid(), "waits for the lock", flush=True)
    with lock:
        print("waiter got the lock", flush=True)


if __name__ == "__main__":
    with mp.Manager() as m:
        lock = m.Lock()
        holder = mp.Process(target=hold_and_die, args=(lock,))
        holder.start()
        holder.join()
        waiter = mp.Process(target=wait_for_it, args=(lock,))
        waiter.start()
        waiter.join()
        time.sleep(0.2)
