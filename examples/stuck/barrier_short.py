"""Stuck: a Barrier for three parties, but only two processes ever call wait().

Both wait at the barrier for a third party that never comes, and the main process waits in
join() for them. mpscope names it ("barrier_short") and each row says where it waits. The
fix: make Barrier(n) with n the number of processes that really call wait().
"""

import multiprocessing as mp


def meet(barrier, n):
    print(f"worker {n} waits at the barrier", flush=True)
    barrier.wait()
    print("never printed")


if __name__ == "__main__":
    with mp.Manager() as manager:
        gate = manager.Barrier(3)
        workers = [mp.Process(target=meet, args=(gate, n)) for n in range(2)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
