"""`make test-cpython`: CPython's own multiprocessing tests, plainly and under `mpscope run`.

1. With an interpreter that has CPython's test package (pyenv's 3.13 or 3.12, found through
   ``pyenv root``), runs the Manager tests of ``test_multiprocessing_forkserver`` and
   ``test_multiprocessing_spawn`` and the ProcessPool tests of ``test_concurrent_futures``,
   each once as ``python -m test`` and once as ``mpscope run --python PY -m test`` (its
   output into a regular file, as a CI log would be), reads each test's outcome from
   ``--junit-xml`` and fails on any test whose outcome differs. A test that differs is run
   again both ways, alone, before it counts (CPython's timing tests are flaky on a busy
   2-core machine, with or without mpscope). A test that hits a known deadlock of that
   CPython release (``KNOWN_HANGS``) is left out, and the run says so.
2. Runs the suite's ``mpscope run`` tests with the programs under ``--python`` 3.9, 3.10,
   3.12 and 3.13 where pyenv has them (``MPSCOPE_TEST_PYTHON``, tests/run_support.py): the
   agent patches private stdlib functions that move between versions. The browser test
   file is left out (the page does not depend on the program's Python).

Without pyenv, or without an interpreter that has the tests, it says so and skips that
part (exit 0). ``--only cpython`` or ``--only run-tests`` runs one part.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable  # the venv's: mpscope itself runs here

# (name, regrtest arguments): the tests compared plainly and under mpscope
SELECTIONS = [
    ("forkserver Manager", ["test_multiprocessing_forkserver.test_manager"]),
    ("spawn Manager", ["test_multiprocessing_spawn.test_manager"]),
    ("ProcessPool", ["test_concurrent_futures", "-m", "*ProcessPool*"]),
]
RUN_TESTS = [
    "tests/test_run.py",
    "tests/test_run_control.py",
    "tests/test_run_faithful.py",
    "tests/test_run_managers.py",
    "tests/test_run_pools_and_bad_programs.py",
    # the program's own multiprocessing objects: the agent patches synchronize, queues,
    # connection, sharedctypes and shared_memory, and reads frames (waits, labels)
    "tests/test_native_locks.py",
    "tests/test_native_queues.py",
    "tests/test_native_pipes.py",
    "tests/test_native_values.py",
    "tests/test_native_sync.py",
    "tests/test_native_condition.py",
    "tests/test_native_bad_input.py",
    "tests/test_native_tracebacks.py",
    "tests/test_waits.py",
    "tests/test_diagnoses_barrier.py",
]
# CPython's own deadlocks, left out where the interpreter has them: (test pattern, first fixed
# release of each minor, why). gh-125451: ProcessPoolExecutor.shutdown() deadlocks when its
# queue feeder thread handles a pickling error at the same moment (the manager thread holds
# the shutdown lock while it joins the feeder, which waits for that lock);
# test_processes_terminate submits an unpicklable Semaphore and shuts down at once. It hung
# a CI run for good under 3.13.0, watched; plain python has the same race.
KNOWN_HANGS = [
    ("*test_processes_terminate*", {(3, 12): (3, 12, 8), (3, 13): (3, 13, 1)}, "CPython gh-125451"),
]
RUN_TEST_VERSIONS = ("3.9", "3.10", "3.12", "3.13")
REGRTEST_TIMEOUT = 900  # seconds for one selection, one way


def pyenv_pythons() -> dict[str, Path]:
    """``{"3.13": .../versions/3.13.0/bin/python3, ...}``: the newest patch release of each minor."""
    root = None
    if shutil.which("pyenv"):
        done = subprocess.run(["pyenv", "root"], capture_output=True, text=True)
        root = done.stdout.strip() if done.returncode == 0 else None
    root = root or os.environ.get("PYENV_ROOT")
    if not root or not (Path(root) / "versions").is_dir():
        return {}
    found: dict[str, tuple[tuple[int, ...], Path]] = {}
    for version in (Path(root) / "versions").iterdir():
        parts = version.name.split(".")
        if len(parts) != 3 or not all(p.isdigit() for p in parts):
            continue  # "system", "3.13-dev", virtualenvs
        python = version / "bin" / "python3"
        numbers = tuple(int(p) for p in parts)
        minor = f"{numbers[0]}.{numbers[1]}"
        if python.exists() and (minor not in found or found[minor][0] < numbers):
            found[minor] = (numbers, python)
    return {minor: python for minor, (_, python) in found.items()}


def version_of(python: Path) -> tuple[int, ...]:
    done = subprocess.run(
        [str(python), "-c", "import sys; print(*sys.version_info[:3])"], capture_output=True, text=True
    )
    return tuple(int(n) for n in done.stdout.split())


def left_out(python: Path) -> list[str]:
    """regrtest's ``-i PATTERN`` for each known CPython deadlock this interpreter still has (said)."""
    version = version_of(python)
    args = []
    for pattern, fixed_in, why in KNOWN_HANGS:
        fixed = fixed_in.get(version[:2])
        if fixed is not None and version < fixed:
            print(f"  left out {pattern}: {why}, a deadlock fixed in {'.'.join(map(str, fixed))}", flush=True)
            args += ["-i", pattern]
    return args


def has_cpython_tests(python: Path) -> bool:
    probe = "import test.test_multiprocessing_forkserver.test_manager, test.test_concurrent_futures.util"
    return subprocess.run([str(python), "-c", probe], capture_output=True).returncode == 0


def outcomes(junit: Path) -> dict[str, str]:
    """``{test id: passed|failed|error|skipped}`` from regrtest's --junit-xml."""
    if not junit.exists():
        return {}
    found = {}
    for case in ET.parse(junit).iter("testcase"):
        name = f"{case.get('classname', '')}.{case.get('name', '')}"
        result = "passed"
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                result = {"failure": "failed"}.get(child.tag, child.tag)
        found[name] = result
    return found


def regrtest(python: Path, args: list[str], junit: Path, log: Path, watched: bool) -> tuple[int, float]:
    """Run ``python -m test ARGS`` (under ``mpscope run`` if ``watched``); return its code and time."""
    command = [str(python), "-m", "test", *args, "-v", "--junit-xml", str(junit)]
    if watched:
        command = [PY, "-m", "webapp", "run", "--port", "0", "--exit-with-program", "--python", *command]
    started = time.monotonic()
    with log.open("wb") as out:  # a regular file: mpscope's own stdout too (issue 21, item 1)
        try:
            code = subprocess.run(
                command, stdout=out, stderr=subprocess.STDOUT, cwd=junit.parent, timeout=REGRTEST_TIMEOUT
            ).returncode
        except subprocess.TimeoutExpired:
            code = -1
    return code, time.monotonic() - started


def compare_selection(python: Path, name: str, args: list[str], work: Path) -> list[str]:
    """Run one selection both ways; return the tests whose outcome differs (after a rerun)."""
    results = {}
    for watched in (False, True):
        tag = f"{name.replace(' ', '-')}-{'mpscope' if watched else 'plain'}"
        junit, log = work / f"{tag}.xml", work / f"{tag}.log"
        code, took = regrtest(python, args, junit, log, watched)
        results[watched] = outcomes(junit)
        counts = {
            o: list(results[watched].values()).count(o) for o in ("passed", "failed", "error", "skipped")
        }
        print(
            f"  {name:20} {'mpscope' if watched else 'plain':8} {took:6.1f} s  exit {code}  {counts}",
            flush=True,
        )
        if not results[watched]:
            return [f"{name}: no results under {'mpscope' if watched else 'plain python'} (log: {log})"]
    plain, seen = results[False], results[True]
    differing = sorted(t for t in plain.keys() | seen.keys() if plain.get(t) != seen.get(t))
    confirmed = []
    for test in differing:
        again = {}
        for watched in (False, True):
            tag = f"rerun-{'mpscope' if watched else 'plain'}"
            junit = work / f"{tag}.xml"
            junit.unlink(missing_ok=True)
            regrtest(python, [args[0], "-m", test], junit, work / f"{tag}.log", watched)
            again[watched] = outcomes(junit).get(test)
        if again[False] != again[True]:
            confirmed.append(f"{test}: plain {again[False]}, under mpscope {again[True]}")
        else:
            print(f"  {test}: differed once (plain {plain.get(test)}, mpscope {seen.get(test)}), "
                  f"the same when run again ({again[False]})", flush=True)  # fmt: skip
    return confirmed


def cpython_part(pythons: dict[str, Path]) -> list[str]:
    candidates = [pythons[v] for v in ("3.13", "3.12") if v in pythons and has_cpython_tests(pythons[v])]
    if not candidates:
        have = ", ".join(sorted(pythons)) or "none"
        print(f"test-cpython: no pyenv Python 3.12/3.13 with CPython's test package (pyenv has: {have}): "
              "CPython's tests are not run", flush=True)  # fmt: skip
        return []
    python = candidates[0]
    print(f"CPython's tests with {python}, plainly and under mpscope run:", flush=True)
    ignored = left_out(python)
    failures = []
    with tempfile.TemporaryDirectory(prefix="mpscope-cpython-") as tmp:
        for name, args in SELECTIONS:
            work = Path(tmp) / name.replace(" ", "-")
            work.mkdir()
            failures += compare_selection(python, name, args + ignored, work)
    return failures


def run_tests_part(pythons: dict[str, Path]) -> list[str]:
    failures = []
    present = [v for v in RUN_TEST_VERSIONS if v in pythons]
    missing = [v for v in RUN_TEST_VERSIONS if v not in pythons]
    if missing:
        print(f"test-cpython: no pyenv Python {', '.join(missing)}: the run tests skip it", flush=True)
    for version in present:
        started = time.monotonic()
        env = {**os.environ, "MPSCOPE_TEST_PYTHON": str(pythons[version])}
        done = subprocess.run(
            [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", *RUN_TESTS], env=env, cwd=REPO
        )
        took = time.monotonic() - started
        print(
            f"  the run tests, the programs under Python {version}: exit {done.returncode}, {took:.0f} s",
            flush=True,
        )
        if done.returncode != 0:
            failures.append(f"the run tests failed with the program under Python {version}")
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("cpython", "run-tests"))
    args = parser.parse_args()
    pythons = pyenv_pythons()
    if not pythons:
        print("test-cpython: pyenv not found (or it has no Python): skipped", flush=True)
        return 0
    started = time.monotonic()
    failures = []
    if args.only in (None, "cpython"):
        failures += cpython_part(pythons)
    if args.only in (None, "run-tests"):
        failures += run_tests_part(pythons)
    print(f"test-cpython: {time.monotonic() - started:.0f} s", flush=True)
    for failure in failures:
        print(f"DIFFERS: {failure}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
