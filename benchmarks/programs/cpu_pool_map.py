"""A CPU-bound Pool.map, timed from inside: ``python cpu_pool_map.py ITEMS SIZE``; prints ``elapsed S``."""

import sys
import time
from multiprocessing import Pool


def work(n):
    total = 0
    for i in range(n):
        total += i * i
    return total


if __name__ == "__main__":
    items, size = int(sys.argv[1]), int(sys.argv[2])
    start = time.perf_counter()
    with Pool(2) as pool:
        pool.map(work, [size] * items)
    print(f"elapsed {time.perf_counter() - start:.4f}")
