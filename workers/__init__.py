"""Code that runs inside worker processes: the tasks, their registry and the bootstrap."""

from .registry import TASKS, ParamError, Task, get_task

__all__ = ["TASKS", "ParamError", "Task", "get_task"]
