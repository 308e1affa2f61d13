"""IMAP probe: greeting, CAPABILITY, STARTTLS or implicit TLS, CAPABILITY again, LOGOUT.
It never logs in."""

from __future__ import annotations

import socket
from collections.abc import Callable
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
    caps = capability(conv, "a1")
    ctx.data["capabilities"] = caps
    offered = "STARTTLS" in caps
    ctx.data["starttls"] = offered if endpoint.tls != "implicit" else False
    if endpoint.tls == "starttls":
        if not offered:
            raise ProbeFailure(
                "starttls_unsupported", it.detail("imap", "starttls_unsupported", where=conv.where)
            )
        conv.send("a2 STARTTLS")
        status, text = _tagged(conv, "a2")
        if status != "OK":
            raise ProbeFailure(
                "starttls_failed",
                it.detail(
                    "imap", "starttls_refused", where=conv.where, status=status, text=shorten(text)
                ),
            )
        ctx.enter("tls")
        conv.upgrade(starttls_handshake(ctx, endpoint, conv.sock, lambda: _reopen_for_tls(ctx, endpoint)))
        ctx.enter("protocol")
        caps = capability(conv, "a3")
        ctx.data["capabilities"] = caps
    mechanisms = [c[5:] for c in caps if c.startswith("AUTH=")]
    ctx.data["auth_mechanisms"] = mechanisms
    login_disabled = "LOGINDISABLED" in caps
    conv.goodbye("a9 LOGOUT", lambda c: _tagged(c, "a9"))

    warning = tls.expiry_warning(ctx)
    if warning:
        return warning
    if not mechanisms and login_disabled:
        return Outcome("auth_not_offered", it.detail("imap", "no_sign_in", where=conv.where))
    ways = ", ".join(mechanisms) if mechanisms else "LOGIN"
    return Outcome(
        "ok", it.detail("imap", "ok", where=conv.where, over_tls=over_tls(ctx), mechanisms=ways)
    )


def read_greeting(conv: Conversation) -> str:
    line = conv.readline()
    word = line.split(" ", 2)[1].upper() if line.startswith("* ") and " " in line[2:] else ""
    if line.startswith("* ") and word in ("OK", "PREAUTH"):
        return line
    if line.upper().startswith("* BYE"):
        raise ProbeFailure(
            "service_unavailable",
            it.detail("imap", "refused", where=conv.where, text=shorten(line[6:])),
        )
    raise ProbeFailure(
        "bad_greeting", it.detail("imap", "not_imap", where=conv.where, line=shorten(line, 80))
    )


def capability(conv: Conversation, tag: str) -> list[str]:
    """The CAPABILITY words, upper case."""
    conv.send(f"{tag} CAPABILITY")
    caps: list[str] = []

    def untagged(line: str) -> None:
        if line.upper().startswith("* CAPABILITY "):
            caps.extend(w.upper() for w in line.split()[2:])

    status, text = _tagged(conv, tag, untagged)
    if status != "OK":
        raise ProbeFailure(
            "protocol_error",
            it.detail(
                "imap", "capability_rejected", where=conv.where, status=status, text=shorten(text)
            ),
        )
    return caps


def _tagged(
    conv: Conversation, tag: str, untagged: Callable[[str], None] | None = None
) -> tuple[str, str]:
    """Read up to the tagged response; (OK|NO|BAD, text). Untagged lines go to `untagged`."""
    while True:
        line = conv.readline()
        if line.startswith("* "):
            if line.upper().startswith("* BYE"):
                raise ProbeFailure(
                    "service_unavailable",
                    it.detail("imap", "ended", where=conv.where, text=shorten(line[6:])),
                )
            if untagged:
                untagged(line)
            continue
        parts = line.split(" ", 2)
        if len(parts) >= 2 and parts[0] == tag and parts[1].upper() in ("OK", "NO", "BAD"):
            return parts[1].upper(), parts[2] if len(parts) > 2 else ""
        raise ProbeFailure(
            "protocol_error",
            it.detail("imap", "not_imap_answer", where=conv.where, line=shorten(line, 80)),
        )


def _reopen_for_tls(ctx: ProbeContext, endpoint: Endpoint) -> socket.socket:
    conv = Conversation(ctx, connect(ctx, endpoint.host, endpoint.port), endpoint.target)
    try:
        conv.readline()
        conv.send("a1 STARTTLS")
        if _tagged(conv, "a1")[0] != "OK":
            refused = it.detail("conversation", "second_look_refused", command="STARTTLS")
            raise ProbeFailure("starttls_failed", refused)
    except ProbeFailure:
        conv.close()
        raise
    return conv.sock
