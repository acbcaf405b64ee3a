"""The dashboard's own Manager, for the server's code: it lives in :mod:`workers.manager`.

The Manager process and the workers' forkserver import that module; anything under
``webapp`` would bring the web stack into both (see there).
"""

from workers.manager import StateManager, start_manager

__all__ = ["StateManager", "start_manager"]
