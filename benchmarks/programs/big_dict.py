"""A Manager dict of many small entries: ``big_dict.py ENTRIES BATCH GO_FILE``; prints ``elapsed S``.

Makes one Manager dict, waits for GO_FILE to exist (a benchmark reads the dashboard's
memory meanwhile), fills it with ENTRIES int keys and int values, BATCH at a time through
``update`` (1: one ``d[i] = i`` each), then keeps the Manager (and so the dict) alive until
GO_FILE is removed, so that the benchmark can read what the dashboard holds for it.
"""

import os
import sys
import time
from multiprocessing import Manager

if __name__ == "__main__":
    entries = int(sys.argv[1])
    batch, go = int(sys.argv[2]), sys.argv[3]
    with Manager() as m:
        d = m.dict()
        while not os.path.exists(go):
            time.sleep(0.02)
        start = time.monotonic()
        for first in range(0, entries, batch):
            if batch == 1:
                d[first] = first
            else:
                d.update([(i, i) for i in range(first, min(entries, first + batch))])
        print(f"elapsed {time.monotonic() - start:.3f}", flush=True)
        while os.path.exists(go):
            time.sleep(0.05)
