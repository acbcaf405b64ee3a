"""Stuck: a Pool worker dies in the middle of a task, and map() waits for that task for ever.

multiprocessing.Pool replaces the dead worker but never re-runs or fails its task: the
result can never come. mpscope marks the task "lost" and names it ("lost_task"); the fix
is to let nothing kill a worker mid-task, or to use concurrent.futures.ProcessPoolExecutor,
which raises BrokenProcessPool instead of waiting.
"""

import multiprocessing as mp
import os
import signal
import time


def work(n):
    if n == 3:
        os.kill(os.getpid(), signal.SIGKILL)  # as the OOM killer would
    time.sleep(0.2)
    return n * n


if __name__ == "__main__":
    with mp.Pool(2) as pool:
        print(pool.map(work, range(6)))
