"""The lessons the Labs page runs: tutorial-sized functions, and the code that starts them.

Each lesson module holds the functions its child processes run and a ``main`` that the
server runs in a thread of its own with a ``lab`` handle (see ``webapp.labs.context``):
``lab.Process``, ``lab.Pool``, ``lab.Queue``, ``lab.Pipe`` are the real multiprocessing
ones, from the server's context, recorded so the run can kill and reap them.
"""
