"""The server layer on its own: does host:port accept a TCP connection? Nothing is sent."""

from __future__ import annotations

import select
import socket

from app.diagnosis import net
from app.diagnosis.probes.base import Outcome, ProbeContext, ProbeFailure
from app.words import it

# How long to watch a fresh connection for an immediate reset. Some firewalls and load balancers
# with no healthy backend complete the handshake and then reset at once: that is not a server.
_SETTLE_S = 0.15


def probe(ctx: ProbeContext, endpoint) -> Outcome:
    sock = net.connect(ctx, endpoint.host, endpoint.port)
    try:
        _check_not_reset(ctx, sock, endpoint)
    finally:
        sock.close()
    where = ctx.data.get("connected_to", endpoint.target)
    return Outcome("ok", it.detail("tcp", "ok", where=where, ms=ctx.data.get("connect_ms", 0)))


def _check_not_reset(ctx: ProbeContext, sock: socket.socket, endpoint) -> None:
    wait = min(_SETTLE_S, max(0.0, ctx.deadline.remaining()))
    try:
        readable, _, _ = select.select([sock], [], [], wait)
        if readable:
            sock.recv(1, socket.MSG_PEEK)
    except ConnectionResetError:
        raise ProbeFailure(
            "tcp_reset", it.detail("tcp", "reset_at_once", where=endpoint.target)
        ) from None
    except OSError:
        pass  # anything else after a completed handshake still means the port answers
