"""The program's own Pipes (``r, w = mp.Pipe()``): which ends this process holds, what it sent and received.

Patched when the program imports ``multiprocessing.connection``. A Pipe the program makes
(its ``Pipe()`` call, not the pipes a Queue or a Pool makes for their own use) is one shared
object of kind ``Pipe``; a Connection this process received pickled (``rebuild_connection``:
spawn's Process arguments, a Queue) is followed too, so its facts come from here. Which
ends a process holds is read from its descriptors at sample time: the end's fd still open
and still that pipe's inode (``os.fstat``), so an end a fork child inherited and never
closed is seen as held. Sends and receives are counted by wrapping the Connection methods
with one dict look-up and an integer increment each.

The Pipe's id is the same in every process: a one-way pipe's two fds share one inode; a
duplex Pipe is a socket pair whose lower inode names it (a process that received one end
asks the kernel for its peer's inode, ``sock_diag``; without it the end is not followed).
"""

from __future__ import annotations

import os
import stat
import sys
import weakref

from . import native_objects

KIND = "Pipe"
MAX_PIPES = 1000  # pipes followed per process (a program may make one per task)
COUNTED = ("send", "send_bytes", "recv", "recv_bytes", "recv_bytes_into")


class _End:
    """One Connection of a followed Pipe in this process (it outlives the Connection: its counts)."""

    __slots__ = ("ref", "key", "dev", "ino", "sent", "received")

    def __init__(self, conn, key: str, dev: int, ino: int) -> None:
        key_of = id(conn)
        self.ref = weakref.ref(conn, lambda _ref: _ends.pop(key_of, None))  # before its id is reused
        self.key, self.dev, self.ino = key, dev, ino
        self.sent = self.received = 0

    def held(self) -> bool:
        conn = self.ref()
        if conn is None or conn.closed:
            return False
        try:  # the fd may have been closed under it (os.closerange in a child) or reused
            st = os.fstat(conn.fileno())
        except (OSError, ValueError):
            return False
        return (st.st_dev, st.st_ino) == (self.dev, self.ino)


class _PipeHere:
    """This process's part of one Pipe: the object whose facts are sampled (kept while an end lives)."""

    __slots__ = ("oid", "duplex", "first", "ends", "finished", "__weakref__")

    def __init__(self, oid: str, duplex: bool, first: str | None) -> None:
        self.oid, self.duplex, self.first = oid, duplex, first
        self.ends: list[_End] = []
        self.finished = False


_ends: dict[int, _End] = {}  # id(Connection) -> its end (dropped when the Connection dies)
_pipes: dict[str, _PipeHere] = {}  # oid -> this process's part, held strongly while it matters


def patch_connection(module) -> None:
    """Follow the Pipes the program makes (``Pipe``) or receives (``rebuild_connection``), and count."""
    if sys.platform == "win32" or not hasattr(module, "rebuild_connection"):
        return
    make, rebuild = module.Pipe, module.rebuild_connection

    def Pipe(duplex=True):  # noqa: N802 -- multiprocessing.connection's name
        ends = make(duplex)
        try:
            label = _program_label(sys._getframe(1))
            if label is not None:
                _made(ends, duplex, label)
        except Exception:  # never raised into the program: the Pipe is just not followed
            pass
        return ends

    def rebuild_connection(df, readable, writable):
        conn = rebuild(df, readable, writable)
        try:
            _received(conn)
        except Exception:
            pass
        return conn

    # pickle finds it by this name (reduce_connection returns it): the same bytes as without us
    for ours in (Pipe, rebuild_connection):
        ours.__module__, ours.__qualname__ = module.__name__, ours.__name__
    Pipe.__doc__ = make.__doc__
    module.Pipe, module.rebuild_connection = Pipe, rebuild_connection
    for name in COUNTED:
        setattr(module._ConnectionBase, name, _counting(getattr(module._ConnectionBase, name), name))
    os.register_at_fork(after_in_child=_forked)


def _counting(method, name: str):
    """``method`` of every Connection, counting for the followed ones: the same signature (no
    ``*args`` packing on the hot path), named as the method (a wait in it reads "recv() on r")."""
    if name == "send":

        def wrapper(self, obj):
            try:
                method(self, obj)
            except BaseException as error:  # EOFError, OSError...: raised as without us
                native_objects.drop_own_frame(error)
                raise
            end = _ends.get(id(self))
            if end is not None:
                end.sent += 1

    elif name == "send_bytes":

        def wrapper(self, buf, offset=0, size=None):
            try:
                method(self, buf, offset, size)
            except BaseException as error:  # EOFError, OSError...: raised as without us
                native_objects.drop_own_frame(error)
                raise
            end = _ends.get(id(self))
            if end is not None:
                end.sent += 1

    elif name == "recv_bytes_into":

        def wrapper(self, buf, offset=0):
            try:
                result = method(self, buf, offset)
            except BaseException as error:  # EOFError, OSError...: raised as without us
                native_objects.drop_own_frame(error)
                raise
            end = _ends.get(id(self))
            if end is not None:
                end.received += 1
            return result

    elif name == "recv_bytes":

        def wrapper(self, maxlength=None):
            try:
                result = method(self, maxlength)
            except BaseException as error:  # EOFError, OSError...: raised as without us
                native_objects.drop_own_frame(error)
                raise
            end = _ends.get(id(self))
            if end is not None:
                end.received += 1
            return result

    else:

        def wrapper(self):
            try:
                result = method(self)
            except BaseException as error:  # EOFError, OSError...: raised as without us
                native_objects.drop_own_frame(error)
                raise
            end = _ends.get(id(self))
            if end is not None:
                end.received += 1
            return result

    wrapper.__code__ = wrapper.__code__.replace(co_name=name)
    wrapper.__name__, wrapper.__qualname__ = name, method.__qualname__
    wrapper.__doc__, wrapper.__module__ = method.__doc__, method.__module__
    return wrapper


def _program_label(frame) -> str | None:
    """The label if the program itself called ``Pipe()`` (directly or through a context), else None."""
    code = frame.f_code if frame is not None else None
    if code is not None and code.co_name == "Pipe" and code.co_filename.endswith("context.py"):
        frame = frame.f_back
    return native_objects.program_label(frame, "mp.Pipe()")


def _made(ends: tuple, duplex: bool, label: str) -> None:
    c1, c2 = ends
    s1, s2 = os.fstat(c1.fileno()), os.fstat(c2.fileno())
    if duplex:
        low = min(s1.st_ino, s2.st_ino)
        keys = ("a", "b") if s1.st_ino == low else ("b", "a")
    else:
        low, keys = s1.st_ino, ("r", "w")
    oid = f"native-pipe-{s1.st_dev:x}-{low:x}"
    here = _here(oid, duplex, keys[0], label)
    if here is not None:
        _follow(here, c1, keys[0], s1)
        _follow(here, c2, keys[1], s2)


def _received(conn) -> None:
    """A Connection sent to this process: followed if it is one end of a pipe or socket pair."""
    st = os.fstat(conn.fileno())
    if stat.S_ISFIFO(st.st_mode):
        oid, duplex = f"native-pipe-{st.st_dev:x}-{st.st_ino:x}", False
        key = "r" if conn.readable and not conn.writable else "w"
    elif stat.S_ISSOCK(st.st_mode):
        peer = _peer_inode(st.st_ino)
        if peer is None:
            return  # not a socket pair (a Listener's connection), or the kernel would not say
        oid, duplex = f"native-pipe-{st.st_dev:x}-{min(st.st_ino, peer):x}", True
        key = "a" if st.st_ino < peer else "b"
    else:
        return
    here = _here(oid, duplex, None, None)
    if here is not None:
        _follow(here, conn, key, st)


def _here(oid: str, duplex: bool, first: str | None, label: str | None) -> _PipeHere | None:
    here = _pipes.get(oid)
    if here is None:
        if len(_pipes) >= MAX_PIPES:
            return None
        here = _pipes[oid] = _PipeHere(oid, duplex, first)
        native_objects.remember(here, oid, KIND, label, _facts)
    return here


def _follow(here: _PipeHere, conn, key: str, st) -> None:
    end = _End(conn, key, st.st_dev, st.st_ino)
    here.ends.append(end)
    _ends[id(conn)] = end
    # the Connection itself too, without facts of its own: a wait in its recv() names the Pipe
    native_objects.remember(conn, here.oid, KIND, None, _no_facts)


def _no_facts(_conn) -> None:
    return None


def _facts(here: _PipeHere) -> dict:
    """This process's part: the ends it holds now, what it sent and received through them."""
    held = sorted({end.key for end in here.ends if end.held()})
    if not any(end.ref() is not None for end in here.ends):
        if here.finished:  # its last facts (nothing held) were sampled: let it go
            _pipes.pop(here.oid, None)
        here.finished = True
    facts = {
        "held": held,
        "sent": sum(end.sent for end in here.ends),
        "received": sum(end.received for end in here.ends),
        "duplex": here.duplex,
    }
    if here.first is not None:
        facts["first"] = here.first
    return facts


def _forked() -> None:
    """A fork child holds what its parent held (until it closes it) but has sent nothing yet."""
    for here in _pipes.values():
        here.finished = False
        for end in here.ends:
            end.sent = end.received = 0


def _peer_inode(inode: int) -> int | None:
    """The inode of the other socket of a Unix socket pair, from the kernel (``sock_diag``, Linux)."""
    import socket  # here, once an end arrives: not in every process at start-up
    import struct

    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 4)  # NETLINK_SOCK_DIAG
    except (AttributeError, OSError):
        return None
    try:
        sock.settimeout(1.0)
        # unix_diag_req: family, protocol, pad, states, inode, show (UDIAG_SHOW_PEER), no cookie
        request = struct.pack("=BBHIIIII", socket.AF_UNIX, 0, 0, 0xFFFFFFFF, inode, 4, 0xFFFFFFFF, 0xFFFFFFFF)
        sock.sendto(struct.pack("=IHHII", 16 + len(request), 20, 1, 1, 0) + request, (0, 0))
        data = sock.recv(8192)
    except OSError:
        return None
    finally:
        sock.close()
    if len(data) < 32 or struct.unpack_from("=H", data, 4)[0] != 20:  # SOCK_DIAG_BY_FAMILY
        return None
    length, offset = struct.unpack_from("=I", data)[0], 32  # nlmsghdr (16) + unix_diag_msg (16)
    while offset + 4 <= min(length, len(data)):
        size, kind = struct.unpack_from("=HH", data, offset)
        if size < 4:
            break
        if kind == 2 and size >= 8:  # UNIX_DIAG_PEER
            return struct.unpack_from("=I", data, offset + 4)[0]
        offset += (size + 3) & ~3
    return None
