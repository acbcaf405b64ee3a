"""A program (and its child) that ignore SIGTERM and run for ever."""

import signal
import time
from multiprocessing import Process


def stubborn():
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:
        time.sleep(1)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    Process(target=stubborn, name="stubborn-child").start()
    print("ignoring SIGTERM", flush=True)
    while True:
        time.sleep(1)
