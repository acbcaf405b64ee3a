"""Command line: ``python -m webapp [--host H] [--port P] [--max-workers N]``."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from werkzeug.serving import make_server

from . import create_app
from .dashboard import Dashboard


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m webapp", description="mpscope dashboard")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5000, help="port (0 picks a free one)")
    parser.add_argument("--max-workers", type=int, default=32, help="most workers alive at once")
    parser.add_argument("--ended-cap", type=int, default=1000, help="ended workers kept listed")
    args = parser.parse_args(argv)
    if not 1 <= args.max_workers <= 1024:
        parser.error("--max-workers must be from 1 to 1024")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    app = create_app({"MAX_WORKERS": args.max_workers, "ENDED_CAP": args.ended_cap})
    dashboard: Dashboard = app.extensions["mpscope"]
    try:
        server = make_server(args.host, args.port, app, threaded=True)
    except OSError as exc:
        dashboard.close()
        print(f"mpscope: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 2
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"mpscope running at http://{host}:{server.server_port} (Ctrl-C to stop)", flush=True)

    def stop(signum, frame):
        # shutdown() waits for serve_forever() to return, so it cannot run in this thread
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        dashboard.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
