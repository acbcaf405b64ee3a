"""A multiprocessing.Lock-heavy program: ``native_lock.py PROCS TIMES``; prints ``elapsed S``.

PROCS processes each take one shared mp.Lock TIMES times (``with lock: pass``).
"""

import multiprocessing as mp
import sys
import time


def work(lock, n):
    for _ in range(n):
        with lock:
            pass


if __name__ == "__main__":
    procs, times = int(sys.argv[1]), int(sys.argv[2])
    start = time.perf_counter()
    lock = mp.Lock()
    ps = [mp.Process(target=work, args=(lock, times)) for _ in range(procs)]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
    print(f"elapsed {time.perf_counter() - start:.4f}")
