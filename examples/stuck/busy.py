"""Not stuck: a process busy computing is running, not waiting (its row shows no wait)."""

import multiprocessing as mp
import time


def spin(seconds):
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        n += 1


if __name__ == "__main__":
    p = mp.Process(target=spin, args=(60,))
    p.start()
    p.join()
