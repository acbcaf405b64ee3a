"""Pool(5): apply_async with a callback (it runs in the parent), then map, then a task that fails."""

import os
import sys
import time
from multiprocessing import Pool

SLEEP = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0


def foo(i):
    time.sleep(SLEEP)
    print("in process", os.getpid())
    return i + 100


def bar(arg):
    print("-->exec done:", arg, "in", os.getpid())


def square(x):
    return x * x


def fails(x):
    raise ValueError(f"task {x} failed on purpose")


if __name__ == "__main__":
    pool = Pool(5)
    print("main process:", os.getpid())
    for i in range(10):
        pool.apply_async(func=foo, args=(i,), callback=bar)
    print("end")
    pool.close()
    pool.join()
    with Pool(2) as pool:
        print(pool.map(square, range(20), chunksize=5))
        result = pool.apply_async(fails, (7,), error_callback=lambda e: print("error_callback:", e))
        result.wait()
