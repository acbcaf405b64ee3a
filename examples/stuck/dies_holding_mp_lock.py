"""Stuck: a child dies holding a multiprocessing Lock; the parent waits for it for good.

A POSIX semaphore is not given back when its holder dies. mpscope shows the lock held by a
process that ended ("dead_holder"), and the parent's row says it waits to acquire it.
**Release** on the lock's panel has a live process of the program (here the parent, which
has the lock) free it: the parent then takes it and the program ends.
"""

import multiprocessing as mp
import os
import time


def hold_and_die(lock):
    lock.acquire()
    time.sleep(1)  # its work, under the lock
    os._exit(1)  # then a crash: no release


if __name__ == "__main__":
    guard = mp.Lock()
    child = mp.Process(target=hold_and_die, args=(guard,))
    child.start()
    child.join()
    with guard:  # taken only once someone releases it for the dead child
        print("released: the parent took the lock")
