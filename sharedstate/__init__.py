"""The shared-state engine: what a recording Manager runs, and the one replayer of its changes.

``journal`` (the ChangeJournal every shared object records into), ``kinds`` (one module
per kind of object a SyncManager serves: the Manager-side observed type and its encoded
Replica), ``carry`` (values crossing to the server one by one) and ``encoding`` (values
as typed JSON) run inside a Manager process; ``replica`` rebuilds the state from what
clients receive. Standard library only: a Manager started by a watched program
(``mpscope run``) runs this code too, in an environment that may lack Flask, and inside
the program's own time: its modules do not import ``typing`` (``TYPE_CHECKING = False``
guards what only annotations use) nor anything else the Manager would not need.
"""
