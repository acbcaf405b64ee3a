"""Stuck: two processes take two multiprocessing locks in opposite orders.

Each holds one and waits for the other. mpscope shows both locks as panels (holder, waiter),
names the cycle ("deadlock") and each row says which lock it waits to acquire. The fix:
take the locks in one fixed order everywhere.
"""

import multiprocessing as mp
import time


def take(first, second):
    with first:
        time.sleep(0.5)  # long enough for the other process to take its first
        with second:
            print("never printed")


if __name__ == "__main__":
    a, b = mp.Lock(), mp.Lock()
    one = mp.Process(target=take, args=(a, b))
    two = mp.Process(target=take, args=(b, a))
    one.start()
    two.start()
    one.join()
    two.join()
