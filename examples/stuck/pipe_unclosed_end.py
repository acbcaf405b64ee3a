"""Stuck: a Pipe's reader waits for an end of file that never comes.

The reader reads until ``recv()`` raises EOFError, which it does only once every process has
closed the write end. The parent writes, closes its write end and joins the reader; but the
forked reader inherited the write end too and never closed it, so its ``recv()`` waits for
ever, and so does the parent's ``join()``. mpscope names it ("unclosed_pipe_end") with the
fix: ``w.close()`` first thing in the reader
(https://docs.python.org/3/library/multiprocessing.html#programming-guidelines).
"""

import multiprocessing as mp


def read_all(r, w):
    # the bug: w.close() belongs here; this process never writes
    got = 0
    while True:
        try:
            r.recv()
        except EOFError:
            break
        got += 1
    print("read", got, "messages")


if __name__ == "__main__":
    ctx = mp.get_context("fork")
    r, w = ctx.Pipe(duplex=False)
    reader = ctx.Process(target=read_all, args=(r, w))
    reader.start()
    for n in range(3):
        w.send(n)
    w.close()
    reader.join()  # waits for the reader, which waits for the end of file
    print("done")
