"""A client of queue_server.py (from this host or another): put a few items, take one back.

Run: python queue_client.py [HOST] [PORT]
"""

import sys
from multiprocessing.managers import BaseManager


class QueueManager(BaseManager):
    pass


QueueManager.register("get_queue")

if __name__ == "__main__":
    host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 50000
    manager = QueueManager(address=(host, port), authkey=b"abracadabra")
    manager.connect()
    q = manager.get_queue()
    for word in ("hello", "from", "a client"):
        q.put(word)
    print("took back:", q.get())
