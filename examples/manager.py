"""The tutorial's Manager example: ten processes write d[pid] = pid and l.append(pid)."""

import os
from multiprocessing import Manager, Process


def f(d, l):  # noqa: E741 -- the tutorial's names
    d[os.getpid()] = os.getpid()
    l.append(os.getpid())
    print(l)


if __name__ == "__main__":
    with Manager() as manager:
        d = manager.dict()
        l = manager.list(range(5))  # noqa: E741
        p_list = []
        for _ in range(10):
            p = Process(target=f, args=(d, l))
            p.start()
            p_list.append(p)
        for res in p_list:
            res.join()
        print(d)
        print(l)
