"""Two producers and two consumers on a JoinableQueue; a None per consumer stops it."""

import os
import sys
import time
from multiprocessing import JoinableQueue, Process

ITEMS = int(sys.argv[1]) if len(sys.argv) > 1 else 20


def produce(q, name, count):
    for i in range(count):
        q.put(f"{name}-{i}")
        time.sleep(0.01)
    print(name, "produced", count, "items")


def consume(q):
    done = 0
    while q.get() is not None:
        done += 1
        q.task_done()
    q.task_done()
    print("consumer", os.getpid(), "handled", done, "items")


if __name__ == "__main__":
    q = JoinableQueue()
    consumers = [Process(target=consume, args=(q,), name=f"consumer-{i}") for i in range(2)]
    producers = [
        Process(target=produce, args=(q, f"producer-{i}", ITEMS), name=f"producer-{i}") for i in range(2)
    ]
    for p in consumers + producers:
        p.start()
    for p in producers:
        p.join()
    for _ in consumers:
        q.put(None)
    q.join()
    for p in consumers:
        p.join()
    print("all", 2 * ITEMS, "items handled")
