"""A program that starts 200 processes at once, each sleeping a little."""

import sys
import time
from multiprocessing import Process

SLEEP = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0

if __name__ == "__main__":
    processes = [Process(target=time.sleep, args=(SLEEP,)) for _ in range(200)]
    for p in processes:
        p.start()
    print("started", len(processes), "processes", flush=True)
    for p in processes:
        p.join()
    print("all 200 ended")
