"""The tutorial's first program: ten processes, each starting a thread, each saying who it is."""

import multiprocessing
import os
import sys
import threading
import time

SLEEP = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0


def thread_run():
    print("thread", threading.get_ident(), "in process", os.getpid())


def run(name):
    time.sleep(SLEEP)
    print("hello", name, "pid", os.getpid(), "parent", os.getppid())
    t = threading.Thread(target=thread_run)
    t.start()
    t.join()


if __name__ == "__main__":
    print("main process", os.getpid())
    processes = [multiprocessing.Process(target=run, args=(f"msc{i}",)) for i in range(10)]
    for p in processes:
        p.start()
    for p in processes:
        p.join()
