"""A remote Manager (TCP, with an authkey) that refuses clients with a wrong key, timed from
inside; prints ``elapsed S``. Each refused connection must cost the Manager what it costs
under plain python: mpscope looks a TCP peer up (in /proc) only once it authenticated.

Run: python refused_clients.py [CONNECTIONS]
"""

import sys
import threading
import time
from multiprocessing import AuthenticationError
from multiprocessing.managers import BaseManager


class QueueManager(BaseManager):
    pass


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    server = QueueManager(address=("127.0.0.1", 0), authkey=b"right").get_server()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    start = time.perf_counter()
    for _ in range(count):
        try:
            QueueManager(address=server.address, authkey=b"wrong").connect()
        except AuthenticationError:
            pass
    print(f"elapsed {time.perf_counter() - start:.4f}")
