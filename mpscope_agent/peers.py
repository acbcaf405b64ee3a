"""Who is at the other end of a Manager connection: the writer every recorded op carries.

A Unix socket's peer credentials name the process at once (one syscall). A TCP client
is looked up in ``/proc``: the socket of this machine whose local end is the client's
address *and* port and whose remote end is this server's, then the process that holds
it; a client that is not here (another host, or a process whose descriptors we may not
read) stays ``host:port``. The search costs the Manager ~10 ms, so the hooks ask only for
a connection that passed the authkey challenge (see ``manager_hooks``).

Standard library only: this runs inside a watched program's Manager.
"""

from __future__ import annotations

import os
import socket
import struct

_PEERCRED = struct.Struct("3i")
_MAPPED = b"\0" * 10 + b"\xff\xff"  # the prefix of an IPv4 address seen by an IPv6 socket

lookups = 0  # /proc searches this process made (tests read it: a refused client costs none)


def writer_of(conn) -> int | str:
    """The PID at the other end of a Manager connection, or ``host:port`` for a TCP client
    that is not a process of this machine (a Manager served over the network)."""
    try:
        sock = socket.socket(fileno=os.dup(conn.fileno()))
    except (OSError, AttributeError):
        return 0
    with sock:
        try:
            if sock.family == socket.AF_UNIX:
                raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
                return _PEERCRED.unpack(raw)[0]
            host, port = sock.getpeername()[:2]
            here = sock.getsockname()[:2]
        except OSError:
            return 0
    return local_tcp_pid((host, port), here) or f"{host}:{port}"


def local_tcp_pid(peer: tuple[str, int], server: tuple[str, int]) -> int | None:
    """The PID of a process here whose TCP socket runs from ``peer`` to ``server``, from /proc
    (no ptrace). Address and port both: another address with the same port is another socket."""
    global lookups
    lookups += 1
    local, remote = proc_forms(*peer), proc_forms(*server)
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[1] in local and fields[2] in remote:
                        inodes.add(fields[9])
        except (OSError, IndexError, StopIteration):
            continue
    wanted = {f"socket:[{inode}]" for inode in inodes if inode != "0"}
    if not wanted:
        return None
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}") in wanted:
                    return int(pid)
        except OSError:
            continue  # not ours to read, or gone
    return None


def proc_forms(host: str, port: int) -> set[str]:
    """``host:port`` as /proc/net/tcp and tcp6 print it (each 32-bit word of the address in
    this machine's byte order, ``%08X``; the port ``%04X``), in both families an IPv4
    address may appear in (plain, or mapped into IPv6 by a dual-stack socket)."""
    try:
        packed = socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host.split("%")[0])
    except (OSError, ValueError):
        return set()
    if len(packed) == 4:
        forms = [packed, _MAPPED + packed]
    elif packed.startswith(_MAPPED):
        forms = [packed, packed[12:]]
    else:
        forms = [packed]
    return {
        "".join(f"{word:08X}" for word in struct.unpack(f"={len(form) // 4}I", form)) + f":{port:04X}"
        for form in forms
    }
