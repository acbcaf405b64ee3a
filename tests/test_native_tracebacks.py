"""A program under mpscope prints the tracebacks it prints under plain python (issue "Why is it
stuck?", Rules: the program behaves exactly as without mpscope, its stderr included): the
agent's wrappers take their own frame off what they re-raise, so an uncaught ``EOFError`` from
``recv()`` (the classic end of a pipe reader), ``queue.Empty`` from ``get_nowait()``, a broken
Barrier or a missing shared memory block reads the same, byte for byte (Python 3.11+; 3.9 and
3.10 show one frame more)."""

from __future__ import annotations

import subprocess

import pytest
from run_support import PROGRAM_PYTHON, PROGRAM_VERSION, run_to_end, write

pytestmark = pytest.mark.skipif(
    PROGRAM_VERSION < (3, 11), reason="3.9 and 3.10 re-raise the traceback as caught: one frame more"
)

PROGRAMS = {
    "recv_eof": """
import multiprocessing as mp

if __name__ == "__main__":
    r, w = mp.Pipe(duplex=False)
    w.send("last")
    w.close()
    while True:
        print(r.recv())
""",
    "get_nowait_empty": """
import multiprocessing as mp

if __name__ == "__main__":
    q = mp.Queue()
    q.put(1)
    print(q.get())
    q.get_nowait()
""",
    "barrier_broken": """
import multiprocessing as mp

if __name__ == "__main__":
    gate = mp.Barrier(2)
    gate.wait(timeout=0.1)
""",
    "no_such_block": """
from multiprocessing import shared_memory

if __name__ == "__main__":
    shared_memory.SharedMemory(name="mpscope-test-no-such-block")
""",
    "child_recv_eof": """
import multiprocessing as mp, sys

def reader(r, w):
    w.close()
    while True:
        r.recv_bytes()

if __name__ == "__main__":
    mp.set_start_method(sys.argv[1])
    r, w = mp.Pipe(duplex=False)
    child = mp.Process(target=reader, args=(r, w))
    child.start()
    w.close()
    child.join()
    print("child exit", child.exitcode)
""",
}


def _theirs(stderr: str) -> str:
    """The program's stderr: mpscope's own lines left out."""
    return "".join(line for line in stderr.splitlines(keepends=True) if not line.startswith("mpscope"))


@pytest.mark.parametrize(
    "name, args",
    [
        ("recv_eof", ()),
        ("get_nowait_empty", ()),
        ("barrier_broken", ()),
        ("no_such_block", ()),
        ("child_recv_eof", ("fork",)),
        ("child_recv_eof", ("spawn",)),
    ],
)
def test_an_uncaught_error_from_a_queue_or_pipe_prints_as_without_mpscope(tmp_path, name, args):
    program = write(tmp_path, PROGRAMS[name], f"{name}.py")
    plain = subprocess.run(
        [PROGRAM_PYTHON, str(program), *args], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    under = run_to_end(str(program), *args, cwd=tmp_path)
    assert "Traceback" in plain.stderr and "mpscope_agent" not in under.stderr
    assert _theirs(under.stderr) == plain.stderr
    assert under.stdout.split("\n", 1)[1] == plain.stdout
