"""A Manager-heavy program: ``manager_writes.py PROCS WRITES`` (dict writes each); prints ``elapsed S``."""

import os
import sys
import time
from multiprocessing import Manager, Process


def write(d, n):
    pid = os.getpid()
    for i in range(n):
        d[f"{pid}:{i % 100}"] = i


if __name__ == "__main__":
    procs, writes = int(sys.argv[1]), int(sys.argv[2])
    start = time.perf_counter()
    with Manager() as manager:
        d = manager.dict()
        processes = [Process(target=write, args=(d, writes)) for _ in range(procs)]
        for p in processes:
            p.start()
        for p in processes:
            p.join()
    print(f"elapsed {time.perf_counter() - start:.4f}")
