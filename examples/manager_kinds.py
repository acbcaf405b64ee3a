"""Every kind of object a Manager serves, shared with two child processes.

Run: python manager_kinds.py [fork|spawn|forkserver]
"""

import multiprocessing as mp
import os
import sys


def worker(q, ns, v, a, ev, b, lock, rlock, sem, cond, d, l):  # noqa: E741 -- the tutorial's names
    pid = os.getpid()
    q.put(pid)
    ns.last = pid
    with lock:  # v.value += 1 is a read and a write: without the lock an update can be lost
        v.value += 1
        a[v.value - 1] = pid
        d[pid] = "wrote under the lock"
    with rlock, rlock:  # an RLock may be taken again by its holder
        l.append(pid)
    with sem:
        pass
    b.wait()  # both children meet here
    ev.wait()  # until the parent sets it
    with cond:
        cond.notify_all()


if __name__ == "__main__":
    mp.set_start_method(sys.argv[1] if len(sys.argv) > 1 else "spawn")
    with mp.Manager() as m:
        q, jq, ns = m.Queue(), m.JoinableQueue(), m.Namespace()
        v, a = m.Value("i", 0), m.Array("i", [0, 0])
        ev, b = m.Event(), m.Barrier(2)
        lock, rlock, sem, bsem, cond = (
            m.Lock(),
            m.RLock(),
            m.Semaphore(2),
            m.BoundedSemaphore(1),
            m.Condition(),
        )
        d, l = m.dict(), m.list()  # noqa: E741
        shared = (q, ns, v, a, ev, b, lock, rlock, sem, cond, d, l)
        children = [mp.Process(target=worker, args=shared) for _ in range(2)]
        for p in children:
            p.start()
        ev.set()
        for p in children:
            p.join()
        jq.put("job")
        jq.get()
        jq.task_done()
        jq.join()
        with bsem:
            pass
        d["nested"] = [l]  # a proxy inside a shared value
        print("queue holds", q.qsize(), "items; counter", v.value, "; list", len(l), "; dict", len(d))
        print("nested list read back:", len(d["nested"][0]), "items")
