"""Stuck: the docs' "joining processes that use queues" — join() before get().

The child put a big item on the queue; it cannot exit until the item is written into the
queue's pipe, which fills up until someone reads it. The parent joins the child before it
reads: each waits for the other. mpscope names it ("queue_join") with the fix: get() the
items before join() (https://docs.python.org/3/library/multiprocessing.html#programming-guidelines).
"""

import multiprocessing as mp


def produce(results):
    results.put("X" * 1_000_000)  # more than a pipe holds


if __name__ == "__main__":
    results = mp.Queue()
    child = mp.Process(target=produce, args=(results,))
    child.start()
    child.join()  # waits for the child, which waits for this process to read
    print(len(results.get()))
