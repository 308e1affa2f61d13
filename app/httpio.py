"""THE one bounded HTTP client of the core: the internet probe, the feed reader, discovery and
the hub state push all go through `request()`. It honours the system proxy (a CONNECT tunnel for
https, the proxy login sent to the proxy only and never shown), verifies TLS against the OS trust
store plus `tls.ca_file`, stops at one absolute deadline and a size cap, and follows redirects
under one policy.

    request(url, *, config=None, method="GET", body=None, json_body=None, headers=None,
            deadline=None, timeout_s=None, max_bytes=1_000_000, truncate=False,
            follow_redirects=True, max_redirects=3, etag=None, last_modified=None,
            configured_dns=False, ca_file=None) -> Response

    # the hub state push: POST JSON with a bearer token, 5 s at most
    resp = request(f"{hub}/api/v1/state", config=cfg, method="POST", json_body=state,
                   headers={"Authorization": f"Bearer {token}"}, timeout_s=5)
    resp.status, resp.header("ETag"), resp.body, resp.json()

Every failure is an `HttpError` with a `kind` (timeout, dns, refused, connect, tls, ca_file,
proxy, proxy_auth, protocol, too_large, redirect, bad_url) and a `reason` phrase that names no
secret; any HTTP status (404, 407 from the origin, 500) is a Response, not an error.

Redirect policy (301, 302, 303, 307, 308), at most `max_redirects` (3 by default; Autodiscover
asks for 10): never from https to plain http, never to a loopback or link-local address unless
the first URL was itself on loopback, only http and https. 303 turns into GET; the others keep
the method and body, as Autodiscover clients do. Authorization is dropped when the host changes.
With `follow_redirects=False` a 3xx comes back as the Response (the internet probe reads it as a
captive portal).

`configured_dns=True` resolves names through `dns.nameservers` (dnspython) when they are set;
the TLS server name, the Host header and the certificate check still use the name itself.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import os
import socket
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from app.proxy import Proxy, open_tunnel, proxy_for, without_credentials

if TYPE_CHECKING:
    from app.config import Config
    from app.diagnosis.probes.base import Deadline

__all__ = ["DEFAULT_MAX_BYTES", "HttpError", "Proxy", "Response", "address_class", "proxy_for",
           "request", "without_credentials"]

DEFAULT_MAX_BYTES = 1_000_000
DEFAULT_MAX_REDIRECTS = 3
_CHUNK = 16 * 1024
_REDIRECTS = (301, 302, 303, 307, 308)


# ---------------------------------------------------------------- results


class HttpError(Exception):
    """A request that brought back no HTTP answer; `reason` is a phrase ("the connection was
    refused") a caller puts into its own sentence."""

    def __init__(self, kind: str, reason: str, url: str, *, proxy: str | None = None) -> None:
        super().__init__(f"{url}: {reason}")
        self.kind = kind
        self.reason = reason
        self.url = url
        self.proxy = proxy  # the proxy it went through, without its login


@dataclass
class Response:
    status: int
    reason: str
    headers: Message
    body: bytes
    url: str  # the URL that gave this answer, after any redirects
    redirects: list[str] = field(default_factory=list)  # the URLs that redirected, in order
    truncated: bool = False  # the body was cut at max_bytes (truncate=True)
    proxy: str | None = None

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name, default)

    def text(self) -> str:
        charset = self.headers.get_content_charset() or "utf-8"
        try:
            return self.body.decode(charset, "replace")
        except LookupError:  # a charset Python does not know
            return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8-sig"))


# ---------------------------------------------------------------- the client


def request(
    url: str,
    *,
    config: Config | None = None,
    method: str = "GET",
    body: bytes | None = None,
    json_body: Any = None,
    headers: Mapping[str, str] | None = None,
    deadline: Deadline | None = None,
    timeout_s: float | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    truncate: bool = False,
    follow_redirects: bool = True,
    max_redirects: int = DEFAULT_MAX_REDIRECTS,
    etag: str | None = None,
    last_modified: str | None = None,
    configured_dns: bool = False,
    ca_file: str | None = None,
) -> Response:
    """One HTTP exchange (plus redirects), finished or abandoned by the deadline: `deadline`
    (shared with a whole check) or `timeout_s` from now (default: config's check.timeout_s).
    Over max_bytes the body is an HttpError("too_large"), or cut there with truncate=True."""
    from app import version
    from app.diagnosis.probes.base import Deadline

    if config is None:
        from app.config import defaults

        config = defaults()
    if deadline is None:
        deadline = Deadline(float(timeout_s if timeout_s is not None else config.check.timeout_s))
    if json_body is not None:
        body = json.dumps(json_body, separators=(",", ":")).encode("utf-8")
    sent: dict[str, str] = {
        "User-Agent": f"MailBeacon/{version()}",
        "Accept": "*/*",
        "Accept-Encoding": "identity",
        "Connection": "close",
    }
    if json_body is not None:
        sent["Content-Type"] = "application/json"
    if etag:
        sent["If-None-Match"] = etag
    if last_modified:
        sent["If-Modified-Since"] = last_modified
    sent.update(headers or {})
    extra_ca = ca_file if ca_file is not None else (config.tls.ca_file or "")
    hop = _Hop(config, deadline, configured_dns, os.path.expanduser(extra_ca) if extra_ca else "")
    current, method = url, method.upper()
    followed: list[str] = []
    origin_loopback: bool | None = None
    while True:
        parts = _split(current)
        resp, addresses = hop.exchange(
            parts, current, method, body, sent, max_bytes, truncate,
            check_addresses=None if origin_loopback is None else (origin_loopback, url),
        )
        if origin_loopback is None:
            origin_loopback = _is_loopback_origin(parts.hostname or "", addresses)
        location = resp.header("Location")
        if not follow_redirects or resp.status not in _REDIRECTS or not location:
            resp.redirects = followed
            return resp
        if len(followed) >= max_redirects:
            raise HttpError(
                "redirect", f"it redirects more than {max_redirects} times", url, proxy=resp.proxy
            )
        try:
            target = urljoin(current, location.strip())
            _check_redirect(current, target, url)
            _split(target)
        except (ValueError, HttpError) as exc:
            if isinstance(exc, HttpError) and exc.kind == "redirect":
                raise
            raise HttpError("redirect", "it redirects to something that is not a URL", url, proxy=resp.proxy) from None
        followed.append(current)
        if resp.status == 303 and method != "HEAD":
            method, body = "GET", None
            sent = {k: v for k, v in sent.items() if k.lower() != "content-type"}
        if (urlsplit(target).hostname or "") != (parts.hostname or ""):
            sent = {k: v for k, v in sent.items() if k.lower() not in ("authorization", "cookie")}
        current = target


def _split(url: str):
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        raise HttpError("bad_url", "it is not a valid URL", url) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise HttpError("bad_url", "it is not an http:// or https:// URL", url)
    return parts


def _check_redirect(current: str, target: str, origin: str) -> None:
    old, new = urlsplit(current).scheme.lower(), urlsplit(target).scheme.lower()
    if new not in ("http", "https"):
        raise HttpError("redirect", f"it redirects to a {new or 'relative'} address (refused)", origin)
    if old == "https" and new == "http":
        raise HttpError(
            "redirect",
            f"it redirects from https to plain http ({without_credentials(target)}), which is refused",
            origin,
        )


def address_class(address: str) -> str:
    """"loopback", "link-local" or "other" for an IP address."""
    try:
        ip = ipaddress.ip_address(address.strip("[]").split("%", 1)[0])
    except ValueError:
        return "other"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    return "other"


def _is_loopback_origin(host: str, addresses: list[str]) -> bool:
    if addresses:
        return all(address_class(a) == "loopback" for a in addresses)
    # through a proxy nothing was resolved here: only the name itself can tell
    return host.lower() == "localhost" or address_class(host) == "loopback"


class _Watchdog:
    """Cuts the connection when the deadline passes, so a server that drips bytes (each read
    within its own timeout) cannot stretch the exchange."""

    def __init__(self, deadline: Deadline) -> None:
        self.fired = threading.Event()
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, deadline.remaining()), self._cut)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sock = sock
        if self.fired.is_set():
            self._cut()

    def _cut(self) -> None:
        self.fired.set()
        with self._lock:
            sock = self._sock
        if sock is not None:
            try:
                # the plain socket's shutdown (not SSLSocket's) wakes a read blocked elsewhere
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self) -> None:
        self._timer.cancel()


class _Connection(http.client.HTTPConnection):
    """http.client speaking over a socket this module opened (resolved, tunnelled, TLS)."""

    def __init__(self, host: str, port: int, sock: socket.socket, default_port: int) -> None:
        super().__init__(host, port)
        self.default_port = default_port  # so the Host header names no port when it is the usual one
        self.sock = sock

    def connect(self) -> None:  # already connected
        pass


class _Hop:
    """One request/response over a fresh connection, all of it inside the deadline."""

    def __init__(self, config: Config, deadline: Deadline, configured_dns: bool, ca_file: str) -> None:
        self.config = config
        self.deadline = deadline
        self.configured_dns = configured_dns
        self.ca_file = ca_file

    def exchange(
        self,
        parts,
        url: str,
        method: str,
        body: bytes | None,
        headers: dict[str, str],
        max_bytes: int,
        truncate: bool,
        check_addresses: tuple[bool, str] | None,
    ) -> tuple[Response, list[str]]:
        scheme = parts.scheme.lower()
        host = parts.hostname or ""
        port = parts.port or (443 if scheme == "https" else 80)
        proxy = proxy_for(scheme, host)
        shown_proxy = proxy.shown if proxy else None
        origin = check_addresses[1] if check_addresses else url
        watchdog = _Watchdog(self.deadline)
        conn: _Connection | None = None
        addresses: list[str] = []
        stage = "connect"
        try:
            if check_addresses is not None and not check_addresses[0] and proxy:
                self._refuse_inner(host, [], origin, check_addresses)
            if proxy:
                sock = self._connect(proxy.host, proxy.port, watchdog, origin, shown_proxy)
                if scheme == "https":
                    stage = "tunnel"
                    self._tunnel(sock, host, port, proxy, origin)
            else:
                addresses = self._resolve(host, origin)
                if check_addresses is not None and not check_addresses[0]:
                    self._refuse_inner(host, addresses, origin, check_addresses)
                sock = self._connect_addresses(addresses, port, watchdog, origin)
            if scheme == "https":
                stage = "tls"
                sock = self._tls(sock, host, origin, shown_proxy)
                watchdog.watch(sock)
            stage = "http"
            conn = _Connection(host, port, sock, 443 if scheme == "https" else 80)
            target = urlunsplit(("", "", parts.path or "/", parts.query, ""))
            sent = dict(headers)
            if proxy and scheme == "http":
                # a plain HTTP proxy takes the whole URL and the login in the request
                target = urlunsplit((scheme, parts.netloc.rpartition("@")[2], parts.path or "/", parts.query, ""))
                if proxy.authorization:
                    sent["Proxy-Authorization"] = proxy.authorization
            sock.settimeout(self.deadline.timeout())
            conn.request(method, target, body=body, headers=sent)
            sock.settimeout(self.deadline.timeout())
            resp = conn.getresponse()
            data, cut = self._read(conn, resp, max_bytes, truncate, origin, shown_proxy, method)
            if watchdog.fired.is_set():
                raise HttpError("timeout", "it did not answer in time", origin, proxy=shown_proxy)
            return (
                Response(resp.status, resp.reason or "", resp.headers, data, url,
                         truncated=cut, proxy=shown_proxy),
                addresses,
            )
        except HttpError:
            raise
        except Exception as exc:
            if watchdog.fired.is_set() or isinstance(exc, TimeoutError | socket.timeout):
                raise HttpError("timeout", "it did not answer in time", origin, proxy=shown_proxy) from None
            raise _classify(exc, stage, origin, shown_proxy) from None
        finally:
            watchdog.stop()
            if conn is not None:
                conn.close()

    def _refuse_inner(self, host: str, addresses: list[str], origin: str, check: tuple[bool, str]) -> None:
        candidates = addresses or [host]
        if host.lower() == "localhost":
            candidates = ["127.0.0.1"]
        bad = [a for a in candidates if address_class(a) != "other"]
        if bad:
            where = address_class(bad[0])
            raise HttpError(
                "redirect",
                f"it redirects to a {where} address ({host}), which is refused for a server "
                "that is not on this computer",
                origin,
            )

    def _ctx(self):
        from app.diagnosis.probes.base import ProbeContext

        return ProbeContext(config=self.config, deadline=self.deadline, phase="dns")

    def _resolve(self, host: str, origin: str, proxy: str | None = None) -> list[str]:
        from app.diagnosis import net
        from app.diagnosis.probes.base import ProbeFailure

        try:
            return net.resolve(self._ctx(), host, system=not self.configured_dns)
        except ProbeFailure as exc:
            if exc.code == "dns_timeout":
                raise HttpError("timeout", f"the name {host} could not be looked up in time", origin, proxy=proxy) from None
            if exc.code == "dns_nxdomain":
                raise HttpError("dns", f"the name {host} does not exist", origin, proxy=proxy) from None
            if exc.code == "dns_no_answer":
                raise HttpError("dns", f"the name {host} has no address", origin, proxy=proxy) from None
            raise HttpError("dns", f"the name {host} could not be resolved", origin, proxy=proxy) from None

    def _connect(self, host: str, port: int, watchdog: _Watchdog, origin: str, proxy: str | None) -> socket.socket:
        addresses = self._resolve(host, origin, proxy)
        try:
            return self._connect_addresses(addresses, port, watchdog, origin, proxy)
        except HttpError as exc:
            if exc.kind == "timeout":
                raise
            raise HttpError("proxy", f"the proxy {proxy} could not be reached", origin, proxy=proxy) from None

    def _connect_addresses(self, addresses: list[str], port: int, watchdog: _Watchdog, origin: str, proxy: str | None = None) -> socket.socket:
        from app.diagnosis import net
        from app.diagnosis.probes.base import ProbeFailure

        try:
            sock = net.connect_addresses(self._ctx(), addresses, port)
        except ProbeFailure as exc:
            kind, reason = {
                "tcp_refused": ("refused", "the connection was refused"),
                "tcp_timeout": ("timeout", "it did not answer in time"),
                "tcp_reset": ("connect", "the connection was reset"),
            }.get(exc.code, ("connect", "there is no route to it"))
            raise HttpError(kind, reason, origin, proxy=proxy) from None
        watchdog.watch(sock)
        return sock

    def _tunnel(self, sock: socket.socket, host: str, port: int, proxy: Proxy, origin: str) -> None:
        sock.settimeout(self.deadline.timeout())
        try:
            status = open_tunnel(sock, host, port, proxy)
        except ValueError as exc:
            raise HttpError("proxy", f"the proxy {proxy.shown} {exc}", origin, proxy=proxy.shown) from None
        if status == 407:
            raise HttpError("proxy_auth", "the proxy asks for a login (HTTP 407)", origin, proxy=proxy.shown)
        if status != 200:
            raise HttpError(
                "proxy", f"the proxy {proxy.shown} refused the connection (HTTP {status})", origin, proxy=proxy.shown
            )

    def _tls(self, sock: socket.socket, host: str, origin: str, proxy: str | None) -> ssl.SSLSocket:
        from app.diagnosis import tls

        try:
            context = tls.context_with_ca_file(self.ca_file)
        except (OSError, ssl.SSLError) as exc:
            sock.close()
            raise HttpError(
                "ca_file",
                f"the extra CA certificates in {self.ca_file} could not be read ({_short(exc)})",
                origin, proxy=proxy,
            ) from None
        sock.settimeout(self.deadline.timeout())
        try:
            return context.wrap_socket(sock, server_hostname=host.strip("[]"))
        except ssl.SSLCertVerificationError as exc:
            sock.close()
            raise HttpError(
                "tls", f"its certificate is not trusted ({exc.verify_message or exc.reason})", origin, proxy=proxy
            ) from None
        except ssl.SSLError as exc:
            sock.close()
            raise HttpError("tls", f"the secure connection failed ({exc.reason or _short(exc)})", origin, proxy=proxy) from None

    def _read(self, conn, resp, max_bytes: int, truncate: bool, origin: str, proxy: str | None, method: str) -> tuple[bytes, bool]:
        if method == "HEAD" or resp.status in (204, 304) or 100 <= resp.status < 200:
            return b"", False
        length = resp.getheader("Content-Length")
        if not truncate and length and length.strip().isdigit() and int(length) > max_bytes:
            raise HttpError("too_large", f"its answer is larger than {_megabytes(max_bytes)}", origin, proxy=proxy)
        data = bytearray()
        while len(data) <= max_bytes:
            if self.deadline.expired:
                raise HttpError("timeout", "it did not answer in time", origin, proxy=proxy)
            if conn.sock is not None:
                conn.sock.settimeout(self.deadline.timeout())
            want = (max_bytes - len(data)) if truncate else (max_bytes + 1 - len(data))
            if want <= 0:
                break
            chunk = resp.read1(min(_CHUNK, want))
            if not chunk:
                break
            data += chunk
        if len(data) > max_bytes:
            raise HttpError("too_large", f"its answer is larger than {_megabytes(max_bytes)}", origin, proxy=proxy)
        cut = truncate and len(data) >= max_bytes
        return bytes(data), cut


def _classify(exc: BaseException, stage: str, origin: str, proxy: str | None) -> HttpError:
    if stage == "tunnel":
        if isinstance(exc, ConnectionRefusedError | ConnectionResetError | http.client.HTTPException | OSError):
            return HttpError("proxy", f"the proxy {proxy} did not open the connection", origin, proxy=proxy)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return HttpError("tls", f"its certificate is not trusted ({exc.verify_message or exc.reason})", origin, proxy=proxy)
    if isinstance(exc, ssl.SSLError):
        return HttpError("tls", f"the secure connection failed ({exc.reason or _short(exc)})", origin, proxy=proxy)
    if isinstance(exc, ConnectionRefusedError):
        return HttpError("refused", "the connection was refused", origin, proxy=proxy)
    if isinstance(exc, ConnectionResetError):
        return HttpError("protocol", "the connection was reset", origin, proxy=proxy)
    if isinstance(exc, http.client.IncompleteRead):
        return HttpError("protocol", "the answer stopped halfway", origin, proxy=proxy)
    if isinstance(exc, http.client.RemoteDisconnected):
        return HttpError("protocol", "it closed the connection without answering", origin, proxy=proxy)
    if isinstance(exc, http.client.HTTPException | ValueError):
        return HttpError("protocol", "it did not answer with valid HTTP", origin, proxy=proxy)
    if isinstance(exc, OSError):
        return HttpError("connect", _short(exc), origin, proxy=proxy)
    return HttpError("protocol", _short(exc), origin, proxy=proxy)


def _short(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    text = text.split(": ", 1)[-1][:160]
    return text[0].lower() + text[1:] if text else text


def _megabytes(n: int) -> str:
    return f"{n / 1_000_000:g} MB"
