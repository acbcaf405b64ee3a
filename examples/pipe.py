"""A Pipe: the child sends twice and receives once; the parent receives twice and sends once."""

import sys
import time
from multiprocessing import Pipe, Process

SLEEP = float(sys.argv[1]) if len(sys.argv) > 1 else 0.5


def f(conn):
    conn.send([42, None, "hello from child1"])
    time.sleep(SLEEP)
    conn.send([66, None, "hello from child2"])
    print("child received:", conn.recv())
    conn.close()


if __name__ == "__main__":
    parent_conn, child_conn = Pipe()
    p = Process(target=f, args=(child_conn,))
    p.start()
    print(parent_conn.recv())
    print(parent_conn.recv())
    parent_conn.send("data from parent_conn")
    p.join()
