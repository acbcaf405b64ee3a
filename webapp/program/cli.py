"""``mpscope run [flags] script.py ARGS`` / ``mpscope run [flags] -m module ARGS``.

Flags before the program are mpscope's: ``--python PATH``, ``--exit-with-program``, and
every flag of the dashboard server (``--host``, ``--port``...: ``webapp.__main__`` adds
those to this subcommand's parser). Everything from the script (or ``-m module``) on is the
program's own command line, untouched.
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
NO_PROGRAM = "name a script to run (mpscope run script.py ARGS) or a module (-m module ARGS)"


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """``run``'s own flags, and the program's command line as two catch-alls.

    ``-m`` and the script take everything after them (argparse.REMAINDER), flags included,
    so that a program's ``--epochs 3`` or ``-m`` is the program's.
    """
    parser.add_argument("--python", default=sys.executable, help="interpreter to run the program with")
    parser.add_argument(
        "--exit-with-program", action="store_true", help="exit when the program ends, with its exit code"
    )
    parser.add_argument(
        "-m", dest="module", nargs=argparse.REMAINDER, help="module ARGS: run a module as python -m would"
    )
    parser.add_argument("program", nargs=argparse.REMAINDER, help="script.py ARGS: the program to run")


def check_run_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse what cannot run; resolve ``args.python``; set ``args.program``, what follows it.

    ``args.program`` is ``[script, *args]`` or ``["-m", module, *args]`` (``["--", script,
    *args]`` for a script whose name starts with ``-``, which python would take for an option).
    """
    module, program = args.module, args.program
    del args.module
    if module is not None:
        # `-m` takes everything up to a `--`, which the program gets with what follows it
        program = ["-m", *module, *program] if module else []
    elif program[:1] == ["--"]:  # `--` ends mpscope's flags (argparse keeps it in a REMAINDER)
        program = program[1:]
    if not program:
        parser.error(NO_PROGRAM)
    python = shutil.which(args.python)
    if python is None:
        parser.error(f"--python: {args.python!r} is not an executable")
    args.python = python
    if module is None:
        if not os.path.isfile(program[0]):
            parser.error(f"cannot run {program[0]!r}: no such file")
        if program[0].startswith("-"):
            program = ["--", *program]
    args.program = program


def run_main(args: argparse.Namespace, serve: Callable) -> int:
    """Serve the dashboard, run the program under it, and return our exit status.

    ``args`` is ``mpscope run``'s, checked; ``serve(args, extra_config, on_listening)`` serves
    the dashboard.
    """
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
            app.extensions["mpscope"].backend.start()
        except OSError as exc:
            print(f"mpscope: cannot start {args.python}: {exc.strerror or exc}", file=sys.stderr, flush=True)
            status["code"] = 2
            stop()

    _raise_fd_limit()
    _fill_std_fds()
    # the terminal is the program's: only our warnings join its output (serve() keeps this setting)
    logging.basicConfig(level=logging.WARNING, format="mpscope: %(levelname)s %(message)s")
    config = {"PROGRAM": [args.python, *args.program], "ON_PROGRAM_END": on_end}
    code = serve(args, config, on_listening)
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
