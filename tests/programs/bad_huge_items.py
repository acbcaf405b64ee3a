"""A Queue of huge bytes items (1 GB by default): mpscope never copies nor reprs one whole."""

import multiprocessing as mp
import sys


def consume(q, n):
    total = 0
    for _ in range(n):
        total += len(q.get())
    print("got", total, flush=True)


if __name__ == "__main__":
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 1 << 30
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    q = mp.Queue()
    p = mp.Process(target=consume, args=(q, n))
    p.start()
    for _ in range(n):
        q.put(bytes(size))
    p.join()
    print("exit", p.exitcode, flush=True)
