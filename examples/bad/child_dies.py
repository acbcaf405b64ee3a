"""A child killed by a signal, one that raises, and a parent that goes on and reports them."""

import os
import signal
from multiprocessing import Process


def killed():
    os.kill(os.getpid(), signal.SIGKILL)


def raises():
    raise RuntimeError("the child failed")


if __name__ == "__main__":
    for target in (killed, raises):
        p = Process(target=target, name=target.__name__)
        p.start()
        p.join()
        print(p.name, "ended with exit code", p.exitcode)
