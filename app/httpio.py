"""Small standard-library HTTP helpers shared by the IT feed reader and the internet probe:
which system proxy (if any) a request to a host goes through."""

from __future__ import annotations

import base64
import urllib.request
from typing import NamedTuple
from urllib.parse import unquote, urlsplit


class Proxy(NamedTuple):
    host: str
    port: int
    url: str  # as the system gives it, credentials included: never show it as is
    authorization: str | None  # a Proxy-Authorization value when the URL carries a login


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
