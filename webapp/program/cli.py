"""``mpscope run [flags] script.py ARGS`` / ``mpscope run [flags] -m module ARGS``.

Flags before the program are mpscope's: ``--python PATH``, ``--exit-with-program``, and
every flag of the dashboard server (``--host``, ``--port``...). Everything from the
script (or ``-m module``) on is the program's own command line, untouched.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import shutil
import sys
from collections.abc import Callable

from flask import Flask

USAGE = "mpscope run [--python PATH] [--exit-with-program] [server flags] (script.py | -m module) [args...]"
# server flags that take a value (``--flag=value`` works for any flag)
VALUE_FLAGS = {
    "--host", "--port", "--max-workers", "--ended-cap", "--scrollback", "--token",
    "--viewer-token", "--allow-host", "--rate-limit", "--python",
}  # fmt: skip


class RunArgs(argparse.Namespace):
    python: str
    exit_with_program: bool
    program: list[str]


def split_command(argv: list[str]) -> tuple[list[str], list[str]]:
    """Split into (mpscope's flags, the program's argv: ``[script, *args]`` or ``["-m", module, *args]``)."""
    ours: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "-m":
            return ours, argv[i:]
        if arg == "--":
            return ours, argv[i + 1 :]
        if not arg.startswith("-") or arg == "-":
            return ours, argv[i:]
        ours.append(arg)
        if arg in VALUE_FLAGS and i + 1 < len(argv):
            ours.append(argv[i + 1])
            i += 1
        i += 1
    return ours, []


def parse_run_args(argv: list[str], parse_server_args: Callable) -> tuple[RunArgs, argparse.Namespace]:
    ours, program = split_command(argv)
    parser = argparse.ArgumentParser(
        prog="mpscope run",
        usage=USAGE,
        description="Run a Python program as `python script.py ARGS` would, and watch it on the dashboard.",
        epilog="Server flags (--host, --port, --read-only, --token...) are those of `mpscope --help`.",
    )
    parser.add_argument("--python", default=sys.executable, help="interpreter to run the program with")
    parser.add_argument(
        "--exit-with-program", action="store_true", help="exit when the program ends, with its exit code"
    )
    args, server_flags = parser.parse_known_args(ours, namespace=RunArgs())
    if not program or program == ["-m"]:
        parser.error("name a script to run (mpscope run script.py ARGS) or a module (-m module ARGS)")
    python = shutil.which(args.python)
    if python is None:
        parser.error(f"--python: {args.python!r} is not an executable")
    args.python = python
    if program[0] != "-m" and not os.path.isfile(program[0]):
        parser.error(f"cannot run {program[0]!r}: no such file")
    args.program = program
    return args, parse_server_args(server_flags)


def run_main(argv: list[str], parse_server_args: Callable, serve: Callable) -> int:
    """Serve the dashboard, run the program under it, and return our exit status."""
    args, server_args = parse_run_args(argv, parse_server_args)
    status = {"code": 0}

    def on_end(code: int) -> None:
        status["code"] = code
        if args.exit_with_program:
            stop_server()
        else:
            print(f"mpscope: the dashboard stays up at {urls[0]} to inspect the final state (Ctrl-C to quit)",
                  file=sys.stderr, flush=True)  # fmt: skip

    urls: list[str] = []
    stop_server: Callable[[], None] = lambda: None  # noqa: E731 -- set once the server listens

    def on_listening(app: Flask, url: str, stop: Callable[[], None]) -> None:
        nonlocal stop_server
        stop_server = stop
        urls.append(url)
        try:
            app.extensions["mpscope"].program.start()
        except OSError as exc:
            print(f"mpscope: cannot start {args.python}: {exc.strerror or exc}", file=sys.stderr, flush=True)
            status["code"] = 2
            stop()

    _raise_fd_limit()
    _fill_std_fds()
    # the terminal is the program's: only our warnings join its output (serve() keeps this setting)
    logging.basicConfig(level=logging.WARNING, format="mpscope: %(levelname)s %(message)s")
    config = {"PROGRAM": [args.python, *args.program], "ON_PROGRAM_END": on_end}
    code = serve(server_args, config, on_listening)
    # a dashboard stopped by Ctrl-C exits 0, as `mpscope` does; with --exit-with-program it
    # exits as the program did
    return code or (status["code"] if args.exit_with_program or status["code"] == 2 else 0)


def _raise_fd_limit() -> None:
    """Take the hard limit on open files: each process of the program costs us about seven."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
        except (ValueError, OSError):
            pass


def _fill_std_fds() -> None:
    """Point a closed fd 0, 1 or 2 at /dev/null.

    The program's output is copied to our fds 1 and 2: a closed one must not become
    whatever descriptor we open next.
    """
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
