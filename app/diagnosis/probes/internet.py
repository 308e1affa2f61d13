"""The network layer: can this computer reach the internet, or does a captive portal or a proxy
stand in the way? One GET of network.internet_url, redirects not followed, system proxy honoured."""

from __future__ import annotations

import ssl
import time

import requests
from requests.adapters import HTTPAdapter

from app.diagnosis.probes.base import Outcome, ProbeContext, ProbeFailure

# a portal's login page is small; reading more would only spend the deadline
_MAX_BODY = 64 * 1024


def probe(ctx: ProbeContext, endpoint: object = None) -> Outcome:
    net = ctx.config.network
    url = net.internet_url
    if not url:
        return Outcome("skipped", "The internet check is turned off (network.internet_url is empty).")
    ctx.enter("internet")
    ctx.data["url"] = url
    session = requests.Session()
    session.mount("https://", _SystemTrustAdapter(ctx.config.tls.ca_file))
    proxies = requests.utils.get_environ_proxies(url)
    proxy = proxies.get(url.split(":", 1)[0].lower()) or proxies.get("all")
    if proxy:
        ctx.data["proxy"] = _strip_credentials(proxy)
    started = time.monotonic()
    try:
        timeout = ctx.deadline.timeout()
        response = session.get(
            url,
            allow_redirects=False,
            stream=True,
            timeout=(timeout, timeout),
            headers={"Cache-Control": "no-cache", "Accept": "*/*"},
        )
        with response:
            body = _read_body(ctx, response)
    except requests.exceptions.ProxyError as exc:
        if "407" in str(exc):
            raise _proxy_auth(url) from None
        raise ProbeFailure(
            "internet_unreachable", f"The proxy {ctx.data.get('proxy', '')} could not be reached."
        ) from None
    except requests.exceptions.SSLError:
        raise ProbeFailure(
            "captive_portal",
            f"Something intercepted the secure connection to {url} "
            "(its certificate is not the real one): probably a Wi-Fi login page.",
        ) from None
    except (requests.exceptions.Timeout, TimeoutError):
        raise ProbeFailure("internet_unreachable", f"{url} did not answer in time.") from None
    except (requests.exceptions.RequestException, OSError) as exc:
        raise ProbeFailure(
            "internet_unreachable", f"The internet could not be reached ({_reason(exc)})."
        ) from None
    ctx.data["status"] = response.status_code
    ctx.data["http_ms"] = round((time.monotonic() - started) * 1000, 1)
    return _judge(ctx, url, response.status_code, response.headers.get("Location"), body)


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


def _read_body(ctx: ProbeContext, response) -> str:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(4096):
        chunks.append(chunk)
        size += len(chunk)
        # a trickling server must not hold the check past its deadline
        if size >= _MAX_BODY or ctx.deadline.expired:
            break
    return b"".join(chunks).decode(response.encoding or "utf-8", "replace")


def _proxy_auth(url: str) -> ProbeFailure:
    return ProbeFailure(
        "proxy_auth_required",
        f"The proxy asks for a login before it lets {url} through (HTTP 407).",
    )


def _reason(exc: BaseException) -> str:
    # requests nests the socket error a few levels down; the innermost says what happened
    inner: BaseException = exc
    while True:
        nxt = inner.__context__ or inner.__cause__
        if nxt is None or nxt is inner:
            break
        inner = nxt
    for candidate in (inner, exc):
        text = getattr(candidate, "strerror", None) or ""
        if text:
            return text
    text = str(inner) or type(inner).__name__
    return text.split(": ", 1)[-1][:160]


def _strip_credentials(url: str) -> str:
    from app.diagnosis.netinfo import system_proxy

    return (system_proxy({"p": url}) or {"p": url})["p"]


class _SystemTrustAdapter(HTTPAdapter):
    """Trusts the OS certificate store (truststore) plus tls.ca_file, so a TLS-inspecting
    proxy that IT installed is trusted the way the browser trusts it."""

    def __init__(self, ca_file: str = "") -> None:
        self._ca_file = ca_file
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["ssl_context"] = _ssl_context(self._ca_file)
        return super().init_poolmanager(*args, **kwargs)

    def proxy_manager_for(self, proxy, **kwargs):
        kwargs["ssl_context"] = _ssl_context(self._ca_file)
        return super().proxy_manager_for(proxy, **kwargs)


def _ssl_context(ca_file: str) -> ssl.SSLContext:
    try:
        import truststore

        context: ssl.SSLContext = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    except Exception:  # no usable OS store: Python's own defaults
        context = ssl.create_default_context()
    if ca_file:
        try:
            context.load_verify_locations(ca_file)
        except (OSError, ssl.SSLError):
            pass  # a broken extra bundle must not hide what the network does
    return context
