"""mpscope's sitecustomize: start the agent, then run the program's own sitecustomize, if any."""

import os
import sys


def _mpscope_start():
    boot = os.path.dirname(os.path.abspath(__file__))
    try:
        from mpscope_agent import agent

        agent.start(boot)
    except Exception as exc:  # never stop the program because the dashboard failed
        print(f"mpscope: the agent could not start: {exc!r}", file=sys.stderr)
    finally:
        while boot in sys.path:
            sys.path.remove(boot)
    # the program's (or the distribution's) sitecustomize, which ours shadowed; if there is
    # none, we stay in sys.modules, where the import that is running us expects a module
    ours = sys.modules.pop("sitecustomize")
    try:
        import sitecustomize  # noqa: F401
    except ImportError:
        sys.modules["sitecustomize"] = ours


_mpscope_start()
