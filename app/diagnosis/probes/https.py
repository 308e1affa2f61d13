"""HTTPS probe (webmail): TLS facts and the HTTP status of one GET, no redirects followed.
Raw sockets, so the deadline and the certificate facts stay in our hands."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from app import version
from app.diagnosis import tls
from app.diagnosis.net import connect
from app.diagnosis.probes.base import Outcome, ProbeFailure
from app.diagnosis.probes.conversation import Conversation, shorten
from app.words import it

if TYPE_CHECKING:
    from app.config import Endpoint
    from app.diagnosis.probes.base import ProbeContext

# statuses that prove the web server answers for the application (sign-in pages answer 401/403)
_ANSWERS = {401, 403}
_MAX_HEADERS = 100


def probe(ctx: ProbeContext, endpoint: Endpoint) -> Outcome:
    url = endpoint.url or f"https://{endpoint.target}/"
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += f"?{parts.query}"
    where = url
    sock = connect(ctx, endpoint.host, endpoint.port)
    ctx.enter("tls")
    sock = tls.handshake(
        ctx, sock, endpoint.host, reconnect=lambda: connect(ctx, endpoint.host, endpoint.port), first_contact=True
    )
    conv = Conversation(ctx, sock, where)
    try:
        ctx.enter("http")
        host = f"[{endpoint.host}]" if ":" in endpoint.host else endpoint.host
        if endpoint.port != 443:
            host += f":{endpoint.port}"
        for line in (
            f"GET {path} HTTP/1.1",
            f"Host: {host}",
            f"User-Agent: MailBeacon/{version()}",
            "Accept: */*",
            "Connection: close",
            "",
        ):
            conv.send(line)
        status, reason, headers = _read_head(conv)
    finally:
        conv.close()
    ctx.data["http_status"] = status
    if "location" in headers:
        ctx.data["location"] = headers["location"]
    if "retry-after" in headers and headers["retry-after"].isdigit():
        ctx.data["retry_after"] = int(headers["retry-after"])  # an overloaded server asks for room

    if not (200 <= status < 400 or status in _ANSWERS):
        refused = it.detail(
            "https",
            "not_found" if status == 404 else "server_error" if status >= 500 else "refused",
            where=where,
            status=status,
            reason=shorten(reason, 60),
        )
        raise ProbeFailure("http_status", refused)
    warning = tls.expiry_warning(ctx)
    if warning:
        return warning
    tls_version = (ctx.data.get("tls") or {}).get("version") or "TLS"
    moved = (
        it.piece("redirecting_to", location=headers["location"]) if "location" in headers else ""
    )
    return Outcome(
        "ok",
        it.detail(
            "https", "ok", where=where, version=tls_version, status=status, redirecting_to=moved
        ),
    )


def _read_head(conv: Conversation) -> tuple[int, str, dict[str, str]]:
    line = conv.readline()
    words = line.split(" ", 2)
    if len(words) < 2 or not words[0].startswith("HTTP/") or not words[1].isdigit():
        raise ProbeFailure(
            "protocol_error",
            it.detail("https", "not_http", where=conv.where, line=shorten(line, 80)),
        )
    status, reason = int(words[1]), words[2] if len(words) > 2 else ""
    headers: dict[str, str] = {}
    for _ in range(_MAX_HEADERS):
        line = conv.readline()
        if not line:
            break
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, reason, headers
