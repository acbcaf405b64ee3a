"""The seed tutorial's Manager example, timed from inside; prints ``elapsed S``."""

import os
import time
from multiprocessing import Manager, Process


def f(d, l):  # noqa: E741 -- the tutorial's names
    d[os.getpid()] = os.getpid()
    l.append(os.getpid())


if __name__ == "__main__":
    start = time.perf_counter()
    with Manager() as manager:
        d = manager.dict()
        l = manager.list(range(5))  # noqa: E741
        processes = [Process(target=f, args=(d, l)) for _ in range(10)]
        for p in processes:
            p.start()
        for p in processes:
            p.join()
    print(f"elapsed {time.perf_counter() - start:.4f}")
