"""Two processes take two Manager locks in opposite orders: a deadlock (the dashboard shows the cycle)."""

import multiprocessing as mp
import time


def take(first, second, name):
    with first:
        time.sleep(0.5)  # long enough for the other to take its first lock
        print(name, "waits for its second lock", flush=True)
        with second:
            print(name, "got both")  # never printed


if __name__ == "__main__":
    with mp.Manager() as m:
        a, b = m.Lock(), m.Lock()
        p = mp.Process(target=take, args=(a, b, "p"))
        q = mp.Process(target=take, args=(b, a, "q"))
        p.start()
        q.start()
        p.join()
        q.join()
