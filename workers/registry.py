"""The fixed registry of tasks a client may start, with their params and limits.

Requests name a task and pass params; both are checked here against this table and
nothing else, so a request can never make a worker import or evaluate anything.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sharedstate.kinds.locks import named_lock_id

from . import tasks

LOCK_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


class ParamError(ValueError):
    """A task name or param value that is not allowed; the message names it."""


@dataclass(frozen=True)
class Param:
    """One task parameter: its type, default and allowed range or choices."""

    kind: type
    default: Any
    low: float | None = None
    high: float | None = None
    choices: tuple = ()
    help: str = ""
    unit: str = ""

    def check(self, name: str, value: Any) -> Any:
        if self.kind is float and type(value) is int:
            try:
                value = float(value)
            except OverflowError:
                raise ParamError(f"param '{name}' is out of range") from None
        if type(value) is not self.kind:
            raise ParamError(f"param '{name}' must be {self.kind.__name__}, not {type(value).__name__}")
        if self.kind is float and value != value:
            raise ParamError(f"param '{name}' must be a number, not NaN")
        if self.low is not None and value < self.low:
            raise ParamError(f"param '{name}' must be >= {self.low}")
        if self.high is not None and value > self.high:
            raise ParamError(f"param '{name}' must be <= {self.high}")
        if self.choices and value not in self.choices:
            raise ParamError(f"param '{name}' must be one of {', '.join(map(str, self.choices))}")
        if self.kind is str and not self.choices and not LOCK_NAME.fullmatch(value):
            raise ParamError(f"param '{name}' must be 1-64 letters, digits or _.:-")
        return value

    def describe(self) -> dict:
        out = {"type": self.kind.__name__, "default": self.default, "help": self.help}
        if self.low is not None:
            out["min"] = self.low
        if self.high is not None:
            out["max"] = self.high
        if self.choices:
            out["choices"] = list(self.choices)
        if self.unit:
            out["unit"] = self.unit
        return out


def validate_params(specs: dict[str, Param], params: Any, owner: str) -> dict:
    """Check ``params`` against ``specs`` and fill in defaults, or raise ParamError naming the bad one."""
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ParamError("'params' must be an object")
    unknown = sorted(set(params) - set(specs), key=str)
    if unknown:
        raise ParamError(f"unknown param '{str(unknown[0])[:64]}' for {owner}")
    return {
        name: spec.check(name, params[name]) if name in params else spec.default
        for name, spec in specs.items()
    }


def _nothing(params: dict) -> dict:
    return {}


@dataclass(frozen=True)
class Task:
    """A task: the function a worker runs, its params, and the shared objects it uses.

    ``locks(params)`` maps keyword arguments to names of the dashboard's named locks (or
    None); ``objects(params)`` maps them to ``(kind, name, args)``: a shared object of any
    kind, made with ``args`` by the first worker that uses it.
    """

    name: str
    func: Callable
    help: str
    params: dict[str, Param] = field(default_factory=dict)
    locks: Callable[[dict], dict[str, str | None]] = _nothing
    objects: Callable[[dict], dict[str, tuple]] = _nothing

    def validate(self, params: Any) -> dict:
        """Return complete, checked params, or raise ParamError naming the bad one."""
        return validate_params(self.params, params, f"task '{self.name}'")

    def shared(self, params: dict) -> dict[str, tuple | None]:
        """Every shared object the task uses, as ``{kwarg: (kind, object id, args) or None}``."""
        uses: dict[str, tuple | None] = {
            kwarg: None if name is None else ("Lock", named_lock_id(name), ())
            for kwarg, name in self.locks(params).items()
        }
        for kwarg, (kind, name, args) in self.objects(params).items():
            uses[kwarg] = (kind, f"{kind}:{name}", args)
        return uses

    def describe(self) -> dict:
        return {
            "name": self.name,
            "help": self.help,
            "params": {n: p.describe() for n, p in self.params.items()},
        }


SECONDS = dict(low=0.0, high=3600.0, unit="s")

TASKS: dict[str, Task] = {
    t.name: t
    for t in [
        Task(
            "append_pid",
            tasks.append_pid,
            "l.append(pid); d[pid] = {...}; then tick every interval until stopped",
            {"interval": Param(float, 1.0, 0.01, 3600.0, help="seconds between ticks", unit="s")},
        ),
        Task(
            "counter",
            tasks.counter,
            'd["counter"] += 1, n times, with or without the shared lock "counter"',
            {
                "n": Param(int, 1000, 1, 1_000_000, help="increments"),
                "lock": Param(bool, False, help='hold the shared lock "counter" for each +=1'),
            },
            lambda p: {"lock": "counter"} if p["lock"] else {"lock": None},
        ),
        Task("cpu", tasks.cpu, "busy loop", {"seconds": Param(float, 5.0, **SECONDS)}),
        Task("sleep", tasks.sleep, "sleep, then exit", {"seconds": Param(float, 5.0, **SECONDS)}),
        Task("crash", tasks.crash, "raise an exception", {"seconds": Param(float, 0.5, **SECONDS)}),
        Task("odd_values", tasks.odd_values, "write a set, bytes, an object, NaN, inf, a huge list, HTML"),
        Task(
            "burst",
            tasks.burst,
            'write n mutations: d[f"{pid}:{i % keys}"] = i or l.append(i)',
            {
                "n": Param(int, 1000, 0, 10_000_000, help="mutations"),
                "rate": Param(float, 0.0, 0.0, 1_000_000.0, help="per second, 0 = flat out", unit="/s"),
                "keys": Param(int, 100, 1, 1_000_000, help="distinct keys cycled"),
                "target": Param(str, "dict", choices=("dict", "list")),
            },
        ),
        Task(
            "fill",
            tasks.fill,
            'add n items in one call: l.extend(range(n)) or d.update({f"{pid}:{i}": i ...})',
            {
                "n": Param(int, 1000, 0, 1_000_000, help="items"),
                "target": Param(str, "list", choices=("list", "dict")),
            },
        ),
        Task(
            "printer",
            tasks.printer,
            "print numbered lines",
            {
                "lines": Param(int, 10, 0, 1_000_000),
                "interval": Param(float, 0.0, 0.0, 60.0, help="seconds between lines", unit="s"),
                "stream": Param(str, "stdout", choices=("stdout", "stderr", "both")),
                "width": Param(int, 0, 0, 10_000, help="pad each line with dots to this many chars"),
            },
        ),
        Task(
            "hold_lock",
            tasks.hold_lock,
            "take a named shared lock and hold it",
            {"lock": Param(str, "demo", help="lock name"), "seconds": Param(float, 5.0, **SECONDS)},
            lambda p: {"lock": p["lock"]},
        ),
        Task(
            "deadlock",
            tasks.deadlock,
            "take lock first, pause, then take lock second",
            {
                "first": Param(str, "a"),
                "second": Param(str, "b"),
                "pause": Param(float, 0.5, 0.0, 60.0, unit="s"),
            },
            lambda p: {"first": p["first"], "second": p["second"]},
        ),
        Task(
            "producer",
            tasks.producer,
            "q.put(item), n times, rate per second (blocks while the queue is full)",
            {
                "queue": Param(str, "jobs", help="queue name"),
                "n": Param(int, 20, 1, 1_000_000, help="items to put"),
                "rate": Param(float, 5.0, 0.0, 10_000.0, help="per second, 0 = flat out", unit="/s"),
                "maxsize": Param(
                    int, 10, 0, 1_000_000, help="queue capacity, 0 = unbounded (set by the first user)"
                ),
            },
            objects=lambda p: {"q": ("Queue", p["queue"], (p["maxsize"],))},
        ),
        Task(
            "consumer",
            tasks.consumer,
            "item = q.get(); work on it; q.task_done(), until n items (0 = until stopped)",
            {
                "queue": Param(str, "jobs", help="queue name"),
                "n": Param(int, 0, 0, 1_000_000, help="items to take, 0 = until stopped"),
                "rate": Param(float, 2.0, 0.0, 10_000.0, help="items per second, 0 = flat out", unit="/s"),
            },
            objects=lambda p: {"q": ("Queue", p["queue"], ())},
        ),
        Task(
            "barrier",
            tasks.barrier,
            "rounds times: work a random while, then b.wait() for all parties",
            {
                "barrier": Param(str, "meet", help="barrier name"),
                "parties": Param(int, 3, 1, 64, help="workers that must meet"),
                "rounds": Param(int, 3, 1, 1000),
                "pause": Param(float, 1.0, 0.0, 60.0, help="longest work between meetings", unit="s"),
            },
            objects=lambda p: {"b": ("Barrier", p["barrier"], (p["parties"],))},
        ),
        Task(
            "event_wait",
            tasks.event_wait,
            "e.wait(timeout): block until some worker sets the event",
            {
                "event": Param(str, "go", help="event name"),
                "timeout": Param(float, 60.0, **SECONDS),
            },
            objects=lambda p: {"e": ("Event", p["event"], ())},
        ),
        Task(
            "event_set",
            tasks.event_set,
            "sleep delay, e.set(); then e.clear() after clear_after (0 = leave it set)",
            {
                "event": Param(str, "go", help="event name"),
                "delay": Param(float, 2.0, **SECONDS),
                "clear_after": Param(float, 0.0, **SECONDS),
            },
            objects=lambda p: {"e": ("Event", p["event"], ())},
        ),
        Task(
            "semaphore",
            tasks.semaphore,
            "with s: work for seconds; at most slots workers inside at once",
            {
                "semaphore": Param(str, "pool", help="semaphore name"),
                "slots": Param(int, 2, 1, 64, help="how many may hold it at once (set by the first user)"),
                "seconds": Param(float, 3.0, **SECONDS),
            },
            objects=lambda p: {"s": ("Semaphore", p["semaphore"], (p["slots"],))},
        ),
    ]
}


def get_task(name: Any) -> Task:
    """Return the registered task called ``name`` or raise ParamError."""
    if not isinstance(name, str) or name not in TASKS:
        shown = name[:64] if isinstance(name, str) else type(name).__name__
        raise ParamError(f"unknown task {shown!r}; known tasks: {', '.join(TASKS)}")
    return TASKS[name]
