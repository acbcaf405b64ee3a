"""Ten processes share one screen: a Lock lets one of them print at a time."""

import sys
import time
from multiprocessing import Lock, Process

SLEEP = float(sys.argv[1]) if len(sys.argv) > 1 else 0.1


def f(lock, i):
    with lock:
        print("hello world", i)
        time.sleep(SLEEP)


if __name__ == "__main__":
    lock = Lock()
    processes = [Process(target=f, args=(lock, num)) for num in range(10)]
    for p in processes:
        p.start()
    for p in processes:
        p.join()
