"""Command line: ``mpscope [server flags]`` (``python -m webapp``), or ``mpscope run [flags] script.py ARGS``.

Every server flag is defined once, in :data:`SERVER_FLAGS`: the built-in dashboard's parser
and the ``run`` subcommand's both take them.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask

from . import create_app
from .allocator import keep_big_blocks_mapped
from .collector import settle_after_start_up
from .dashboard import Dashboard
from .program import cli
from .recording import RecordingRefused
from .recording.writer import is_recording
from .serving import make_threaded_server
from .web.guard import TOKEN_RE, is_loopback

# The dashboard server's flags, for `mpscope` and `mpscope run` alike: (flag, add_argument keywords).
SERVER_FLAGS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("--host", {"default": "127.0.0.1", "help": "address to bind"}),
    ("--port", {"type": int, "default": 5000, "help": "port (0 picks a free one)"}),
    ("--max-workers", {"type": int, "default": 32, "help": "most workers alive at once"}),
    ("--ended-cap", {"type": int, "default": 1000, "help": "ended workers kept listed"}),
    ("--scrollback", {"type": int, "default": 2000, "help": "output lines kept per worker"}),
    (
        "--max-locks",
        {"type": int, "default": 100, "help": "shared lock names kept (free, unused ones are forgotten)"},
    ),
    (
        "--max-entries",
        {
            "type": int,
            "default": 1_000_000,
            "help": "entries kept per shared dict (beyond: counted, not kept; the page says how many)",
        },
    ),
    (
        "--release-dead-locks",
        {
            "action": "store_true",
            "help": "release the locks of a holder that dies (off: it keeps them, as in multiprocessing)",
        },
    ),
    (
        "--ended-output-mib",
        {
            "type": int,
            "default": 64,
            "help": "MiB of output kept for ended workers in all, oldest dropped first",
        },
    ),
    ("--read-only", {"action": "store_true", "help": "watch only: spawn, kill and reset are refused"}),
    (
        "--token",
        {"help": "require this token (generated under mpscope run, mpscope open and beyond loopback)"},
    ),
    (
        "--no-token",
        {
            "action": "store_true",
            "help": "require no token, on loopback only: any local user can then read and control it",
        },
    ),
    ("--viewer-token", {"help": "a second token that grants read-only access"}),
    ("--allow-host", {"action": "append", "default": [], "help": "another Host name to accept (repeatable)"}),
    ("--rate-limit", {"type": float, "default": 50.0, "help": "commands per second per client (0 = off)"}),
    (
        "--record",
        {
            "metavar": "RUN.sqlite",
            "help": "record everything the dashboard sees into this file (docs/recording.md)",
        },
    ),
    (
        "--record-max-mib",
        {"type": int, "default": 1024, "help": "most MiB the recording holds (oldest output dropped first)"},
    ),
)

# the repeatable ones, by their attribute's name
REPEATABLE = {
    flag: flag[2:].replace("-", "_") for flag, spec in SERVER_FLAGS if spec.get("action") == "append"
}


def add_server_flags(parser: argparse.ArgumentParser, defaults: bool = True) -> None:
    """Add :data:`SERVER_FLAGS` to ``parser``; without ``defaults``, an absent flag sets nothing.

    ``run``'s copy has no defaults, so that ``mpscope --port 0 run x.py`` keeps its ``--port``
    (argparse copies what a subcommand's parser sets over the main parser's values); its
    repeatable flags collect into ``run_<dest>``, joined to the main parser's by :func:`parse_args`.
    """
    group = parser.add_argument_group("server flags")
    for flag, spec in SERVER_FLAGS:
        spec = dict(spec)
        if spec.get("default") not in (None, []):
            text = spec["help"]
            note = f"default {spec['default']}"
            spec["help"] = f"{text[:-1]}; {note})" if text.endswith(")") else f"{text} ({note})"
        if not defaults:
            spec["default"] = argparse.SUPPRESS
            if flag in REPEATABLE:
                spec.update(dest=f"run_{REPEATABLE[flag]}", metavar=REPEATABLE[flag].upper())
        group.add_argument(flag, **spec)


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The ``mpscope`` parser and its subcommands' parsers (``run``, ``open``, ``export``).

    Neither takes abbreviated flags: a program's ``--r`` after its script would otherwise
    be refused as ambiguous before the program's arguments are set aside.
    """
    parser = argparse.ArgumentParser(
        prog="mpscope",
        description="mpscope dashboard (mpscope run script.py: watch your own program)",
        allow_abbrev=False,
    )
    add_server_flags(parser)
    commands = parser.add_subparsers(dest="command", title="watch your own program")
    run = commands.add_parser(
        "run",
        prog="mpscope run",
        usage=cli.USAGE,
        help="mpscope run [flags] script.py ARGS: run a program and watch it (mpscope run -h)",
        description="Run a Python program as `python script.py ARGS` would, and watch it on the dashboard.",
        epilog="Everything from the script (or -m module) on is the program's command line, untouched; "
        "-- ends mpscope's flags.",
        allow_abbrev=False,
    )
    cli.add_run_arguments(run)
    add_server_flags(run, defaults=False)
    replay = _recording_command(
        commands,
        "open",
        help="mpscope open RUN.sqlite: serve a recording, read-only, with a time slider",
        description="Serve a recording (mpscope run --record RUN.sqlite) on the dashboard, read-only, "
        "with a time slider.",
    )
    add_server_flags(replay, defaults=False)
    export = _recording_command(
        commands,
        "export",
        help="mpscope export RUN.sqlite -o trace.json: a recording as Chrome trace events (Perfetto)",
        description="Write a recording as Chrome trace event JSON, for Perfetto (ui.perfetto.dev) "
        "and chrome://tracing.",
    )
    export.add_argument("-o", "--output", required=True, metavar="trace.json", help="the file to write")
    return parser, {"run": run, "open": replay, "export": export}


def _recording_command(commands: Any, name: str, help: str, description: str) -> argparse.ArgumentParser:
    """The parser of ``mpscope NAME RUN.sqlite``, a subcommand that reads one recording."""
    parser = commands.add_parser(
        name, prog=f"mpscope {name}", help=help, description=description, allow_abbrev=False
    )
    parser.add_argument("recording", metavar="RUN.sqlite", help=f"the recording to {name}")
    return parser


def check_server_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse values out of range through ``parser.error``; make up a token where one is needed."""
    if not 1 <= args.max_workers <= 1024:
        parser.error("--max-workers must be from 1 to 1024")
    if args.ended_cap < 0:
        parser.error("--ended-cap must be >= 0")
    if not 1 <= args.max_locks <= 10_000:
        parser.error("--max-locks must be from 1 to 10000")
    if not 1 <= args.max_entries <= 100_000_000:
        parser.error("--max-entries must be from 1 to 100000000")
    if not 1 <= args.scrollback <= 1_000_000:
        parser.error("--scrollback must be from 1 to 1000000")
    if not 0 <= args.ended_output_mib <= 1_048_576:
        parser.error("--ended-output-mib must be from 0 to 1048576")
    if not 1 <= args.record_max_mib <= 1_048_576:
        parser.error("--record-max-mib must be from 1 to 1048576")
    if args.record is not None:
        path = Path(args.record)
        if not path.parent.is_dir():
            parser.error(f"--record: cannot record into {args.record!r}: no such directory")
        if path.exists() and (not path.is_file() or (path.stat().st_size and not is_recording(path))):
            parser.error(
                f"--record: {args.record!r} exists and is not an mpscope recording (not replacing it)"
            )
    for name in ("token", "viewer_token"):
        value = getattr(args, name)
        if value is not None and not TOKEN_RE.fullmatch(value):
            parser.error(f"--{name.replace('_', '-')} must be 16-256 letters, digits, '-' or '_'")
    if args.viewer_token and not args.token and is_loopback(args.host):
        parser.error("--viewer-token needs --token")
    if args.no_token:
        if args.token or args.viewer_token:
            parser.error("--no-token goes with neither --token nor --viewer-token")
        if not is_loopback(args.host):
            parser.error("--no-token: a dashboard bound beyond loopback always needs a token")
    elif args.token is None and (
        args.viewer_token or not is_loopback(args.host) or args.command in ("run", "open")
    ):
        # a watched program's state and control are its owner's, even from other local users;
        # so is a recording's (its objects' values, output and argv may hold the program's secrets)
        args.token = secrets.token_urlsafe(24)


def check_recording(parser: argparse.ArgumentParser, path: str) -> None:
    """Refuse a path that is not a readable mpscope recording."""
    if not os.path.isfile(path):
        parser.error(f"cannot open {path!r}: no such file")
    if not is_recording(Path(path)):
        parser.error(f"{path!r} is not an mpscope recording")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse and check ``mpscope``'s command line; exit 2 with a message if it is wrong.

    ``command`` is None for the built-in dashboard, or ``"run"``: then ``python`` is the
    interpreter's path and ``program`` what follows it on the program's command line
    (``[script, *args]`` or ``["-m", module, *args]``: see ``cli.check_run_args``).
    """
    parser, subs = build_parser()
    run = subs["run"]
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # said by the parser of the command they were given to
        subs.get(args.command, parser).error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command in ("run", "open"):
        for dest in REPEATABLE.values():  # given before and after `run`: all of them
            setattr(args, dest, [*getattr(args, dest), *vars(args).pop(f"run_{dest}", [])])
    if args.command == "run":
        cli.check_run_args(run, args)
        check_server_args(run, args)
    elif args.command == "open":
        sub = subs["open"]
        check_recording(sub, args.recording)
        if args.record:
            sub.error("--record: mpscope open records nothing (the recording is read-only)")
        args.read_only = True
        check_server_args(sub, args)
    elif args.command == "export":
        check_recording(subs["export"], args.recording)
    else:
        check_server_args(parser, args)
    return args


def server_config(args: argparse.Namespace) -> dict[str, Any]:
    """The app's configuration from the server flags."""
    return {
        "MAX_WORKERS": args.max_workers,
        "ENDED_CAP": args.ended_cap,
        "SCROLLBACK": args.scrollback,
        "MAX_LOCKS": args.max_locks,
        "MAX_ENTRIES": args.max_entries,
        "RELEASE_DEAD_LOCKS": args.release_dead_locks,
        "ENDED_OUTPUT_BYTES": args.ended_output_mib * 2**20,
        "READ_ONLY": args.read_only,
        "HOST": args.host,
        "ALLOWED_HOSTS": tuple(args.allow_host),
        "TOKEN": args.token,
        "VIEWER_TOKEN": args.viewer_token,
        "RATE_LIMIT": args.rate_limit,
        "RECORD": args.record,
        "RECORD_MAX_BYTES": args.record_max_mib * 2**20,
    }


def main(argv: list[str] | None = None) -> int:
    """``mpscope [server flags]`` or ``mpscope run [flags] script.py ARGS`` (the console script)."""
    args = parse_args(argv)
    if args.command == "run":
        return cli.run_main(args, serve)
    if args.command == "open":
        return serve(args, {"REPLAY": args.recording})
    if args.command == "export":
        from .recording.export import export_main

        return export_main(args.recording, args.output)
    return serve(args)


console_main = main


def serve(
    args: argparse.Namespace,
    extra_config: dict | None = None,
    on_listening: Callable[[Flask, str, Callable[[], None]], None] | None = None,
) -> int:
    """Serve the dashboard until SIGINT, SIGTERM or ``stop()``.

    ``on_listening(app, page_url, stop)`` is called once it listens; ``page_url`` is the URL
    printed, with ``#token=T`` when a token is set.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    keep_big_blocks_mapped()  # what the replay frees goes back to the system (webapp/allocator.py)
    try:
        app = create_app({**server_config(args), **(extra_config or {})})
    except RecordingRefused as exc:
        print(f"mpscope: {exc}", file=sys.stderr)
        return 2
    dashboard: Dashboard = app.extensions["mpscope"]
    settle_after_start_up()  # the collector walks only what serving makes (webapp/collector.py)
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
    if args.record:
        notes += f", recording into {args.record}"
    # the token in the fragment: the browser never sends it, the page keeps it (webapp/web/guard.py)
    page = f"{url}/#token={args.token}" if args.token else url
    print(f"mpscope running at {page}{notes} (Ctrl-C to stop)", flush=True)
    if args.viewer_token:
        print(f"  viewers: {url}/#token={args.viewer_token} (read-only)", flush=True)

    def stop(signum=None, frame=None):
        dashboard.stopping(signum == signal.SIGINT)
        # shutdown() waits for serve_forever() to return, so it cannot run in this thread
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    if on_listening is not None:
        on_listening(app, page, stop)
    try:
        # it looks for shutdown() every poll_interval: 0.5 s by default, each stop waited that
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
        dashboard.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
