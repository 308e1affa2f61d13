"""The ASGI application: `create_app(settings)` builds the Starlette app, its background workers
(batched writer, grouper, notification sender) and mounts the dashboard's routes.

The dashboard (app.hub.web) plugs in through one function, `app.hub.web.routes(hub)`, returning
Starlette routes; the API and the dashboard share the `Hub` object at `request.app.state.hub`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from app.hub import accounts
from app.hub.settings import HubSettings
from app.hub.store import Store

log = logging.getLogger(__name__)


@dataclass
class Hub:
    """What every route needs: settings, the database, the token cache, the workers."""

    settings: HubSettings
    store: Store
    tokens: accounts.TokenCache
    workers: list[Any] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # room for the dashboard's own state
    writer: Any = None  # journal.JournalWriter (serve) or ingest.BatchWriter, while running
    sender: Any = None  # notify.Sender, while running
    grouper: Any = None  # runtime.Grouper, while running
    feed_cache: Any = None  # runtime.FeedCache

    def wake_sender(self) -> None:
        if self.sender is not None:
            self.sender.wake.set()

    def wake_grouper(self) -> None:
        if self.grouper is not None:
            self.grouper.wake.set()

    def session(self, request: Request) -> accounts.Session | None:
        """The IT session of this request (cookie SESSION_COOKIE), or None."""
        return accounts.session_for(self.store, request.cookies.get(SESSION_COOKIE))


SESSION_COOKIE = "mbhub_session"
CSRF_HEADER = "x-csrf-token"


def hub_of(request: Request) -> Hub:
    return request.app.state.hub


def _web_routes(hub: Hub) -> tuple[list[BaseRoute], list[Middleware]]:
    """The dashboard's routes and middleware, when app.hub.web is installed."""
    import importlib

    try:
        web = importlib.import_module("app.hub.web")
    except ModuleNotFoundError as exc:
        if exc.name not in ("app.hub.web",):
            raise
        return [Route("/", _no_dashboard)], []
    routes = list(web.routes(hub))
    middleware = list(getattr(web, "middleware", lambda _hub: [])(hub))
    return routes, middleware


async def _no_dashboard(request: Request) -> Response:
    return Response("MailBeacon hub: the dashboard is not installed.\n", media_type="text/plain")


class HubApp(Starlette):
    """Starlette, except that the two ingest endpoints (every laptop posts there; in an outage,
    thousands a second) are answered before the middleware stack and the router: they are bare
    ASGI apps that set their own headers and never raise."""

    def __init__(self, *, ingest: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._ingest = ingest

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            endpoint = self._ingest.get(scope["path"])
            if endpoint is not None:
                return await endpoint(scope, receive, send)
        await super().__call__(scope, receive, send)


def create_app(settings: HubSettings, *, store: Store | None = None, workers: Any = True) -> Starlette:
    """The hub as an ASGI app. `store` defaults to the settings' database (migrated by the
    caller: `serve` and `migrate` do it); `workers=False` leaves out the background loops, for
    a process that only answers requests; a runtime.BackgroundProcess runs them in a child."""
    from app.hub import api

    store = store or Store(settings.database_url)
    from app.hub.runtime import FeedCache

    hub = Hub(settings=settings, store=store, tokens=accounts.TokenCache(store))
    hub.feed_cache = FeedCache(store)
    web_routes, web_middleware = _web_routes(hub)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        from app.hub import runtime

        await runtime.start(hub, background=workers)
        try:
            yield
        finally:
            await runtime.stop(hub)

    app = HubApp(
        ingest=api.ingest_endpoints(hub),
        routes=api.routes(hub) + web_routes,
        middleware=web_middleware,
        lifespan=lifespan,
        exception_handlers=api.exception_handlers(),
    )
    app.state.hub = hub
    return app
