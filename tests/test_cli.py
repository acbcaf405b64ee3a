"""The command line: ``mpscope [server flags]`` and ``mpscope run [flags] (script.py | -m module) ARGS``.

Pure parsing tests (``parse_args`` and ``server_config``, nothing started) check that every
server flag works before the program's path, for ``mpscope run`` as for ``mpscope``, that the
program's own arguments reach it untouched, and that bad input is refused with exit code 2;
one real ``mpscope run`` proves that the flags the hand-kept list once lacked start a program.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from run_support import EXAMPLES, run_to_end

from webapp.__main__ import SERVER_FLAGS, parse_args, server_config

SCRIPT = str(EXAMPLES / "pipe.py")
TOKEN = "t" * 20
VIEWER_TOKEN = "v" * 20

# Each server flag: (its values, other flags it needs, where it shows, what it must be there).
# PORT is not app configuration: it is the args' own ``port``.
FLAG_CASES: dict[str, tuple[list[str], list[str], str, object]] = {
    "--host": (["0.0.0.0"], [], "HOST", "0.0.0.0"),
    "--port": (["0"], [], "PORT", 0),
    "--max-workers": (["7"], [], "MAX_WORKERS", 7),
    "--ended-cap": (["9"], [], "ENDED_CAP", 9),
    "--scrollback": (["11"], [], "SCROLLBACK", 11),
    "--max-locks": (["5"], [], "MAX_LOCKS", 5),
    "--max-entries": (["300"], [], "MAX_ENTRIES", 300),
    "--release-dead-locks": ([], [], "RELEASE_DEAD_LOCKS", True),
    "--ended-output-mib": (["8"], [], "ENDED_OUTPUT_BYTES", 8 * 2**20),
    "--read-only": ([], [], "READ_ONLY", True),
    "--token": ([TOKEN], [], "TOKEN", TOKEN),
    "--no-token": ([], [], "TOKEN", None),  # mpscope run makes one up by default
    "--viewer-token": ([VIEWER_TOKEN], ["--token", TOKEN], "VIEWER_TOKEN", VIEWER_TOKEN),
    "--allow-host": (["example.test"], [], "ALLOWED_HOSTS", ("example.test",)),
    "--rate-limit": (["2.5"], [], "RATE_LIMIT", 2.5),
    "--record": (["/tmp/mpscope-cli-case.sqlite"], [], "RECORD", "/tmp/mpscope-cli-case.sqlite"),
    "--record-max-mib": (["3"], [], "RECORD_MAX_BYTES", 3 * 2**20),
}

PROGRAM_ARGS = ["--epochs", "3", "-m", "x", "--port", "1", "--r", "-h", "--", "-1", "two words"]


def seen(args) -> dict:
    return {**server_config(args), "PORT": args.port}


def test_every_server_flag_has_a_case():
    assert set(FLAG_CASES) == {flag for flag, _ in SERVER_FLAGS}


@pytest.mark.parametrize("flag", list(FLAG_CASES))
def test_each_server_flag_before_the_script_reaches_the_config_and_the_program_keeps_its_args(flag: str):
    values, needs, key, expected = FLAG_CASES[flag]
    assert seen(parse_args(["run", SCRIPT]))[key] != expected  # the case tells the flag from its default
    args = parse_args(["run", "--exit-with-program", *needs, flag, *values, SCRIPT, *PROGRAM_ARGS])
    assert args.command == "run" and args.exit_with_program
    assert seen(args)[key] == expected
    assert args.program == [SCRIPT, *PROGRAM_ARGS]


@pytest.mark.parametrize("flag", list(FLAG_CASES))
def test_each_server_flag_before_a_module_reaches_the_config(flag: str):
    values, needs, key, expected = FLAG_CASES[flag]
    args = parse_args(["run", *needs, flag, *values, "-m", "package.module", *PROGRAM_ARGS])
    assert seen(args)[key] == expected
    assert args.program == ["-m", "package.module", *PROGRAM_ARGS]


@pytest.mark.parametrize("flag", list(FLAG_CASES))
def test_each_server_flag_works_for_the_built_in_dashboard_too(flag: str):
    values, needs, key, expected = FLAG_CASES[flag]
    args = parse_args([*needs, flag, *values])
    assert args.command is None
    assert seen(args)[key] == expected


@pytest.mark.parametrize("flag", [flag for flag, (values, *_) in FLAG_CASES.items() if values])
def test_each_value_flag_also_takes_flag_equals_value(flag: str):
    values, needs, key, expected = FLAG_CASES[flag]
    args = parse_args(["run", *needs, f"{flag}={values[0]}", SCRIPT])
    assert seen(args)[key] == expected


def test_the_defaults_are_the_documented_ones():
    expected = {
        "HOST": "127.0.0.1", "PORT": 5000, "MAX_WORKERS": 32, "ENDED_CAP": 1000, "SCROLLBACK": 2000,
        "MAX_LOCKS": 100, "RELEASE_DEAD_LOCKS": False, "ENDED_OUTPUT_BYTES": 64 * 2**20,
        "READ_ONLY": False, "ALLOWED_HOSTS": (), "TOKEN": None, "VIEWER_TOKEN": None, "RATE_LIMIT": 50.0,
        "RECORD": None, "RECORD_MAX_BYTES": 1024 * 2**20, "MAX_ENTRIES": 1_000_000,
    }  # fmt: skip
    assert seen(parse_args([])) == expected
    run = parse_args(["run", SCRIPT])
    assert seen(run) == {**expected, "TOKEN": run.token}  # a watched program's needs a token
    assert len(run.token) == 32 and parse_args(["run", SCRIPT]).token != run.token
    assert run.python == sys.executable and not run.exit_with_program


def test_several_flags_at_once_and_python():
    args = parse_args(
        ["run", "--python", sys.executable, "--ended-output-mib", "8", "--max-locks", "5", "--port", "0",
         "--allow-host", "a.test", "--allow-host", "b.test", "--read-only", SCRIPT, "0"]
    )  # fmt: skip
    config = server_config(args)
    assert (config["ENDED_OUTPUT_BYTES"], config["MAX_LOCKS"], args.port) == (8 * 2**20, 5, 0)
    assert config["ALLOWED_HOSTS"] == ("a.test", "b.test") and config["READ_ONLY"]
    assert args.program == [SCRIPT, "0"]


def test_server_flags_before_run_are_kept_and_repeatable_ones_joined():
    args = parse_args(["--port", "7", "--allow-host", "a.test", "run", "--allow-host", "b.test", SCRIPT])
    assert args.port == 7
    assert server_config(args)["ALLOWED_HOSTS"] == ("a.test", "b.test")
    assert parse_args(["--port", "7", "run", "--port", "8", SCRIPT]).port == 8


def test_a_binding_beyond_loopback_gets_a_token_in_run_mode_too():
    assert server_config(parse_args(["run", "--host", "0.0.0.0", SCRIPT]))["TOKEN"]


@pytest.mark.parametrize(
    "argv, program",
    [
        (["-m", "pkg.tool", "a", "--", "b"], ["-m", "pkg.tool", "a", "--", "b"]),
        (["-mpkg.tool", "a"], ["-m", "pkg.tool", "a"]),
        (["--", SCRIPT, "--", "a"], [SCRIPT, "--", "a"]),
        ([SCRIPT, "--exit-with-program", "--python", "x"], [SCRIPT, "--exit-with-program", "--python", "x"]),
    ],
)
def test_the_program_command_line_is_untouched(argv: list[str], program: list[str]):
    args = parse_args(["run", "--port", "0", *argv])
    assert args.program == program
    assert not args.exit_with_program and args.port == 0


def test_dash_dash_runs_a_script_whose_name_starts_with_a_dash(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "-odd.py").write_text("")
    # python would take `-odd.py` for its own options: it gets a `--` before it
    assert parse_args(["run", "--port", "0", "--", "-odd.py", "a"]).program == ["--", "-odd.py", "a"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "--ended-output-mib", "-1", SCRIPT], "run: error: --ended-output-mib must be from 0"),
        (["run", "--max-locks", "0", SCRIPT], "mpscope run: error: --max-locks must be from 1 to 10000"),
        (["run", "--max-workers", "0", SCRIPT], "mpscope run: error: --max-workers must be from 1 to 1024"),
        (["run", "--port", "x", SCRIPT], "mpscope run: error: argument --port: invalid int value: 'x'"),
        (["run", "--token", "short", SCRIPT], "mpscope run: error: --token must be 16-256 letters"),
        (["run", "--viewer-token", VIEWER_TOKEN, SCRIPT], "mpscope run: error: --viewer-token needs --token"),
        (["run", "--no-token", "--token", TOKEN, SCRIPT], "mpscope run: error: --no-token goes with neither"),
        (["run", "--no-token", "--host", "0.0.0.0", SCRIPT], "run: error: --no-token: a dashboard bound"),
        (["--no-token", "--host", "0.0.0.0"], "mpscope: error: --no-token: a dashboard bound beyond"),
        (["run", "--bogus", SCRIPT], "mpscope run: error: unrecognized arguments: --bogus"),
        (["run", "--port"], "mpscope run: error: argument --port: expected one argument"),
        (["run", "--port", "0"], "mpscope run: error: name a script to run"),
        (["run", "-m"], "mpscope run: error: name a script to run"),
        (["run", "--"], "mpscope run: error: name a script to run"),
        (["run", "nope.py", "--port", "0"], "mpscope run: error: cannot run 'nope.py': no such file"),
        (["run", "8", SCRIPT], "mpscope run: error: cannot run '8': no such file"),
        (["run", "--python", "/no/such/python", SCRIPT], "mpscope run: error: --python: '/no/such/python'"),
        (["--max-locks", "0"], "mpscope: error: --max-locks must be from 1 to 10000"),
        (["--bogus"], "mpscope: error: unrecognized arguments: --bogus"),
        (["--por=1"], "mpscope: error: unrecognized arguments: --por=1"),  # no abbreviations
        (["script.py"], "mpscope: error: argument command: invalid choice: 'script.py'"),
    ],
)
def test_bad_input_is_a_clear_error_with_exit_code_2(argv: list[str], message: str, capsys):
    with pytest.raises(SystemExit) as exited:
        parse_args(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_run_help_lists_every_server_flag(capsys):
    with pytest.raises(SystemExit) as exited:
        parse_args(["run", "--help"])
    assert exited.value.code == 0
    shown = capsys.readouterr().out
    assert shown.startswith("usage: mpscope run [--python PATH] [--exit-with-program] [server flags]")
    assert all(flag in shown for flag, _ in SERVER_FLAGS)


@pytest.mark.timeout(60)
def test_the_flags_the_old_parser_lacked_run_a_real_program():
    done = run_to_end("--ended-output-mib", "8", "--max-locks", "5", SCRIPT, "0")
    assert done.returncode == 0, done.stderr
    assert "child received: data from parent_conn" in done.stdout
    assert "cannot run" not in done.stderr
