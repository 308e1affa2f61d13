"""The system proxy (environment, Windows registry, macOS settings) and the CONNECT tunnel
through it, for app.httpio. The proxy login goes to the proxy only and is never shown."""

from __future__ import annotations

import base64
import http.client
import socket
import urllib.request
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

# a proxy's answer to CONNECT is a status line and a few headers; more is not a proxy
_MAX_TUNNEL_LINE = 8192
_MAX_TUNNEL_HEADERS = 100


class Proxy(NamedTuple):
    host: str
    port: int
    url: str  # as the system gives it, credentials included: never show it as is
    authorization: str | None  # a Proxy-Authorization value when the URL carries a login

    @property
    def shown(self) -> str:
        """The proxy URL without its login, for people and logs."""
        return without_credentials(self.url)


def proxy_for(scheme: str, host: str) -> Proxy | None:
    """The system proxy for a `scheme` request to `host` (environment, Windows registry, macOS
    settings), or None when there is none or the bypass list (no_proxy) exempts `host`."""
    try:
        proxies = urllib.request.getproxies()
        url = proxies.get(scheme.lower()) or proxies.get("all")
        if not url or urllib.request.proxy_bypass(host):
            return None
        parts = urlsplit(url if "://" in url else f"http://{url}")
        port = parts.port
    except Exception:  # macOS/Windows readers and odd settings: go direct, as without a proxy
        return None
    if not parts.hostname:
        return None
    authorization = None
    if parts.username is not None:
        login = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        authorization = "Basic " + base64.b64encode(login.encode("utf-8")).decode("ascii")
    default = 443 if parts.scheme.lower() == "https" else 80
    return Proxy(parts.hostname, port or default, url, authorization)


def without_credentials(url: str) -> str:
    """`url` with any user:password@ removed. Settings often carry a login without a scheme
    ("user:pass@host:3128", which curl and requests accept) or with characters that are not
    percent-encoded ("p@ss/w#rd"), so the login is everything before the last "@"; the one
    scrubber then catches whatever else looks secret."""
    from app.report.redact import scrub_text

    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    if "@" in rest:
        rest = rest.rpartition("@")[2]
    return scrub_text(f"{scheme}{sep}{rest}")


def open_tunnel(sock: socket.socket, host: str, port: int, proxy: Proxy) -> int:
    """Ask the proxy on `sock` to CONNECT to host:port; the status it answered (200 = open).
    ValueError when the answer is not a proxy's; OSError/HTTPException from the socket."""
    shown_host = f"[{host}]" if ":" in host else host
    lines = [f"CONNECT {shown_host}:{port} HTTP/1.1", f"Host: {shown_host}:{port}"]
    if proxy.authorization:
        # the login goes to the proxy with CONNECT, never inside the tunnel
        lines.append(f"Proxy-Authorization: {proxy.authorization}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    status_line = _read_line(sock)
    try:
        status = int(status_line.split(None, 2)[1])
    except (IndexError, ValueError):
        raise ValueError("did not answer like a proxy") from None
    for _ in range(_MAX_TUNNEL_HEADERS):
        if not _read_line(sock).strip():
            return status
    raise ValueError("sent too many headers")


def _read_line(sock: socket.socket) -> str:
    data = bytearray()
    while not data.endswith(b"\n"):
        if len(data) > _MAX_TUNNEL_LINE:
            raise ValueError("sent an overlong line")
        byte = sock.recv(1)  # byte by byte: what follows the blank line belongs to TLS
        if not byte:
            raise http.client.RemoteDisconnected("the proxy closed the connection")
        data += byte
    return data.decode("latin-1")
