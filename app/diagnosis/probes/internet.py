"""The network layer: can this computer reach the internet, or does a captive portal or a proxy
stand in the way? One GET of network.internet_url, redirects not followed, system proxy honoured."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from app import httpio
from app.diagnosis.probes.base import Outcome, ProbeContext, ProbeFailure
from app.words import it

# a portal's login page is small; reading more would only spend the deadline
_MAX_BODY = 64 * 1024


def probe(ctx: ProbeContext, endpoint: object = None) -> Outcome:
    net = ctx.config.network
    url = net.internet_url
    if not url:
        return Outcome("skipped", it.detail("internet", "off"))
    ctx.enter("internet")
    ctx.data["url"] = url
    parts = urlsplit(url)
    proxy = httpio.proxy_for(parts.scheme, parts.hostname or "")
    if proxy:
        ctx.data["proxy"] = proxy.shown
    started = time.monotonic()
    try:
        response = httpio.request(
            url,
            config=ctx.config,
            deadline=ctx.deadline,
            headers={"Cache-Control": "no-cache"},
            max_bytes=_MAX_BODY,
            truncate=True,
            # a redirect is the portal's answer, not a way to the internet
            follow_redirects=False,
        )
    except httpio.HttpError as exc:
        if exc.proxy:
            ctx.data["proxy"] = exc.proxy
        raise _failure(exc, url, ctx.config) from None
    if response.proxy:
        ctx.data["proxy"] = response.proxy
    ctx.data["status"] = response.status
    ctx.data["http_ms"] = round((time.monotonic() - started) * 1000, 1)
    return _judge(ctx, url, response.status, response.header("Location"), response.text())


def _failure(exc: httpio.HttpError, url: str, config) -> ProbeFailure:
    if exc.kind == "timeout":
        return ProbeFailure("internet_unreachable", it.detail("internet", "timeout", url=url))
    if exc.kind == "tls":
        return ProbeFailure("captive_portal", it.detail("internet", "intercepted", url=url))
    if exc.kind == "ca_file":
        return ProbeFailure(
            "internet_unreachable", it.detail("internet", "ca_file", ca_file=config.tls.ca_file)
        )
    if exc.kind == "proxy_auth":
        return _proxy_auth(url)
    if exc.kind == "proxy":
        return ProbeFailure("internet_unreachable", it.detail("internet", "proxy", proxy=exc.proxy))
    return ProbeFailure(
        "internet_unreachable", it.detail("internet", "unreachable", reason=exc.reason)
    )


def _judge(ctx: ProbeContext, url: str, status: int, location: str | None, body: str) -> Outcome:
    net = ctx.config.network
    if status == 407:
        raise _proxy_auth(url)
    if 300 <= status < 400:
        if location:
            ctx.data["location"] = location
        to = it.piece("redirect_to", location=location) if location else ""
        raise ProbeFailure("captive_portal", it.detail("internet", "redirected", redirect_to=to))
    if status != net.internet_expect_status:
        ctx.data["body_excerpt"] = body[:200]
        raise ProbeFailure(
            "captive_portal",
            it.detail("internet", "status", status=status, expected=net.internet_expect_status),
        )
    # compared without surrounding whitespace: "success" and "success\n" mean the same
    if net.internet_expect_body and body.strip() != net.internet_expect_body.strip():
        ctx.data["body_excerpt"] = body[:200]
        raise ProbeFailure("captive_portal", it.detail("internet", "body"))
    return Outcome("ok", it.detail("internet", "ok", status=status))


def _proxy_auth(url: str) -> ProbeFailure:
    return ProbeFailure("proxy_auth_required", it.detail("internet", "proxy_auth", url=url))
