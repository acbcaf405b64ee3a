"""The naive baseline: poll a plain Manager every 100 ms and emit the whole state.

This is what most tutorials do: a Flask-SocketIO server (same stack and async mode as
mpscope) holding a plain ``multiprocessing.Manager()`` dict and list, and a background
task that copies both and broadcasts them as one ``state`` event, ten times a second.

For the benchmarks it also starts writer processes (the ``burst`` loop, each write
time-stamped to a file, since a plain Manager records no time) and reports its
Manager's contents. ``python -m benchmarks.polling_server --port 0``; 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import threading

from flask import Flask, jsonify, request
from flask_socketio import SocketIO
from werkzeug.serving import make_server

from benchmarks import plain

POLL = 0.1

app = Flask(__name__)
socketio = SocketIO(app, async_mode="threading", logger=False, engineio_logger=False)
ctx = multiprocessing.get_context("forkserver")
ctx.set_forkserver_preload(["benchmarks.plain"])  # writers start as fast as mpscope's workers
manager = None
shared: dict = {}
writers: list = []


def poll_and_broadcast() -> None:
    """Every 100 ms: copy the whole state out of the Manager and send it to every client."""
    while True:
        socketio.sleep(POLL)
        try:
            snapshot = {"dict": shared["d"].copy(), "list": shared["l"][:]}
        except (EOFError, OSError):  # the Manager is gone: we are shutting down
            return
        socketio.emit("state", snapshot)


@app.get("/healthz")
def healthz():
    return jsonify(server_pid=os.getpid(), manager_pid=manager._process.pid)


@app.get("/api/state")
def state():
    return jsonify(dict=shared["d"].copy(), list=shared["l"][:])


@app.post("/fill")
def fill():
    """Set ``entries`` filler keys at once (the benchmarks' "state size")."""
    n = request.json["entries"]
    shared["d"].update({f"fill:{i}": i for i in range(n)})
    return jsonify(size=len(shared["d"]))


@app.post("/reset")
def reset():
    shared["d"].clear()
    del shared["l"][:]
    return jsonify(ok=True)


@app.post("/spawn")
def spawn():
    """Start ``count`` writers: ``n`` dict writes each at ``rate``/s, stamps saved to ``path``."""
    body = request.json
    started = []
    for _ in range(body["count"]):
        p = ctx.Process(
            target=plain.stamped_burst,
            args=(shared["d"], body["n"], body["rate"], body["keys"], body["path"]),
            daemon=True,
        )
        p.start()
        writers.append(p)
        started.append(p.pid)
    return jsonify(pids=started)


@app.post("/join")
def join():
    """Wait for every writer to finish."""
    while writers:
        writers.pop().join()
    return jsonify(ok=True)


def main() -> None:
    global manager
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    manager = ctx.Manager()
    shared.update(d=manager.dict(), l=manager.list())
    server = make_server("127.0.0.1", args.port, app, threaded=True)
    socketio.start_background_task(poll_and_broadcast)
    print(f"polling baseline running at http://127.0.0.1:{server.server_port}", flush=True)

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever()
    finally:
        for p in writers:
            p.kill()
            p.join()
        manager.shutdown()


if __name__ == "__main__":
    main()
