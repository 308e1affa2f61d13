"""IMAP probe: greeting, CAPABILITY, STARTTLS or implicit TLS, CAPABILITY again, LOGOUT.
It never logs in."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

from app.diagnosis import tls
from app.diagnosis.net import connect
from app.diagnosis.probes.base import Outcome, ProbeFailure
from app.diagnosis.probes.conversation import Conversation, converse, shorten
from app.diagnosis.probes.smtp import starttls_handshake

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
                "starttls_unsupported",
                f"The IMAP server at {conv.where} does not offer STARTTLS, so passwords would "
                "travel unencrypted; enable STARTTLS on the server or use its implicit-TLS port (993).",
            )
        conv.send("a2 STARTTLS")
        status, text = _tagged(conv, "a2")
        if status != "OK":
            raise ProbeFailure(
                "starttls_failed",
                f"The IMAP server at {conv.where} offers STARTTLS but refused to start it "
                f"({status} {shorten(text)}).",
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
        return Outcome(
            "auth_not_offered",
            f"The IMAP server at {conv.where} answers but allows no way to sign in "
            "(LOGINDISABLED and no AUTH= mechanism), so mail programs cannot fetch mail.",
        )
    version = (ctx.data.get("tls") or {}).get("version")
    secure = f" over {version}" if version else ""
    ways = ", ".join(mechanisms) if mechanisms else "LOGIN"
    return Outcome("ok", f"The IMAP server at {conv.where} answers{secure} and offers sign-in ({ways}).")


def read_greeting(conv: Conversation) -> str:
    line = conv.readline()
    word = line.split(" ", 2)[1].upper() if line.startswith("* ") and " " in line[2:] else ""
    if line.startswith("* ") and word in ("OK", "PREAUTH"):
        return line
    if line.upper().startswith("* BYE"):
        raise ProbeFailure(
            "service_unavailable",
            f"The IMAP server at {conv.where} refuses service: {shorten(line[6:])!r}.",
        )
    raise ProbeFailure(
        "bad_greeting",
        f"The server at {conv.where} is not an IMAP server; it greeted with "
        f"{shorten(line, 80)!r}. Check the port number.",
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
            f"The IMAP server at {conv.where} rejected CAPABILITY ({status} {shorten(text)}).",
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
                    f"The IMAP server at {conv.where} ended the session: {shorten(line[6:])!r}.",
                )
            if untagged:
                untagged(line)
            continue
        parts = line.split(" ", 2)
        if len(parts) >= 2 and parts[0] == tag and parts[1].upper() in ("OK", "NO", "BAD"):
            return parts[1].upper(), parts[2] if len(parts) > 2 else ""
        raise ProbeFailure(
            "protocol_error",
            f"The server at {conv.where} answered with something that is not IMAP: {shorten(line, 80)!r}.",
        )


def _reopen_for_tls(ctx: ProbeContext, endpoint: Endpoint) -> socket.socket:
    conv = Conversation(ctx, connect(ctx, endpoint.host, endpoint.port), endpoint.target)
    try:
        conv.readline()
        conv.send("a1 STARTTLS")
        if _tagged(conv, "a1")[0] != "OK":
            raise ProbeFailure("starttls_failed", "STARTTLS refused on the second look.")
    except ProbeFailure:
        conv.close()
        raise
    return conv.sock
