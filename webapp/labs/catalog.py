"""The nine labs: their titles, the lesson functions they run, their params and limits."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from workers.labs import basics, comms, pools, sharing
from workers.registry import Param, validate_params

from . import gil, summaries


def seconds(default: float, high: float = 10.0) -> Param:
    return Param(float, default, 0.0, high, help="seconds", unit="s")


def time_limit(default: float) -> Param:
    return Param(
        float,
        default,
        1.0,
        60.0,
        help="stop the run, killing its processes, after this many seconds",
        unit="s",
    )


@dataclass(frozen=True)
class Lab:
    """One experiment: the ``main`` the server runs, the functions it shows, its params."""

    name: str
    title: str
    main: Callable
    functions: tuple[Callable, ...]
    summarize: Callable[[Any, dict], dict]
    params: dict[str, Param] = field(default_factory=dict)

    def validate(self, params: Any) -> dict:
        """Return complete, checked params, or raise ParamError naming the bad one."""
        return validate_params(self.params, params, f"lab '{self.name}'")

    def describe(self) -> dict:
        return {
            "name": self.name,
            "title": self.title,
            "params": {n: p.describe() for n, p in self.params.items()},
        }

    def code(self) -> list[dict]:
        """The real source of the functions this lab runs, read from their modules now."""
        return [
            {"name": f"{f.__module__}.{f.__name__}", "source": inspect.getsource(f)}
            for f in (*self.functions, self.main)
        ]


def _labs() -> list[Lab]:
    processes = Param(int, 4, 1, 16, help="processes to start")
    return [
        Lab(
            "process",
            "1. Process",
            basics.main_process,
            (basics.run,),
            summaries.process,
            {"processes": processes, "seconds": seconds(1.0), "time_limit": time_limit(20.0)},
        ),
        Lab(
            "threads",
            "2. A thread inside each process",
            basics.main_threads,
            (basics.thread_run, basics.run_with_thread),
            summaries.threads,
            {"processes": processes, "seconds": seconds(0.5), "time_limit": time_limit(20.0)},
        ),
        Lab(
            "parent",
            "3. Who is my parent",
            basics.main_parent,
            (basics.info, basics.f),
            summaries.parent,
            {
                "children": Param(int, 3, 1, 8, help="child processes"),
                "start_method": Param(
                    str,
                    "forkserver",
                    choices=("forkserver", "spawn"),
                    help="forkserver (the app's) or spawn (a fresh interpreter)",
                ),
                "time_limit": time_limit(20.0),
            },
        ),
        Lab(
            "queues",
            "4. Queues",
            comms.main_queues,
            (comms.put_into, comms.writer, comms.reader),
            summaries.queues,
            {"time_limit": time_limit(15.0)},
        ),
        Lab(
            "pipe",
            "5. Pipe",
            comms.main_pipe,
            (comms.talker, comms.greedy_reader),
            summaries.pipe,
            {
                "messages": Param(int, 2, 1, 10, help="messages sent each way"),
                "wait": Param(float, 1.0, 0.1, 10.0, help="seconds to wait for the blocked recv()", unit="s"),
                "time_limit": time_limit(20.0),
            },
        ),
        Lab(
            "manager",
            "6. Manager",
            sharing.main_manager,
            (sharing.f, sharing.count),
            summaries.manager,
            {
                "processes": Param(int, 10, 1, 16, help="processes appending their PID"),
                "racers": Param(int, 4, 2, 8, help="processes incrementing the counter"),
                "increments": Param(int, 200, 1, 2000, help="increments per racer"),
                "tries": Param(int, 2, 1, 5, help="races with and without the Lock"),
                "time_limit": time_limit(40.0),
            },
        ),
        Lab(
            "lock",
            "7. Lock",
            sharing.main_lock,
            (sharing.say,),
            summaries.lock,
            {
                "processes": Param(int, 4, 2, 16, help="processes printing"),
                "lines": Param(int, 3, 1, 20, help="lines each"),
                "words": Param(int, 8, 1, 40, help="words per line"),
                "lock": Param(str, "both", choices=("both", "off", "on"), help="run without, with, or both"),
                "time_limit": time_limit(30.0),
            },
        ),
        Lab(
            "pool",
            "8. Pool",
            pools.main_pool,
            (pools.foo, pools.bar),
            summaries.pool,
            {
                "size": Param(int, 3, 1, 8, help="Pool(size) worker processes"),
                "tasks": Param(int, 6, 1, 16, help="tasks submitted"),
                "seconds": seconds(0.4, 2.0),
                "time_limit": time_limit(40.0),
            },
        ),
        Lab(
            "gil",
            "9. The GIL",
            pools.main_gil,
            (
                pools.crunch,
                pools.crunch_jobs,
                pools.crunch_jobs_in_turns,
                pools.wait_io,
                pools.in_threads,
            ),
            gil.summarize,
            {
                "jobs": Param(int, 4, 1, 16, help="jobs of CPU work (and of IO waits)"),
                "work": Param(int, 1_000_000, 1000, 5_000_000, help="loop iterations per CPU job"),
                "threads": Param(int, 4, 1, 16, help="threads"),
                "processes": Param(int, 2, 1, 16, help="processes"),
                "io_seconds": Param(float, 0.2, 0.0, 2.0, help="seconds each IO job waits", unit="s"),
                "time_limit": time_limit(60.0),
            },
        ),
    ]


LABS: dict[str, Lab] = {lab.name: lab for lab in _labs()}
