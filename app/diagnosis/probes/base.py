"""What every probe shares: the absolute deadline, the context it reports into, and failures."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.words import it

if TYPE_CHECKING:
    from app.config import Config

# the code a probe gets when the deadline passes while it is in this phase (its detail: it.TIMEOUT)
TIMEOUT_CODE_BY_PHASE = {
    "link": "no_network",
    # connected, still reading the gateway and DNS servers (a slow `route print`)
    "link_facts": "ok",
    "internet": "internet_unreachable",
    "dns": "dns_timeout",
    "tcp": "tcp_timeout",
    "banner": "banner_timeout",
    "tls": "tls_handshake_failed",
    "protocol": "protocol_error",
    "http": "http_timeout",
}


class Deadline:
    """One absolute point in monotonic time shared by every probe of a check."""

    def __init__(self, seconds: float, clock=time.monotonic) -> None:
        self._clock = clock
        self.at = clock() + seconds

    def remaining(self) -> float:
        return self.at - self._clock()

    def timeout(self, cap: float | None = None) -> float:
        """A socket timeout that never runs past the deadline (and is never zero)."""
        left = max(0.01, self.remaining())
        return min(left, cap) if cap is not None else left

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0


class ProbeFailure(Exception):
    """The first layer that failed, as a SPEC code and a sentence for IT."""

    def __init__(self, code: str, detail: str, **data: Any) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.data = data


def timed_out(phase: str) -> ProbeFailure:
    """What a probe whose deadline passed while it was in `phase` failed with."""
    return ProbeFailure(TIMEOUT_CODE_BY_PHASE.get(phase, "protocol_error"), it.timed_out(phase))


@dataclass
class Outcome:
    code: str = "ok"
    detail: str = ""


@dataclass
class ProbeContext:
    config: Config
    deadline: Deadline
    phase: str = "dns"
    data: dict[str, Any] = field(default_factory=dict)
    # set by the engine when it stops waiting; probes may check it between steps
    abandoned: threading.Event = field(default_factory=threading.Event)

    def enter(self, phase: str) -> None:
        if self.abandoned.is_set():
            raise timed_out(self.phase)
        self.phase = phase
