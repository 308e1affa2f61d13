"""The system proxy (environment, Windows registry, macOS settings) and the CONNECT tunnel
through it, for app.httpio. The proxy login goes to the proxy only and is never shown."""

from __future__ import annotations

import base64
import http.client
import ipaddress
import logging
import re
import socket
import threading
import urllib.request
from typing import NamedTuple
from urllib.parse import unquote

log = logging.getLogger(__name__)

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
    settings), or None when there is none, the bypass list (no_proxy) exempts `host`, or the
    setting cannot be used (a warning without its login is logged once)."""
    try:
        proxies = urllib.request.getproxies()
        url = proxies.get(scheme.lower()) or proxies.get("all")
        if not url or urllib.request.proxy_bypass(host):
            return None
    except Exception:  # macOS/Windows readers and odd settings: go direct, as without a proxy
        return None
    try:
        parsed = parse_proxy_url(url)
    except ValueError as exc:
        _warn_once(f"The proxy setting {without_credentials(url)} is not used: {exc}.")
        return None
    authorization = None
    if parsed.user is not None:
        login = f"{parsed.user}:{parsed.password or ''}"
        authorization = "Basic " + base64.b64encode(login.encode("utf-8")).decode("ascii")
    return Proxy(parsed.host, parsed.port, url, authorization)


class ProxyURL(NamedTuple):
    scheme: str
    host: str  # an IPv6 literal without its brackets
    port: int
    user: str | None  # percent-decoded; None when the setting carries no login
    password: str | None


def parse_proxy_url(url: str) -> ProxyURL:
    """Read a proxy setting the way curl and requests do: no scheme means http://; the login is
    everything before the LAST "@" (settings often leave "@", "/", "#" and ":" unencoded in the
    password), split into user and password at its first ":", then percent-decoded; the host
    part runs from there to the first "/", "?" or "#". ValueError (whose text never holds the
    login) when there is no host or the port is not a number from 1 to 65535."""
    text = url.strip()
    match = _SCHEME.match(text)
    scheme = match.group(1).lower() if match else "http"
    rest = text[match.end():] if match else text
    userinfo, at, after = rest.rpartition("@")
    hostport = _AUTHORITY_END.split(after, maxsplit=1)[0]
    user = password = None
    if at:
        raw_user, colon, raw_password = userinfo.partition(":")
        user = unquote(raw_user)
        password = unquote(raw_password) if colon else None
    host, port_text = _split_host_port(hostport)
    if port_text:
        if not port_text.isascii() or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"its port ({port_text[:20]}) is not a number from 1 to 65535")
        port = int(port_text)
    else:
        port = 443 if scheme == "https" else 80
    return ProxyURL(scheme, host, port, user, password)


# "http://", "socks5h://": a scheme is letters first, then letters, digits, "+", "-", "."
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*)://")
_AUTHORITY_END = re.compile(r"[/?#]")


def _split_host_port(hostport: str) -> tuple[str, str]:
    if hostport.startswith("["):
        inside, bracket, after = hostport[1:].partition("]")
        try:
            ipaddress.IPv6Address(inside.partition("%")[0])
        except ValueError:
            raise ValueError("its IPv6 address in [brackets] is not one") from None
        if after and not after.startswith(":"):
            raise ValueError("it has text after the IPv6 address that is not a port")
        if not bracket:
            raise ValueError("its IPv6 address has no closing bracket")
        return inside, after[1:]
    host, _colon, port_text = hostport.partition(":")
    if ":" in port_text:
        raise ValueError("an IPv6 address must be written in [brackets]")
    if not host or any(c.isspace() or c in "[]\\" for c in host):
        raise ValueError("it names no usable host")
    return host, port_text


_warned: set[str] = set()
_warned_lock = threading.Lock()


def _warn_once(message: str) -> None:
    # proxy_for runs for every request: one warning per setting, not one per check
    from app.report.redact import scrub_text

    message = scrub_text(message)
    with _warned_lock:
        if message in _warned:
            return
        _warned.add(message)
    log.warning("%s", message)


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
