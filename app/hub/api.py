"""The hub's HTTP API (SPEC section 8): routes, authentication and JSON errors.

Every error is `{"error": "sentence"}`. Laptop tokens may post reports and state and read the
feed; admin tokens and IT sessions may also use the IT API.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json", headers=headers)


def error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response({"error": message}, status, headers)


_STATUS_WORDS = {
    404: "There is nothing at this address.",
    405: "This address does not accept that method.",
}


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith("/api/") or request.url.path.endswith(".json"):
        return error(exc.status_code, _STATUS_WORDS.get(exc.status_code, str(exc.detail)), dict(exc.headers or {}))
    return Response(_STATUS_WORDS.get(exc.status_code, str(exc.detail)) + "\n", exc.status_code,
                    headers=exc.headers, media_type="text/plain")


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error(exc.status, exc.message, exc.headers)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.error("unexpected error answering %s %s", request.method, request.url.path, exc_info=exc)
    return error(500, "The hub hit an unexpected error; it is in the hub's log.")


def exception_handlers() -> dict[Any, Any]:
    return {HTTPException: _http_exception, ApiError: _api_error, Exception: _server_error}


async def healthz(request: Request) -> Response:
    hub = hub_of(request)
    return json_response({"ok": True, "database": hub.store.dialect, "revision": hub.extra.get("revision")})


# ---------------------------------------------------------------- who is asking


def authorize(request: Request, *, admin: bool) -> str:
    """"token:<name>" or "user:<name>" when the request may go on; ApiError otherwise. Laptop
    tokens pass only where admin=False. A session on an unsafe method needs its CSRF header."""
    from app.hub.app import CSRF_HEADER, SESSION_COOKIE

    hub = hub_of(request)
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        info = hub.tokens.lookup(header[7:].strip())
        if info is None:
            raise ApiError(401, "This token is not valid (unknown or revoked).", _CHALLENGE)
        if admin and not info.admin:
            raise ApiError(403, "This is a laptop token; the IT API needs an admin token or an IT login.")
        return f"token:{info.name}"
    if request.cookies.get(SESSION_COOKIE):
        session = hub.session(request)
        if session is None:
            raise ApiError(401, "Your session has ended; log in again.")
        if request.method not in ("GET", "HEAD") and request.headers.get(CSRF_HEADER) != session.csrf:
            raise ApiError(403, "The request did not carry this page's CSRF token; reload the page and try again.")
        return f"user:{session.user.name}"
    raise ApiError(401, "A hub token (Authorization: Bearer ...) or an IT login is needed.", _CHALLENGE)


_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="mailbeacon-hub"'}


def hub_of(request: Request):
    return request.app.state.hub


async def _json_body(request: Request, limit: int = 65536) -> dict[str, Any]:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(413, f"The body is larger than {limit // 1024} KB.")
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ApiError(400, "The body is not JSON.") from None
    if not isinstance(doc, dict):
        raise ApiError(400, "The body must be a JSON object.")
    return doc


# ---------------------------------------------------------------- feed, groups, incidents


async def feed(request: Request) -> Response:
    """The native feed with ETag and Last-Modified; 304 for a matching conditional GET."""
    from email.utils import format_datetime, parsedate_to_datetime

    from starlette.concurrency import run_in_threadpool

    authorize(request, admin=False)
    hub = hub_of(request)
    body, etag, modified = await run_in_threadpool(hub.feed_cache.get)
    headers = {"ETag": etag, "Last-Modified": format_datetime(modified, usegmt=True), "Cache-Control": "no-cache"}
    inm = request.headers.get("if-none-match")
    if inm is not None:
        if etag in [v.strip() for v in inm.split(",")] or inm.strip() == "*":
            return Response(status_code=304, headers=headers)
    elif request.headers.get("if-modified-since"):
        try:
            since = parsedate_to_datetime(request.headers["if-modified-since"])
        except (TypeError, ValueError):
            since = None
        if since is not None and since.tzinfo is not None and modified <= since:
            return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


async def groups(request: Request) -> Response:
    from starlette.concurrency import run_in_threadpool

    from app.hub import queries

    authorize(request, admin=True)
    state = request.query_params.get("state")
    if state not in (None, "open", "resolved"):
        raise ApiError(400, "state must be open or resolved.")
    found = await run_in_threadpool(queries.list_groups, hub_of(request).store, state)
    return json_response({"groups": found})


async def group(request: Request) -> Response:
    from starlette.concurrency import run_in_threadpool

    from app.hub import queries

    authorize(request, admin=True)
    raw = request.path_params["group_id"]
    if not raw.isdigit() or len(raw) > 12:
        raise ApiError(404, f"There is no group {raw[:40]}.")
    found = await run_in_threadpool(queries.get_group, hub_of(request).store, int(raw))
    if found is None:
        raise ApiError(404, f"There is no group {raw}.")
    return json_response(found)


async def incidents_collection(request: Request) -> Response:
    from starlette.concurrency import run_in_threadpool

    from app.hub import incidents

    hub = hub_of(request)
    if request.method == "GET":
        authorize(request, admin=True)
        return json_response({"incidents": await run_in_threadpool(incidents.list_incidents, hub.store)})
    who = authorize(request, admin=True)
    body = await _json_body(request)
    try:
        created = await run_in_threadpool(incidents.post_incident, hub.store, body)
    except incidents.IncidentError as exc:
        raise ApiError(exc.status, _sentence(str(exc))) from None
    hub.feed_cache.invalidate()
    log.info("incident %s posted by %s", created["id"], who)
    return json_response(created, 201)


async def incident_item(request: Request) -> Response:
    from starlette.concurrency import run_in_threadpool

    from app.hub import incidents

    hub = hub_of(request)
    who = authorize(request, admin=True)
    body = await _json_body(request)
    try:
        changed = await run_in_threadpool(incidents.update_incident, hub.store, hub.settings,
                                          request.path_params["incident_id"], body)
    except incidents.IncidentError as exc:
        raise ApiError(exc.status, _sentence(str(exc))) from None
    hub.feed_cache.invalidate()
    hub.wake_sender()
    log.info("incident %s changed by %s", changed["id"], who)
    return json_response(changed)


async def stats(request: Request) -> Response:
    """Where this process's ingest time went (seconds summed over requests), for IT and the
    benchmark; admin only."""
    from starlette.concurrency import run_in_threadpool

    from app.hub import journal, queries

    authorize(request, admin=True)
    hub = hub_of(request)
    return json_response({
        "ingest": hub.writer.timings.as_dict() if hub.writer else None,
        # stored but not yet grouped (any process groups them): how far grouping lags behind,
        # and bytes of the journal not yet in the database (this machine's serve processes)
        "ungrouped": {**await run_in_threadpool(queries.ungrouped, hub.store),
                      "journal_bytes": await run_in_threadpool(journal.backlog, journal.folder_of(hub.settings.data_dir))},
    })


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "."


def ingest_endpoints(hub) -> dict[str, Any]:
    """POST /api/v1/reports and /api/v1/state: bare ASGI apps the hub answers before its router."""
    from app.hub.ingest import IngestEndpoint

    return {"/api/v1/reports": IngestEndpoint("report", hub), "/api/v1/state": IngestEndpoint("state", hub)}


def routes(hub) -> list[BaseRoute]:
    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/feed.json", feed, methods=["GET"]),
        Route("/api/v1/groups", groups, methods=["GET"]),
        Route("/api/v1/groups/{group_id}", group, methods=["GET"]),
        Route("/api/v1/incidents", incidents_collection, methods=["GET", "POST"]),
        Route("/api/v1/incidents/{incident_id}", incident_item, methods=["PATCH"]),
        Route("/api/v1/stats", stats, methods=["GET"]),
    ]
