"""The code mpscope runs inside a watched program: standard library only, started by sitecustomize.

``mpscope run`` puts a private directory on the program's PYTHONPATH whose
``sitecustomize`` imports this package and calls :func:`channel.start`. Every Python
process of the program (the main one, fork/spawn/forkserver children, Pool and
Manager processes, grandchildren) then reports itself to the dashboard over a private
Unix socket, hands over its stdout/stderr pipes, answers stack requests, and reports
the Process and Pool events that the hooks in :mod:`process_hooks` and
:mod:`pool_hooks` see. Manager hooks belong beside those two, as a third module.
"""

# Environment variables the agent reads. They are removed from os.environ (but kept in
# the C environment, so that exec'd children such as spawn workers inherit them).
ENV_DIR = "MPSCOPE_AGENT"  # the private 0700 directory: agent.sock, key, boot/
ENV_PYTHONPATH = "MPSCOPE_PYTHONPATH"  # the program's own PYTHONPATH ("" if it had none)
ENV_OUT = "MPSCOPE_OUT"  # "dev:ino" of the stdout pipe the parent handed over
ENV_ERR = "MPSCOPE_ERR"  # the same for stderr
ENV_MAIN = "MPSCOPE_MAIN"  # set (to "1") for the program's main process only
ENV_TTY = "MPSCOPE_TTY"  # "1" if mpscope's own stdout is a terminal (set by the main process)
HIDDEN_ENV = (ENV_DIR, ENV_PYTHONPATH, ENV_OUT, ENV_ERR, ENV_MAIN, ENV_TTY)
