"""What keeps the dashboard safe to use from a browser: cookies that are HttpOnly, SameSite and
Secure behind https, CSRF tokens checked on every form and state-changing fetch (plus an Origin
check), security headers with a strict Content-Security-Policy, and the sign-in rate limit."""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

# proxies whose X-Forwarded-Proto we believe: a reverse proxy on the same machine (docs/hub.md)
TRUSTED_PROXIES = frozenset({"127.0.0.1", "::1"})
LOGIN_COOKIE = "mbhub_login"  # the pre-session CSRF value of the sign-in form
CSRF_FIELD = "csrf"

# every page is the project's own: scripts and styles only from /static, no inline code, no frames
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def is_https(request: Request, public_url: str = "") -> bool:
    """True when the browser talks https to us: directly, through a trusted proxy that says
    so, or because IT published the hub at an https address (public_url)."""
    if request.url.scheme == "https":
        return True
    client = request.client.host if request.client else ""
    if client in TRUSTED_PROXIES and request.headers.get("x-forwarded-proto", "").lower() == "https":
        return True
    return public_url.lower().startswith("https://")


def set_cookie(response: Response, request: Request, name: str, value: str, *, max_age: int | None,
               public_url: str = "", path: str = "/", same_site: str = "lax") -> None:
    # Lax, not Strict: a link to a group in IT's Teams channel must open with the session
    response.set_cookie(name, value, max_age=max_age, path=path, httponly=True,
                        samesite=same_site, secure=is_https(request, public_url))


def clear_cookie(response: Response, request: Request, name: str, *, public_url: str = "",
                 path: str = "/") -> None:
    response.delete_cookie(name, path=path, httponly=True, samesite="lax",
                           secure=is_https(request, public_url))


def new_token() -> str:
    return secrets.token_urlsafe(24)


def same_token(expected: str | None, given: str | None) -> bool:
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


def same_origin(request: Request, public_url: str = "") -> bool:
    """A browser names the page a request comes from (Origin, else Referer): it must be this
    hub. Requests with neither (curl, old browsers) rely on the CSRF token alone."""
    if request.headers.get("sec-fetch-site", "") == "cross-site":
        return False
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source:
        return True
    if source == "null":
        return False
    parts = urlsplit(source)
    allowed = {request.url.netloc.lower()}
    host = request.headers.get("host")
    if host:
        allowed.add(host.lower())
    if public_url:
        allowed.add(urlsplit(public_url).netloc.lower())
    return parts.netloc.lower() in allowed


class SecurityHeaders:
    """Pure ASGI middleware (no body buffering, so the live updates stream as they are)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = scope.get("path", "").startswith("/api/") or scope.get("path", "") == "/feed.json"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                if not api:
                    headers.setdefault("Content-Security-Policy", CSP)
                    headers.setdefault("X-Frame-Options", "DENY")
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, with_headers)


class LoginLimiter:
    """Failed sign-ins per client address and per user name within a sliding window. Over the
    limit, the password is not even checked (argon2 costs time), so guessing stays slow.
    Kept in the process: each `serve` process counts its own, which docs/hub.md states."""

    def __init__(self, *, per_address: int = 10, per_user: int = 5, window_s: float = 600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_address, self.per_user, self.window_s = per_address, per_user, window_s
        self._clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and now - times[0] >= self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after(self, address: str, user: str) -> float:
        """Seconds until another attempt is allowed; 0 when it is allowed now."""
        now = self._clock()
        with self._lock:
            waits = []
            for key, limit in ((("addr", address), self.per_address), (("user", user.lower()), self.per_user)):
                times = self._recent(key, now)
                if len(times) >= limit:
                    waits.append(times[len(times) - limit] + self.window_s - now)
            return max(waits, default=0.0)

    def failed(self, address: str, user: str) -> None:
        now = self._clock()
        with self._lock:
            if len(self._failures) > 50_000:  # bounded: a flood of names cannot grow it forever
                self._failures.clear()
            for key in (("addr", address), ("user", user.lower())):
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, user: str) -> None:
        with self._lock:
            self._failures.pop(("user", user.lower()), None)
