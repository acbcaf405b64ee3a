"""10,000 native objects (Locks, Events, Queues... made in a loop and kept): mpscope follows a
bounded number of them; the program ends as without it."""

import multiprocessing as mp
import sys


def child(objects):
    print("child sees", len(objects), flush=True)


if __name__ == "__main__":
    mp.set_start_method(sys.argv[1] if len(sys.argv) > 1 else "fork")
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    locks = [mp.Lock() for _ in range(n)]
    values = [mp.Value("i", i) for i in range(n // 10)]
    queues = [mp.Queue() for _ in range(n // 100)]
    for i, q in enumerate(queues):
        q.put(i)
    got = sum(q.get() for q in queues)
    p = mp.Process(target=child, args=(locks[:100],))
    p.start()
    p.join()
    print("made", len(locks), len(values), len(queues), got, flush=True)
    if len(sys.argv) > 3:  # wait for the test to look, then end
        sys.stdin.readline()
