"""Process hooks: tell the dashboard each child's name and role, and how each child ended.

``BaseProcess.start`` reports the new child (its name, and a role read from its target:
a Pool or ProcessPoolExecutor worker, a Manager server, or a plain Process). The
``poll`` of whichever Popen class started it reports the exit code the parent reaped,
which is the only place a signal death is known. ``util.spawnv_passfds`` names the
forkserver and resource-tracker helper processes.
"""

from __future__ import annotations

import functools
import os
import sys

ROLE_TARGETS = {
    ("multiprocessing.pool", "worker"): "pool",
    ("concurrent.futures.process", "_process_worker"): "pool",
    ("joblib.externals.loky.process_executor", "_process_worker"): "pool",  # joblib's default backend
    ("loky.process_executor", "_process_worker"): "pool",
    ("multiprocessing.managers", "BaseManager._run_server"): "manager",
}
HELPERS = {
    "multiprocessing.forkserver": "forkserver",
    "multiprocessing.resource_tracker": "resource_tracker",
    "loky.backend.resource_tracker": "resource_tracker",  # loky's own (joblib.externals.loky... too)
}


def role_of(process) -> str:
    target = getattr(process, "_target", None)
    target = getattr(target, "__func__", target)
    key = (getattr(target, "__module__", None), getattr(target, "__qualname__", None))
    return ROLE_TARGETS.get(key, "process")


def os_parent(popen) -> int:
    """The PID of the child's parent as the kernel has it: us, or the forkserver that forked it.

    Sent with ``proc``: a child that ends before it says hello, and before the dashboard
    could look it up, would otherwise have no parent on the page.
    """
    if type(popen).__module__.endswith("popen_forkserver"):
        forkserver = sys.modules.get("multiprocessing.forkserver")
        pid = getattr(getattr(forkserver, "_forkserver", None), "_forkserver_pid", None)
        if isinstance(pid, int):
            return pid
    return os.getpid()


def patch_process(module, channel) -> None:
    """Wrap ``BaseProcess.start`` in ``multiprocessing.process``."""
    start = module.BaseProcess.start
    patched_popens = set()

    @functools.wraps(start)
    def wrapped_start(self):
        role = role_of(self)  # start() deletes the target once the child runs
        start(self)
        popen = self._popen
        message = {"t": "proc", "pid": popen.pid, "ppid": os_parent(popen), "name": self.name, "role": role}
        channel.send(message)
        if type(popen) not in patched_popens:
            patched_popens.add(type(popen))
            _patch_poll(type(popen), channel)

    module.BaseProcess.start = wrapped_start


def _patch_poll(popen_class, channel) -> None:
    poll = popen_class.poll
    reported = set()

    @functools.wraps(poll)
    def wrapped_poll(self, *args, **kwargs):
        code = poll(self, *args, **kwargs)
        if code is not None and self.pid not in reported:
            reported.add(self.pid)
            channel.send({"t": "exit", "pid": self.pid, "code": code})
        return code

    popen_class.poll = wrapped_poll


def patch_util(module, channel) -> None:
    """Wrap ``util.spawnv_passfds`` to name the helper processes it starts."""
    spawn = module.spawnv_passfds

    @functools.wraps(spawn)
    def wrapped_spawnv_passfds(path, args, passfds):
        pid = spawn(path, args, passfds)
        command = " ".join(str(a) for a in args)
        for marker, name in HELPERS.items():
            if marker in command:
                channel.send({"t": "proc", "pid": pid, "ppid": os.getpid(), "name": name, "role": "process"})
        return pid

    module.spawnv_passfds = wrapped_spawnv_passfds
