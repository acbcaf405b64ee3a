"""Command line: ``python -m webapp [--host H] [--port P] [--max-workers N]``."""

from __future__ import annotations

import argparse
import logging
import secrets
import signal
import sys
import threading
from collections.abc import Callable

from flask import Flask

from . import create_app
from .dashboard import Dashboard
from .guard import TOKEN_RE, is_loopback
from .program.cli import run_main
from .serving import make_threaded_server


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="mpscope", description="mpscope dashboard (mpscope run script.py: watch your own program)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5000, help="port (0 picks a free one)")
    parser.add_argument("--max-workers", type=int, default=32, help="most workers alive at once")
    parser.add_argument("--ended-cap", type=int, default=1000, help="ended workers kept listed")
    parser.add_argument("--scrollback", type=int, default=2000, help="output lines kept per worker")
    parser.add_argument(
        "--max-locks", type=int, default=100, help="shared lock names kept (free, unused ones are forgotten)"
    )
    parser.add_argument(
        "--release-dead-locks",
        action="store_true",
        help="release the locks of a holder that dies (off: it keeps them, as in multiprocessing)",
    )
    parser.add_argument(
        "--ended-output-mib",
        type=int,
        default=64,
        help="MiB of output kept for ended workers in all, oldest dropped first (default 64)",
    )
    parser.add_argument(
        "--read-only", action="store_true", help="watch only: spawn, kill and reset are refused"
    )
    parser.add_argument(
        "--token", help="require this token (generated and printed when binding beyond loopback)"
    )
    parser.add_argument("--viewer-token", help="a second token that grants read-only access")
    parser.add_argument(
        "--allow-host", action="append", default=[], help="another Host name to accept (repeatable)"
    )
    parser.add_argument(
        "--rate-limit", type=float, default=50.0, help="commands per second per client (0 = off)"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.max_workers <= 1024:
        parser.error("--max-workers must be from 1 to 1024")
    if args.ended_cap < 0:
        parser.error("--ended-cap must be >= 0")
    if not 1 <= args.max_locks <= 10_000:
        parser.error("--max-locks must be from 1 to 10000")
    if not 1 <= args.scrollback <= 1_000_000:
        parser.error("--scrollback must be from 1 to 1000000")
    if not 0 <= args.ended_output_mib <= 1_048_576:
        parser.error("--ended-output-mib must be from 0 to 1048576")
    for name in ("token", "viewer_token"):
        value = getattr(args, name)
        if value is not None and not TOKEN_RE.fullmatch(value):
            parser.error(f"--{name.replace('_', '-')} must be 16-256 letters, digits, '-' or '_'")
    if args.viewer_token and not args.token and is_loopback(args.host):
        parser.error("--viewer-token needs --token")
    if args.token is None and (args.viewer_token or not is_loopback(args.host)):
        args.token = secrets.token_urlsafe(24)
    return args


def main(argv: list[str] | None = None) -> int:
    return serve(parse_args(argv))


def serve(
    args: argparse.Namespace,
    extra_config: dict | None = None,
    on_listening: Callable[[Flask, str, Callable[[], None]], None] | None = None,
) -> int:
    """Serve the dashboard until SIGINT, SIGTERM or ``stop()``; then ``on_listening(app, url, stop)``."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    app = create_app(
        {
            "MAX_WORKERS": args.max_workers,
            "ENDED_CAP": args.ended_cap,
            "SCROLLBACK": args.scrollback,
            "MAX_LOCKS": args.max_locks,
            "RELEASE_DEAD_LOCKS": args.release_dead_locks,
            "ENDED_OUTPUT_BYTES": args.ended_output_mib * 2**20,
            "READ_ONLY": args.read_only,
            "HOST": args.host,
            "ALLOWED_HOSTS": tuple(args.allow_host),
            "TOKEN": args.token,
            "VIEWER_TOKEN": args.viewer_token,
            "RATE_LIMIT": args.rate_limit,
            **(extra_config or {}),
        }
    )
    dashboard: Dashboard = app.extensions["mpscope"]
    try:
        server = make_threaded_server(app, args.host, args.port)
    except (OSError, SystemExit) as exc:  # Werkzeug reports a busy port with sys.exit(1)
        dashboard.close()
        reason = exc.strerror if isinstance(exc, OSError) else "the address is in use or not available"
        print(f"mpscope: cannot listen on {args.host}:{args.port}: {reason}", file=sys.stderr)
        return 2
    host = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{host}:{server.server_port}"
    notes = " (read-only)" if args.read_only else ""
    print(f"mpscope running at {url}{notes} (Ctrl-C to stop)", flush=True)
    if args.token:
        print(f"  open {url}/?token={args.token} (REST: Authorization: Bearer TOKEN)", flush=True)
    if args.viewer_token:
        print(f"  viewers: {url}/?token={args.viewer_token} (read-only)", flush=True)

    def stop(signum=None, frame=None):
        dashboard.stopping()
        # shutdown() waits for serve_forever() to return, so it cannot run in this thread
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    if on_listening is not None:
        on_listening(app, url, stop)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        dashboard.close()
    return 0


def console_main(argv: list[str] | None = None) -> int:
    """``mpscope [server flags]`` or ``mpscope run script.py ARGS`` (the console script)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["run"]:
        return run_main(argv[1:], parse_args, serve)
    return main(argv)


if __name__ == "__main__":
    sys.exit(console_main())
