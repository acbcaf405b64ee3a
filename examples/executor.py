"""concurrent.futures.ProcessPoolExecutor: submit, map, and a task that fails."""

import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor


def slow_square(x):
    time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 0.2)
    return x * x


def fails(x):
    raise RuntimeError(f"no luck with {x}")


if __name__ == "__main__":
    with ProcessPoolExecutor(max_workers=2) as executor:
        futures = [executor.submit(slow_square, i) for i in range(4)]
        print("squares:", [f.result() for f in futures])
        print("mapped:", list(executor.map(slow_square, range(4))))
        print("failure:", repr(executor.submit(fails, 3).exception()))
    print("main", os.getpid(), "done")
