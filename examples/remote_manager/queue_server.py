"""The multiprocessing docs' remote manager: a queue served over TCP with an authkey.

Run: python queue_server.py [PORT]   (default 50000); clients: queue_client.py
"""

import queue
import sys
from multiprocessing.managers import BaseManager

jobs = queue.Queue()


class QueueManager(BaseManager):
    pass


QueueManager.register("get_queue", callable=lambda: jobs)

if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 50000
    manager = QueueManager(address=("127.0.0.1", port), authkey=b"abracadabra")
    server = manager.get_server()
    print("serving the queue on port", port, flush=True)
    server.serve_forever()
