"""A child that closes every descriptor above 2 (as a daemon does), then reuses the numbers:
mpscope's connection goes with them, the child's own files are never written or read by it."""

import multiprocessing as mp
import os
import sys
import time


def child(path):
    os.closerange(3, 4096)
    fds = [os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND) for _ in range(8)]  # the numbers reused
    deadline = time.time() + float(os.environ.get("BAD_CLOSE_SECONDS", "2"))
    lines = 0
    while time.time() < deadline:  # idle and busy in turns: the agent's sampler would speak
        for fd in fds:
            os.write(fd, b"line\n")
            lines += 1
        time.sleep(0.05)
    for fd in fds:
        os.close(fd)
    print("child wrote", lines > 0, flush=True)


if __name__ == "__main__":
    mp.set_start_method(sys.argv[1] if len(sys.argv) > 1 else "fork")
    path = sys.argv[2]
    p = mp.Process(target=child, args=(path,))
    p.start()
    p.join()
    with open(path) as f:
        text = f.read()
    print("exit", p.exitcode, "foreign", len(text) - text.count("line\n") * 5, flush=True)
