"""Many small Pool tasks, each with a callback: ``pool_callbacks.py TASKS``; prints ``elapsed S``.

``apply_async(f, callback=cb)`` TASKS times on a Pool(2) (issue 21: 100,000 took 4.8 s plain
and 319 s under mpscope, which scanned every kept task per callback).
"""

import sys
import time
from multiprocessing import Pool


def square(x):
    return x * x


if __name__ == "__main__":
    tasks = int(sys.argv[1])
    results = []
    start = time.perf_counter()
    with Pool(2) as pool:
        pending = [pool.apply_async(square, (i,), callback=results.append) for i in range(tasks)]
        for result in pending:
            result.wait()
    assert len(results) == tasks
    print(f"elapsed {time.perf_counter() - start:.4f}")
