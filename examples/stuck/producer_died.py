"""Stuck: the consumer waits in get() on a Queue whose only producer died.

The producer puts three results and then fails before the fourth; the consumer (the
parent) expects four. Under ``mpscope run`` the Queue's panel shows 3 put, 3 got and the
parent blocked in get(); the producer's row has ended (its traceback in its output). The
fix: send a sentinel when done (also from an ``except``/``finally``), or get(timeout=...)
and check the producer's exitcode.
"""

import multiprocessing as mp


def produce(results):
    for i in range(3):
        results.put(("result", i))
    raise RuntimeError("the producer failed before its fourth result")


if __name__ == "__main__":
    results = mp.Queue()
    producer = mp.Process(target=produce, args=(results,))
    producer.start()
    for _ in range(4):
        print("got", results.get(), flush=True)  # the fourth never comes
