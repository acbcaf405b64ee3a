"""Stuck: the child waits for an item nobody puts, and the parent waits for the child.

Under ``mpscope run`` each row says what its process waits on, without a click: the child
``get() on jobs``, the parent ``join() on worker``. (The fix: put what the child expects,
or a sentinel that tells it to stop.)
"""

import multiprocessing as mp


def consume(jobs):
    job = jobs.get()  # nobody ever puts: this waits for good
    print("got", job)


if __name__ == "__main__":
    jobs = mp.Queue()
    worker = mp.Process(target=consume, args=(jobs,))
    worker.start()
    worker.join()  # and so does this
