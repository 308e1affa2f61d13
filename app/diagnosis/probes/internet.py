"""The network layer: can this computer reach the internet, or does a captive portal or a proxy
stand in the way? One GET of network.internet_url, redirects not followed, system proxy honoured."""

from __future__ import annotations

import codecs
import http.client
import re
import ssl
import time
from email.message import Message
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from app import version
from app.diagnosis import tls
from app.diagnosis.probes.base import Outcome, ProbeContext, ProbeFailure
from app.httpio import Proxy, proxy_for

if TYPE_CHECKING:
    from app.config import Config

# a portal's login page is small; reading more would only spend the deadline
_MAX_BODY = 64 * 1024
_CHUNK = 4096
# http.client reports a refused CONNECT only in this message (Python 3.8 to 3.13)
_TUNNEL_STATUS = re.compile(r"Tunnel connection failed: (\d{3})")


def probe(ctx: ProbeContext, endpoint: object = None) -> Outcome:
    net = ctx.config.network
    url = net.internet_url
    if not url:
        return Outcome("skipped", "The internet check is turned off (network.internet_url is empty).")
    ctx.enter("internet")
    ctx.data["url"] = url
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    proxy = proxy_for(scheme, host)
    if proxy:
        ctx.data["proxy"] = _strip_credentials(proxy.url)
    started = time.monotonic()
    connected = False
    try:
        conn = _connection(ctx.config, scheme, host, parts.port, proxy, ctx.deadline.timeout())
        try:
            conn.connect()
            connected = True
            target = urlunsplit(("", "", parts.path or "/", parts.query, ""))
            if proxy and scheme == "http":
                # a plain HTTP proxy takes the whole URL in the request line
                target = urlunsplit((scheme, parts.netloc, parts.path or "/", parts.query, ""))
            headers = {
                "User-Agent": f"MailBeacon/{version()}",
                "Accept": "*/*",
                "Accept-Encoding": "identity",
                "Cache-Control": "no-cache",
                "Connection": "close",
            }
            if proxy and proxy.authorization and scheme == "http":
                headers["Proxy-Authorization"] = proxy.authorization
            _refresh_timeout(ctx, conn)
            conn.request("GET", target, headers=headers)
            _refresh_timeout(ctx, conn)
            response = conn.getresponse()
            body = _read_body(ctx, conn, response)
        finally:
            conn.close()
    except ProbeFailure:
        raise
    except TimeoutError:
        raise ProbeFailure("internet_unreachable", f"{url} did not answer in time.") from None
    except ssl.SSLError:
        raise ProbeFailure(
            "captive_portal",
            f"Something intercepted the secure connection to {url} "
            "(its certificate is not the real one): probably a Wi-Fi login page.",
        ) from None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        tunnel = _TUNNEL_STATUS.search(str(exc)) if isinstance(exc, OSError) else None
        if tunnel and tunnel.group(1) == "407":
            raise _proxy_auth(url) from None
        if proxy and (tunnel or not connected):
            raise ProbeFailure(
                "internet_unreachable", f"The proxy {ctx.data['proxy']} could not be reached."
            ) from None
        raise ProbeFailure(
            "internet_unreachable", f"The internet could not be reached ({_reason(exc)})."
        ) from None
    ctx.data["status"] = response.status
    ctx.data["http_ms"] = round((time.monotonic() - started) * 1000, 1)
    return _judge(ctx, url, response.status, response.getheader("Location"), body)


def _connection(
    config: Config, scheme: str, host: str, port: int | None, proxy: Proxy | None, timeout: float
) -> http.client.HTTPConnection:
    if scheme != "https":
        if proxy:
            return http.client.HTTPConnection(proxy.host, proxy.port, timeout=timeout)
        return http.client.HTTPConnection(host, port or 80, timeout=timeout)
    try:
        context = tls.client_context(config)
    except (OSError, ssl.SSLError) as exc:
        # tls.ca_file exists (the config checked) but is not a PEM bundle OpenSSL can read
        raise ProbeFailure(
            "internet_unreachable",
            f"The extra CA certificates in {config.tls.ca_file} could not be read ({_reason(exc)}).",
        ) from None
    if proxy:
        conn = http.client.HTTPSConnection(proxy.host, proxy.port, timeout=timeout, context=context)
        tunnel_headers = {"Proxy-Authorization": proxy.authorization} if proxy.authorization else None
        conn.set_tunnel(host, port or 443, headers=tunnel_headers)
        return conn
    return http.client.HTTPSConnection(host, port or 443, timeout=timeout, context=context)


def _refresh_timeout(ctx: ProbeContext, conn: http.client.HTTPConnection) -> None:
    # each wait gets only what is left of the deadline, not a fresh full timeout
    if conn.sock is not None:
        conn.sock.settimeout(ctx.deadline.timeout())


def _judge(ctx: ProbeContext, url: str, status: int, location: str | None, body: str) -> Outcome:
    net = ctx.config.network
    if status == 407:
        raise _proxy_auth(url)
    if 300 <= status < 400:
        if location:
            ctx.data["location"] = location
        where = f" to {location}" if location else ""
        raise ProbeFailure(
            "captive_portal",
            f"The network redirected the internet check{where}: "
            "you probably need to sign in to this Wi-Fi first.",
        )
    if status != net.internet_expect_status:
        ctx.data["body_excerpt"] = body[:200]
        raise ProbeFailure(
            "captive_portal",
            f"The internet check got HTTP {status} instead of {net.internet_expect_status}: "
            "something on this network (a login page or filter) answers in its place.",
        )
    # compared without surrounding whitespace: "success" and "success\n" mean the same
    if net.internet_expect_body and body.strip() != net.internet_expect_body.strip():
        ctx.data["body_excerpt"] = body[:200]
        raise ProbeFailure(
            "captive_portal",
            "The internet check got a different page than expected: "
            "you probably need to sign in to this network first.",
        )
    return Outcome("ok", f"The internet answered (HTTP {status}).")


def _read_body(
    ctx: ProbeContext, conn: http.client.HTTPConnection, response: http.client.HTTPResponse
) -> str:
    chunks: list[bytes] = []
    size = 0
    # a trickling server must not hold the check past its deadline
    while size < _MAX_BODY and not ctx.deadline.expired:
        _refresh_timeout(ctx, conn)
        chunk = response.read1(min(_CHUNK, _MAX_BODY - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks).decode(_charset(response.headers), "replace")


def _charset(headers: Message) -> str:
    charset = headers.get_content_charset() or "utf-8"
    try:
        codecs.lookup(charset)
    except LookupError:
        return "utf-8"
    return charset


def _proxy_auth(url: str) -> ProbeFailure:
    return ProbeFailure(
        "proxy_auth_required",
        f"The proxy asks for a login before it lets {url} through (HTTP 407).",
    )


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or ""
    if text:
        return text
    text = str(exc) or type(exc).__name__
    return text.split(": ", 1)[-1][:160]


def _strip_credentials(url: str) -> str:
    from app.diagnosis.netinfo import system_proxy

    return (system_proxy({"p": url}) or {"p": url})["p"]
