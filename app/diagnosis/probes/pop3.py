"""POP3 probe: greeting, CAPA, STLS or implicit TLS, CAPA again, QUIT. It never logs in."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from app.diagnosis import tls
from app.diagnosis.net import connect
from app.diagnosis.probes.base import Outcome, ProbeFailure
from app.diagnosis.probes.conversation import Conversation, converse, over_tls, shorten
from app.diagnosis.probes.smtp import starttls_handshake
from app.words import it

if TYPE_CHECKING:
    from app.config import Endpoint
    from app.diagnosis.probes.base import ProbeContext


def probe(ctx: ProbeContext, endpoint: Endpoint) -> Outcome:
    return converse(ctx, endpoint, _talk)


def _talk(ctx: ProbeContext, endpoint: Endpoint, conv: Conversation) -> Outcome:
    ctx.enter("banner")
    ctx.data["greeting"] = read_greeting(conv)
    ctx.enter("protocol")
    caps = capa(conv)
    ctx.data["capabilities"] = caps
    offered = "STLS" in caps
    ctx.data["starttls"] = offered if endpoint.tls != "implicit" else False
    if endpoint.tls == "starttls":
        if not offered:
            raise ProbeFailure(
                "starttls_unsupported", it.detail("pop3", "starttls_unsupported", where=conv.where)
            )
        conv.send("STLS")
        ok, text = _status(conv)
        if not ok:
            raise ProbeFailure(
                "starttls_failed",
                it.detail("pop3", "starttls_refused", where=conv.where, text=shorten(text)),
            )
        ctx.enter("tls")
        conv.upgrade(starttls_handshake(ctx, endpoint, conv.sock, lambda: _reopen_for_tls(ctx, endpoint)))
        ctx.enter("protocol")
        caps = capa(conv)
        ctx.data["capabilities"] = caps
    user_pass = any(c.split()[:1] == ["USER"] for c in caps)
    # USER/PASS is a way to sign in like any SASL mechanism: data lists what the detail lists
    mechanisms = sasl_mechanisms(caps) + (["USER"] if user_pass else [])
    ctx.data["auth_mechanisms"] = mechanisms
    conv.goodbye("QUIT", Conversation.readline)

    warning = tls.expiry_warning(ctx)
    if warning:
        return warning
    if not mechanisms and not user_pass:
        return Outcome("auth_not_offered", it.detail("pop3", "no_sign_in", where=conv.where))
    ways = ", ".join(mechanisms)
    return Outcome(
        "ok", it.detail("pop3", "ok", where=conv.where, over_tls=over_tls(ctx), mechanisms=ways)
    )


def read_greeting(conv: Conversation) -> str:
    line = conv.readline()
    if line.startswith("+OK"):
        return line
    if line.startswith("-ERR"):
        conv.ctx.data["greeting"] = line
        raise ProbeFailure(
            "service_unavailable",
            it.detail("pop3", "refused", where=conv.where, text=shorten(line[4:])),
        )
    raise ProbeFailure(
        "bad_greeting", it.detail("pop3", "not_pop3", where=conv.where, line=shorten(line, 80))
    )


def _status(conv: Conversation) -> tuple[bool, str]:
    line = conv.readline()
    if line.startswith("+OK"):
        return True, line[3:].strip()
    if line.startswith("-ERR"):
        return False, line[4:].strip()
    raise ProbeFailure(
        "protocol_error",
        it.detail("pop3", "not_pop3_answer", where=conv.where, line=shorten(line, 80)),
    )


def capa(conv: Conversation) -> list[str]:
    """CAPA lines upper-cased; empty when the server is too old to know CAPA (-ERR)."""
    conv.send("CAPA")
    ok, _text = _status(conv)
    if not ok:
        return []
    lines: list[str] = []
    while True:
        line = conv.readline()
        if line == ".":
            return lines
        lines.append(line.strip().upper())


def sasl_mechanisms(caps: list[str]) -> list[str]:
    for line in caps:
        words = line.split()
        if words and words[0] == "SASL":
            return words[1:]
    return []


def _reopen_for_tls(ctx: ProbeContext, endpoint: Endpoint) -> socket.socket:
    conv = Conversation(ctx, connect(ctx, endpoint.host, endpoint.port), endpoint.target)
    try:
        conv.readline()
        conv.send("STLS")
        if not _status(conv)[0]:
            refused = it.detail("conversation", "second_look_refused", command="STLS")
            raise ProbeFailure("starttls_failed", refused)
    except ProbeFailure:
        conv.close()
        raise
    return conv.sock
