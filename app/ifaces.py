"""The network interfaces: name, whether it is up, its IPv4/IPv6 addresses. The tray reads
them on every tick (app.netwatch) and every check (the link probe). On Linux they come from
libc's getifaddrs() through ctypes, as psutil reads them, without psutil's extension and
modules (1.1 MB in every tray); elsewhere psutil answers (macOS and the BSDs lay out a
sockaddr differently, Windows has no getifaddrs)."""

from __future__ import annotations

import functools
import os
import socket
import sys
from typing import Any

IFF_UP = 0x1


def list_interfaces() -> list[dict[str, Any]]:
    """[{name, is_up, addresses}] sorted by name; addresses in the order the OS lists them,
    without the "%eth0" zone suffix of link-local IPv6 ones. OSError when they cannot be read."""
    rows = _getifaddrs() if sys.platform.startswith("linux") else _psutil()
    return [{"name": name, "is_up": up, "addresses": addrs} for name, (up, addrs) in sorted(rows.items())]


def _psutil() -> dict[str, tuple[bool, list[str]]]:
    import psutil

    addrs = psutil.net_if_addrs()
    stats = psutil.net_if_stats()
    rows: dict[str, tuple[bool, list[str]]] = {}
    for name in set(addrs) | set(stats):
        stat = stats.get(name)
        found = [str(a.address).split("%", 1)[0] for a in addrs.get(name, [])
                 if a.family in (socket.AF_INET, socket.AF_INET6) and a.address]
        rows[name] = (bool(stat and stat.isup), found)
    return rows


@functools.cache
def _getifaddrs_api() -> tuple[Any, Any]:
    """(libc, POINTER(struct ifaddrs)), made once: ctypes keeps every pointer type it makes,
    so a structure declared per call would grow the process on every tick."""
    import ctypes

    from app.libc import libc

    class Ifaddrs(ctypes.Structure):
        pass

    # struct ifaddrs (<ifaddrs.h>); a Linux struct sockaddr starts with a 2-byte family
    Ifaddrs._fields_ = [
        ("ifa_next", ctypes.POINTER(Ifaddrs)),
        ("ifa_name", ctypes.c_char_p),
        ("ifa_flags", ctypes.c_uint),
        ("ifa_addr", ctypes.c_void_p),
        ("ifa_netmask", ctypes.c_void_p),
        ("ifa_ifu", ctypes.c_void_p),
        ("ifa_data", ctypes.c_void_p),
    ]
    pointer = ctypes.POINTER(Ifaddrs)
    c = libc()
    if c is None:
        raise OSError("the C library could not be loaded")
    c.getifaddrs.argtypes = [ctypes.POINTER(pointer)]
    c.getifaddrs.restype = ctypes.c_int
    c.freeifaddrs.argtypes = [pointer]
    c.freeifaddrs.restype = None
    return c, pointer


def _getifaddrs() -> dict[str, tuple[bool, list[str]]]:
    import ctypes

    libc, pointer = _getifaddrs_api()
    head = pointer()
    if libc.getifaddrs(ctypes.byref(head)) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"getifaddrs: {os.strerror(errno)}")
    rows: dict[str, tuple[bool, list[str]]] = {}
    try:
        node = head
        while node:
            entry = node.contents
            name = (entry.ifa_name or b"").decode("utf-8", "replace")
            up, found = rows.get(name, (False, []))
            rows[name] = (up or bool(entry.ifa_flags & IFF_UP), found)
            if entry.ifa_addr:
                family = ctypes.c_ushort.from_address(entry.ifa_addr).value
                if family == socket.AF_INET:  # sockaddr_in: family, port, 4-byte address
                    found.append(socket.inet_ntop(family, ctypes.string_at(entry.ifa_addr + 4, 4)))
                elif family == socket.AF_INET6:  # sockaddr_in6: family, port, flowinfo, address
                    found.append(socket.inet_ntop(family, ctypes.string_at(entry.ifa_addr + 8, 16)))
            node = entry.ifa_next
    finally:
        libc.freeifaddrs(head)
    return rows
