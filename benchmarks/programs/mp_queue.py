"""An mp.Queue-heavy program: ``mp_queue.py PRODUCERS ITEMS``; prints ``elapsed S``.

PRODUCERS processes each put ITEMS small items on one multiprocessing.Queue; one consumer
(the main process) gets them all.
"""

import multiprocessing as mp
import sys
import time


def produce(q, n):
    for i in range(n):
        q.put(i)


if __name__ == "__main__":
    producers, items = int(sys.argv[1]), int(sys.argv[2])
    start = time.perf_counter()
    q = mp.Queue()
    ps = [mp.Process(target=produce, args=(q, items)) for _ in range(producers)]
    for p in ps:
        p.start()
    for _ in range(producers * items):
        q.get()
    for p in ps:
        p.join()
    print(f"elapsed {time.perf_counter() - start:.4f}")
