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
    from app.hub.app import hub_of

    hub = hub_of(request)
    return json_response({"ok": True, "database": hub.store.dialect, "revision": hub.extra.get("revision")})


def routes() -> list[BaseRoute]:
    return [Route("/healthz", healthz, methods=["GET"])]
