"""The spawn start method for Process, and a forkserver context for a Pool, in one program."""

import multiprocessing as mp
import os
import sys
import time

SLEEP = float(sys.argv[1]) if len(sys.argv) > 1 else 0.5


def child(name):
    time.sleep(SLEEP)
    print(name, "started by spawn:", os.getpid(), mp.current_process().name)


def cube(x):
    return x**3


if __name__ == "__main__":
    mp.set_start_method("spawn")
    p = mp.Process(target=child, args=("spawned",), name="spawned-child")
    p.start()
    p.join()
    with mp.get_context("forkserver").Pool(2) as pool:
        print("cubes:", pool.map(cube, range(8)))
