"""The dashboard process's C allocator, set so that memory it frees can go back to the system.

glibc's malloc serves a block of 128 KiB or more with a mapping of its own, returned when
freed; but it raises that threshold to the size of each such block freed, so that after a
while the replay's passing big strings (journal batches, their pickles and JSON pieces)
are cut from the heap instead, between the small objects that stay (a shared dict's keys
and values), and the heap cannot shrink after them. Fixing the threshold keeps them in
mappings of their own: 300,000 dict entries written 10,000 per update cost the dashboard
~157 MB of anonymous memory instead of ~185 MB (two runs each, alternating).
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h)
THRESHOLD = 128 * 1024  # glibc's own starting value, kept


def keep_big_blocks_mapped() -> bool:
    """Fix glibc's mmap threshold in this process; False where there is no glibc (nothing to do)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, THRESHOLD))
    except (OSError, AttributeError):  # not glibc (musl, macOS): no such call, or no such threshold
        return False
