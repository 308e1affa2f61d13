"""glibc through ctypes, loaded once for the few calls the tray makes to it directly (the
allocator's arena limit and trim, getifaddrs). None off Linux or where it cannot be loaded."""

from __future__ import annotations

import functools
import sys
from typing import Any


@functools.cache
def libc() -> Any:
    """The C library the process already runs on (with errno kept for ctypes.get_errno): its
    symbols, whichever file holds them (glibc's libc.so.6, musl's), or None."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
