"""A multiprocessing.Queue: the child puts a list, the parent gets it (the data is passed, not shared)."""

import os
import sys
import time
from multiprocessing import Process, Queue

SLEEP = float(sys.argv[1]) if len(sys.argv) > 1 else 0.5


def f(q):
    time.sleep(SLEEP)
    q.put([66, None, "hello from", os.getpid()])


if __name__ == "__main__":
    q = Queue()
    p = Process(target=f, args=(q,))
    p.start()
    print("parent", os.getpid(), "got", q.get())
    p.join()
