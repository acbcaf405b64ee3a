"""A Manager-heavy program: ``manager_writes.py PROCS WRITES [RATE GO_FILE]``; prints ``elapsed S``.

Each of PROCS processes writes WRITES dict entries, flat out (RATE 0) or RATE per second each;
with GO_FILE, the writers wait for that file to exist first (a benchmark's client connects
meanwhile), and the time is taken from then.
"""

import os
import sys
import time
from multiprocessing import Manager, Process


def write(d, n, rate, go):
    while go and not os.path.exists(go):
        time.sleep(0.01)
    pid = os.getpid()
    start = time.monotonic()
    for i in range(n):
        d[f"{pid}:{i % 100}"] = i
        if rate:
            ahead = start + (i + 1) / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)


if __name__ == "__main__":
    procs, writes = int(sys.argv[1]), int(sys.argv[2])
    rate = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    go = sys.argv[4] if len(sys.argv) > 4 else None
    start = time.perf_counter()
    with Manager() as manager:
        d = manager.dict()
        processes = [Process(target=write, args=(d, writes, rate, go)) for _ in range(procs)]
        for p in processes:
            p.start()
        if go:  # timed from the go signal: a benchmark's client connects before it
            while not os.path.exists(go):
                time.sleep(0.01)
            start = time.perf_counter()
        for p in processes:
            p.join()
    print(f"elapsed {time.perf_counter() - start:.4f}")
