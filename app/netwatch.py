"""Noticing that the laptop's network changed, without a platform backend: a fingerprint of the
interfaces that are up and their addresses, compared on the tray's tick. Qt's
QNetworkInformation did the same through a NetworkManager/GIO plugin that cost the idle tray
more memory than the rest of its network code; the check a change brings waits a random
delay of seconds anyway (app.monitor), so a tick's latency adds nothing a person sees."""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


def fingerprint() -> tuple[tuple[str, bool, tuple[str, ...]], ...] | None:
    """(name, is up, sorted addresses) for every interface but loopback; None when it cannot
    be read (then nothing is compared, nothing triggers)."""
    from app.ifaces import list_interfaces

    try:
        interfaces = list_interfaces()
    except Exception:  # an odd platform or a sandbox: the interval checks still run
        log.debug("could not read the network interfaces", exc_info=True)
        return None
    rows = []
    for interface in interfaces:
        ips = tuple(sorted(interface["addresses"]))
        if ips and all(ip.startswith("127.") or ip == "::1" for ip in ips):
            continue  # loopback
        rows.append((interface["name"], interface["is_up"], ips))
    return tuple(sorted(rows))


class NetworkWatch:
    """Compares the fingerprint with the last one; `changed()` is True once per change."""

    def __init__(self, read: Callable[[], object] = fingerprint) -> None:
        self._read = read
        self._last = read()

    def changed(self) -> bool:
        now = self._read()
        if now is None:
            return False
        last, self._last = self._last, now
        return last is not None and now != last
