"""`mailbeacon discover ADDRESS`: finding servers from an address is not part of this version."""

from __future__ import annotations

import sys

EX_UNAVAILABLE = 69


def run(args) -> int:
    print(
        "mailbeacon: discovery (autoconfig, Autodiscover, SRV, MX) is not available in this "
        "version; list the mail servers as [[endpoints]] in the configuration "
        "(see `mailbeacon config paths`).",
        file=sys.stderr,
    )
    return EX_UNAVAILABLE
