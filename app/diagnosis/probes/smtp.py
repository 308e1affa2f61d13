"""SMTP probe: greeting, EHLO, STARTTLS or implicit TLS, EHLO again, AUTH mechanisms, QUIT.
It never authenticates and never sends mail."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

from app.diagnosis import tls
from app.diagnosis.net import connect
from app.diagnosis.probes.base import Outcome, ProbeFailure
from app.diagnosis.probes.conversation import Conversation, converse, over_tls, shorten
from app.words import it

if TYPE_CHECKING:
    from app.config import Endpoint
    from app.diagnosis.probes.base import ProbeContext

_REPLY = re.compile(r"^(\d{3})([ -]|$)(.*)$")


def probe(ctx: ProbeContext, endpoint: Endpoint) -> Outcome:
    return converse(ctx, endpoint, _talk)


def _talk(ctx: ProbeContext, endpoint: Endpoint, conv: Conversation) -> Outcome:
    ctx.enter("banner")
    greeting = read_greeting(conv)
    ctx.data["greeting"] = greeting
    ctx.enter("protocol")
    ehlo = _ehlo(conv)
    ctx.data["ehlo"] = ehlo
    offered = any(line.upper().split()[:1] == ["STARTTLS"] for line in ehlo)
    ctx.data["starttls"] = offered if endpoint.tls != "implicit" else False
    if endpoint.tls == "starttls":
        if not offered:
            raise ProbeFailure(
                "starttls_unsupported", it.detail("smtp", "starttls_unsupported", where=conv.where)
            )
        _starttls(ctx, endpoint, conv)
        ctx.enter("protocol")
        ehlo = _ehlo(conv)
        ctx.data["ehlo"] = ehlo
    mechanisms = auth_mechanisms(ehlo)
    ctx.data["auth_mechanisms"] = mechanisms
    after_tls = _auth_after_starttls(ctx, endpoint, conv) if not mechanisms and offered and endpoint.tls == "none" else None
    conv.goodbye("QUIT", read_reply)

    warning = tls.expiry_warning(ctx)
    if warning:
        return warning
    if after_tls:
        return Outcome(
            "auth_not_offered",
            it.detail(
                "smtp", "auth_after_starttls", where=conv.where, mechanisms=", ".join(after_tls)
            ),
        )
    if not mechanisms:
        after = it.piece("after_tls") if endpoint.tls != "none" else ""
        return Outcome(
            "auth_not_offered",
            it.detail("smtp", "auth_not_offered", where=conv.where, after_tls=after),
        )
    return Outcome(
        "ok",
        it.detail(
            "smtp", "ok", where=conv.where, over_tls=over_tls(ctx), mechanisms=", ".join(mechanisms)
        ),
    )


def read_reply(conv: Conversation) -> tuple[int, list[str]]:
    """One (possibly multi-line) SMTP reply as (code, text lines)."""
    lines: list[str] = []
    code: int | None = None
    while True:
        line = conv.readline()
        match = _REPLY.match(line)
        if not match or (code is not None and int(match.group(1)) != code):
            raise _not_smtp(conv, line)
        code = int(match.group(1))
        lines.append(match.group(3))
        if match.group(2) != "-":
            return code, lines


def read_greeting(conv: Conversation) -> str:
    """The 220 greeting; service_unavailable for 421/521/554 (RFC 5321, RFC 7504), bad_greeting
    for anything else."""
    code, lines = read_reply(conv)
    text = " ".join(lines)
    if code == 220:
        return f"220 {text}".strip()
    if code in (421, 521, 554):
        conv.ctx.data["reply_code"] = code  # 421 is "busy, come back later": the monitor slows down
        conv.ctx.data["greeting"] = f"{code} {text}".strip()  # what the server said is kept
        refused = it.detail(
            "smtp",
            "refused_521" if code == 521 else "refused",
            where=conv.where,
            code=code,
            text=shorten(text),
        )
        raise ProbeFailure("service_unavailable", refused)
    raise ProbeFailure(
        "bad_greeting",
        it.detail("smtp", "bad_greeting", where=conv.where, code=code, text=shorten(text)),
    )


def _not_smtp(conv: Conversation, line: str) -> ProbeFailure:
    if conv.ctx.phase == "banner":
        return ProbeFailure(
            "bad_greeting", it.detail("smtp", "not_smtp", where=conv.where, line=shorten(line, 80))
        )
    return ProbeFailure(
        "protocol_error",
        it.detail("smtp", "not_smtp_answer", where=conv.where, line=shorten(line, 80)),
    )


def _helo_name(conv: Conversation) -> str:
    # an address literal needs no DNS lookup of our own name, which could stall the probe
    try:
        address = conv.sock.getsockname()[0]
    except OSError:
        return "[127.0.0.1]"
    return f"[IPv6:{address}]" if ":" in address else f"[{address}]"


def _ehlo(conv: Conversation) -> list[str]:
    conv.send(f"EHLO {_helo_name(conv)}")
    code, lines = read_reply(conv)
    if code != 250:
        text = shorten(" ".join(lines))
        if code == 421:
            conv.ctx.data["reply_code"] = code
            raise ProbeFailure(
                "service_unavailable",
                it.detail("smtp", "closed_session", where=conv.where, code=code, text=text),
            )
        raise ProbeFailure(
            "protocol_error",
            it.detail("smtp", "ehlo_rejected", where=conv.where, code=code, text=text),
        )
    return lines[1:]  # the first line is the server's name and greeting


def auth_mechanisms(ehlo: list[str]) -> list[str]:
    """AUTH mechanisms from EHLO extension lines ("AUTH PLAIN LOGIN", old "AUTH=LOGIN")."""
    found: list[str] = []
    for line in ehlo:
        words = line.replace("=", " ", 1).split() if line.upper().startswith("AUTH=") else line.split()
        if words and words[0].upper() == "AUTH":
            for mech in words[1:]:
                if mech.upper() not in found:
                    found.append(mech.upper())
    return found


def _auth_after_starttls(ctx: ProbeContext, endpoint: Endpoint, conv: Conversation) -> list[str] | None:
    """A plain-text endpoint whose server offers STARTTLS but no sign-in before it (Postfix's
    smtpd_tls_auth_only): look once past STARTTLS, so the detail can say sign-in is there.
    The probe's verdict stays about the configured, plain session; None when the look fails."""
    saved = {k: ctx.data.get(k) for k in ("tls", "ehlo")}
    try:
        _starttls(ctx, endpoint, conv)
        ctx.enter("protocol")
        mechanisms = auth_mechanisms(_ehlo(conv))
    except ProbeFailure:
        return None
    finally:
        for key, value in saved.items():
            if value is None:
                ctx.data.pop(key, None)
            else:
                ctx.data[key] = value
        ctx.phase = "protocol"
    ctx.data["auth_after_starttls"] = mechanisms
    return mechanisms or None


def _starttls(ctx: ProbeContext, endpoint: Endpoint, conv: Conversation) -> None:
    conv.send("STARTTLS")
    code, lines = read_reply(conv)
    if code != 220:
        text = shorten(" ".join(lines))
        raise ProbeFailure(
            "starttls_failed",
            it.detail("smtp", "starttls_refused", where=conv.where, code=code, text=text),
        )
    ctx.enter("tls")
    conv.upgrade(starttls_handshake(ctx, endpoint, conv.sock, lambda: _reopen_for_tls(ctx, endpoint)))


def starttls_handshake(
    ctx: ProbeContext,
    endpoint: Endpoint,
    sock: socket.socket,
    reconnect: Callable[[], socket.socket],
) -> socket.socket:
    """tls.handshake after a STARTTLS-like command: a broken handshake there is starttls_failed."""
    try:
        return tls.handshake(ctx, sock, endpoint.host, reconnect=reconnect)
    except ProbeFailure as failure:
        if failure.code != "tls_handshake_failed":
            raise
        where = it.where(endpoint.host, endpoint.port)
        raise ProbeFailure(
            "starttls_failed",
            it.detail("conversation", "starttls_handshake", where=where, detail=failure.detail),
        ) from None


def _reopen_for_tls(ctx: ProbeContext, endpoint: Endpoint) -> socket.socket:
    """A fresh connection brought to the point right after STARTTLS was accepted."""
    conv = Conversation(ctx, connect(ctx, endpoint.host, endpoint.port), endpoint.target)
    try:
        read_reply(conv)
        _ehlo(conv)
        conv.send("STARTTLS")
        if read_reply(conv)[0] != 220:
            refused = it.detail("conversation", "second_look_refused", command="STARTTLS")
            raise ProbeFailure("starttls_failed", refused)
    except ProbeFailure:
        conv.close()
        raise
    return conv.sock
