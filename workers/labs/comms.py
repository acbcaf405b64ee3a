"""Labs 4-5: passing data between processes through queues and pipes."""

from __future__ import annotations

import queue
import time

from .report import record, state


# -- lab 4: queues -----------------------------------------------------------------------
def put_into(q) -> None:
    q.put([42, None, "hello"])


def writer(q) -> None:
    data = [42, None, "hello"]
    q.put(data)
    # put() pickles in a background feeder thread: wait until it has really been sent,
    # so that the change below happens after the copy was taken.
    q.close()
    q.join_thread()
    data.append("changed after put")
    print("writer now has", data)
    record("writer_after_change", data)


def reader(q) -> None:
    with state("blocked", "q.get()"):
        data = q.get()
    print("reader got", data)
    record("reader_got", data)


def main_queues(lab) -> dict:
    # 1. a thread queue cannot be handed to another process
    q = queue.Queue()
    p = lab.Process(target=put_into, args=(q,))
    error = None
    try:
        p.start()
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        lab.print("queue.Queue: p.start() raised", error)
    # 2. a multiprocessing.Queue can; the reader gets a copy
    q = lab.Queue()
    ps = [lab.Process(target=reader, args=(q,)), lab.Process(target=writer, args=(q,))]
    for p in ps:
        p.start()
    for p in ps:
        with lab.state("blocked", f"p.join()  # PID {p.pid}"):
            p.join()
    return {"thread_queue_error": error}


# -- lab 5: pipe ---------------------------------------------------------------------------
def talker(conn, messages: int) -> None:
    for i in range(messages):
        conn.send([42, None, f"hello from child {i + 1}"])
    with state("blocked", "conn.recv()"):
        print("child got", conn.recv())
    conn.close()


def greedy_reader(conn, count: int) -> None:
    for i in range(count):
        with state("blocked", f"conn.recv() #{i + 1}"):
            message = conn.recv()
        print(f"recv #{i + 1}:", message)


def main_pipe(lab, messages: int, wait: float) -> dict:
    # 1. both ways over one duplex Pipe
    parent_conn, child_conn = lab.Pipe()
    p = lab.Process(target=talker, args=(child_conn, messages))
    p.start()
    child_conn.close()  # our copy: without closing it, recv() here could never see EOF
    for _ in range(messages):
        with lab.state("blocked", "parent_conn.recv()"):
            lab.print("parent got", parent_conn.recv())
    parent_conn.send("data from parent_conn")
    p.join()

    # 2. one recv() more than there are sends: the last one blocks
    reader_end, writer_end = lab.Pipe(duplex=False)
    p = lab.Process(target=greedy_reader, args=(reader_end, messages + 1))
    p.start()
    for i in range(messages):
        writer_end.send(f"message {i + 1}")
    started = time.monotonic()
    with lab.state("blocked", f"p.join({wait})"):
        p.join(wait)
    blocked = p.is_alive()
    if blocked:
        lab.print(f"recv #{messages + 1} still blocked after {wait} s: terminating the reader")
        p.terminate()
        p.join()
    blocked_for = time.monotonic() - started

    # 3. a one-way pipe: the reading end cannot send
    try:
        reader_end.send("a reply")
        one_way_error = None
    except OSError as exc:
        one_way_error = repr(exc)
        lab.print("reader_end.send() raised", one_way_error)
    return {
        "blocked": blocked,
        "blocked_recv": messages + 1,
        "blocked_for": blocked_for,
        "one_way_error": one_way_error,
    }
