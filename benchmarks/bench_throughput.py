"""1. Observed proxies cost almost nothing: mutation throughput, recording vs plain Manager.

Both Managers run side by side in this process's forkserver context; N writer processes
run the very ``burst`` task mpscope workers run (flat out), released together. The
recording Manager is read as in the server: it pushes its journal over a real agent
channel (AgentHub) into ManagerJournals, which replays it into a mirror and encodes each
batch to JSON, so the observer's cost lands on the same cores.
Many short runs alternate plain / recording (order flipped each repeat), because the
machine is shared and noisy; the figure is the median of the ratios of neighbouring runs
(each pair ran under the same conditions), next to the median rates.
"""

from __future__ import annotations

import json
import multiprocessing
import time

import psutil

from mpscope_agent import protocol
from webapp.agents.hub import AgentHub
from webapp.journals import ManagerJournals
from webapp.mirror import SharedStateMirror
from webapp.output import OutputCapture
from webapp.state import SharedState
from workers.manager import FORKSERVER_PRELOAD

from . import plain
from .harness import figure, median


def writers_run(ctx, d, l, writers: int, total: int, target: str) -> float:  # noqa: E741
    """Run ``total`` mutations split over ``writers`` processes; return mutations per second."""
    go, done = ctx.Event(), ctx.Queue()
    n = total // writers
    procs = [
        ctx.Process(target=plain.timed_burst, args=(d, l, go, done, n, 0.0, 100, target))
        for _ in range(writers)
    ]
    for p in procs:
        p.start()
    for _ in procs:  # every writer is at the starting line
        done.get(timeout=60)
    go.set()
    spans = [done.get(timeout=120) for _ in procs]
    for p in procs:
        p.join()
    start = min(s for s, _ in spans)
    end = max(e for _, e in spans)
    return n * writers / (end - start)


def run(bench) -> list[dict]:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(FORKSERVER_PRELOAD)
    total = bench.q(12_000, 4_000)
    repeats = bench.q(7, 2)
    cases = bench.q(
        [("dict", w) for w in (1, 2, 4, 8)] + [("list", 1), ("list", 8)], [("dict", 1), ("dict", 8)]
    )

    output = OutputCapture(lambda lines, skipped: None)
    hub = AgentHub(output, echo=False, nice=False)  # as the built-in dashboard's
    mirror = SharedStateMirror()
    journals = ManagerJournals(mirror, lambda payload: json.dumps(payload), lambda: True, nice=False)
    journals.tell = hub.send
    for kind in (protocol.JOURNAL, protocol.JOURNAL_SNAPSHOT):
        hub.on(kind, journals.receive)
    state = SharedState(ctx, mirror=mirror, agents=(hub.directory, hub.key))
    journals.adopt(state.manager_pid, mirror.version)
    plain_manager = ctx.Manager()
    subjects = {
        "plain": (plain_manager.dict(), plain_manager.list()),
        "mpscope": (state.dict, state.list),
    }
    # CPU beside wall time (steadier on a shared machine): the Manager's, and for mpscope the
    # observer's too (this process: the agents' listener replaying and encoding each batch)
    managers = {
        "plain": psutil.Process(plain_manager._process.pid),
        "mpscope": psutil.Process(state.manager_pid),
    }

    def cpu(kind: str) -> float:
        times = managers[kind].cpu_times()
        return times.user + times.system + (time.process_time() if kind == "mpscope" else 0.0)

    rows = []
    try:
        for target, writers in cases:
            rates: dict[str, list[float]] = {"plain": [], "mpscope": []}
            cpu_us: dict[str, list[float]] = {"plain": [], "mpscope": []}  # per op
            for rep in range(repeats):
                order = ["plain", "mpscope"] if rep % 2 == 0 else ["mpscope", "plain"]
                for kind in order:
                    d, l = subjects[kind]  # noqa: E741
                    before = cpu(kind)
                    rates[kind].append(writers_run(ctx, d, l, writers, total, target))
                    cpu_us[kind].append((cpu(kind) - before) / (total // writers * writers) * 1e6)
                    d.clear()
                    del l[:]
            ours, base = median(rates["mpscope"]), median(rates["plain"])
            ratio = median([a / b for a, b in zip(rates["mpscope"], rates["plain"], strict=True)])
            bench.log(f"{target} x{writers}: mpscope {ours:,.0f}/s, plain {base:,.0f}/s")
            rows.append(
                figure(
                    f"throughput.{target}.w{writers}",
                    f"{target} mutations/s, {writers} writer(s), recording vs plain Manager",
                    ours,
                    base,
                    "ops/s",
                    baseline_name="plain multiprocessing.Manager()",
                    ratio=ratio,
                    target="≥ 0.8×",
                    met=ratio >= 0.8,
                    note="ratio: median of neighbouring runs' ratios",
                )
            )
            cpu_ratio = median([a / b for a, b in zip(cpu_us["mpscope"], cpu_us["plain"], strict=True)])
            rows.append(
                figure(
                    f"throughput.{target}.w{writers}.cpu",
                    f"CPU per {target} mutation, {writers} writer(s): the Manager's (+ the observer's)",
                    median(cpu_us["mpscope"]),
                    median(cpu_us["plain"]),
                    "µs/op",
                    baseline_name="plain multiprocessing.Manager()",
                    ratio=cpu_ratio,
                    note="CPU beside the wall-time figure above; no target",
                )
            )
    finally:
        state.close()
        hub.close()
        journals.close()
        output.close()
        plain_manager.shutdown()
    return rows
