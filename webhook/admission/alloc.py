"""glibc malloc settings for a process that serves TLS.

Every TLS read of the event loop (uvloop's SSL protocol and asyncio's alike) asks OpenSSL for up
to 256 KiB: Python allocates a 256 KiB bytes object, OpenSSL fills the few KiB that arrived, and
the object is shrunk and later freed. Above glibc's mmap threshold (128 KiB to start with) each
such buffer is a fresh ``mmap``, page faults, an ``mremap`` and a ``munmap``: three system calls
per request, about 8 % of the webhook's CPU under load. Raising the mmap threshold serves those
buffers from the heap, and raising the trim threshold keeps the heap's top from being handed back
to the kernel and taken again on every request. The cost is a few MiB of memory kept.

Only ``canarist webhook`` (a process of its own) calls this; an operator's own
``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` environment settings win.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 1024 * 1024  # above the 256 KiB read buffer
TRIM_THRESHOLD = 4 * 1024 * 1024
ENV = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


def tune_allocator() -> bool:
    """Apply the thresholds; False where that is not possible (not glibc) or not wanted."""
    if not sys.platform.startswith("linux") or any(name in os.environ for name in ENV):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this process runs on
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    # glibc answers 1 when a setting is taken; musl's mallopt is a stub answering 0.
    return bool(
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
        and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    )
