"""Signing IT in and out of the dashboard: the login form (CSRF-protected before any session
exists, by a cookie bound to the form), argon2 verification through the hub's accounts, the
session cookie, the rate limit, and the guard every page and state-changing request passes."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import quote, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from app.hub import accounts
from app.hub.web import security
from app.hub.web.render import render

log = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]
_MAX_FIELD = 1000  # a name or password longer than this is not an attempt, it is noise


def _hub(request: Request):
    from app.hub.app import hub_of

    return hub_of(request)


def _public_url(request: Request) -> str:
    return _hub(request).settings.public_url


def limiter(request: Request) -> security.LoginLimiter:
    extra = _hub(request).extra
    if "login_limiter" not in extra:
        extra["login_limiter"] = security.LoginLimiter()
    return extra["login_limiter"]


async def current_session(request: Request) -> accounts.Session | None:
    if not hasattr(request.state, "session"):
        from app.hub.app import SESSION_COOKIE

        value = request.cookies.get(SESSION_COOKIE)
        request.state.session = (
            await run_in_threadpool(accounts.session_for, _hub(request).store, value) if value else None
        )
    return request.state.session


def _safe_next(target: str | None) -> str:
    # only a path on this hub: never an open redirect to another site
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/"


def page(handler: Handler) -> Handler:
    """A dashboard page: without a session, to the login form (and back here afterwards)."""

    @functools.wraps(handler)
    async def guarded(request: Request) -> Response:
        if await current_session(request) is None:
            here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            target = "/login" if here == "/" else f"/login?next={quote(here, safe='')}"
            return RedirectResponse(target, status_code=303)
        return await handler(request)

    return guarded


def fetch(handler: Handler) -> Handler:
    """A script's request: 401 JSON instead of a redirect, so the page can say "signed out"."""

    @functools.wraps(handler)
    async def guarded(request: Request) -> Response:
        if await current_session(request) is None:
            return JSONResponse({"error": "Your session has ended; sign in again."}, status_code=401)
        return await handler(request)

    return guarded


async def csrf_ok(request: Request, form: dict | None = None) -> bool:
    """The session's token in the form field or the X-CSRF-Token header, from this hub's pages."""
    from app.hub.app import CSRF_HEADER

    session = await current_session(request)
    if session is None or not security.same_origin(request, _public_url(request)):
        return False
    given = request.headers.get(CSRF_HEADER)
    if given is None and form is not None:
        given = form.get(security.CSRF_FIELD)
    return security.same_token(session.csrf, given if isinstance(given, str) else None)


def forbidden(request: Request) -> Response:
    return render(request, "error.html", status=403, title="Request refused",
                  message="This form came from somewhere other than this hub, or the page was "
                          "open too long. Go back, reload the page and try again.")


# ---------------------------------------------------------------- routes


async def login_form(request: Request, *, error: str = "", status: int = 200, user: str = "",
                     headers: dict[str, str] | None = None) -> Response:
    if error == "" and await current_session(request) is not None:
        return RedirectResponse(_safe_next(request.query_params.get("next")), status_code=303)
    token = security.new_token()
    response = render(request, "login.html", status=status, headers=headers, login_csrf=token,
                      error=error, user=user, next=_safe_next(request.query_params.get("next")),
                      session=None)
    security.set_cookie(response, request, security.LOGIN_COOKIE, token, max_age=3600,
                        public_url=_public_url(request), path="/login", same_site="strict")
    return response


async def login_page(request: Request) -> Response:
    return await login_form(request)


async def login_submit(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=10)
    name = str(form.get("username", ""))[:_MAX_FIELD].strip()
    password = str(form.get("password", ""))[:_MAX_FIELD]
    if not security.same_origin(request, _public_url(request)) or not security.same_token(
        request.cookies.get(security.LOGIN_COOKIE), str(form.get(security.CSRF_FIELD, ""))
    ):
        return await login_form(request, status=403, user=name,
                                error="The sign-in form had expired. Please try again.")
    address = request.client.host if request.client else ""
    rate = limiter(request)
    wait = rate.retry_after(address, name)
    if wait > 0:
        minutes = max(1, int(wait // 60) + (1 if wait % 60 else 0))
        log.warning("sign-in rate limit for %r from %s", name, address)
        return await login_form(
            request, status=429, user=name, headers={"Retry-After": str(int(wait) + 1)},
            error=f"Too many sign-in attempts. Try again in {minutes} minute{'s' if minutes != 1 else ''}.",
        )
    if not name or not password:
        return await login_form(request, status=400, user=name, error="Enter your user name and password.")
    store = _hub(request).store
    user = await run_in_threadpool(accounts.verify_password, store, name, password)
    if user is None:
        rate.failed(address, name)
        log.info("failed sign-in for %r from %s", name, address)
        return await login_form(request, status=401, user=name, error="That user name and password do not match.")
    rate.succeeded(name)
    value, session = await run_in_threadpool(accounts.create_session, store, user)
    log.info("%s signed in from %s", user.name, address)
    response = RedirectResponse(_safe_next(str(form.get("next", "")) or None), status_code=303)
    from app.hub.app import SESSION_COOKIE

    security.set_cookie(response, request, SESSION_COOKIE, value,
                        max_age=int(accounts.SESSION_TTL.total_seconds()), public_url=_public_url(request))
    security.clear_cookie(response, request, security.LOGIN_COOKIE, public_url=_public_url(request), path="/login")
    return response


async def logout(request: Request) -> Response:
    from app.hub.app import SESSION_COOKIE

    form = await request.form(max_files=0, max_fields=10)
    if await current_session(request) is not None:
        if not await csrf_ok(request, dict(form)):
            return forbidden(request)
        await run_in_threadpool(accounts.end_session, _hub(request).store, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    security.clear_cookie(response, request, SESSION_COOKIE, public_url=_public_url(request))
    return response


def routes() -> list[Route]:
    return [
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login_submit, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
    ]
