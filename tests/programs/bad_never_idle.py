"""A program that never idles: a busy loop putting to and getting from a Queue; its facts
are still sent (the counts grow while it runs)."""

import multiprocessing as mp
import sys
import time

if __name__ == "__main__":
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5
    q = mp.Queue()
    n, deadline = 0, time.time() + seconds
    while time.time() < deadline:
        q.put(n)
        q.get()
        n += 1
    print("looped", n > 0, flush=True)
