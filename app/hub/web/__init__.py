"""IT's dashboard (SPEC 8): sign-in, the live overview of open outage groups and the fleet, each
group's timeline, the incident editor and any report's full JSON. It plugs into the hub's app
factory through `routes(hub)` and `middleware(hub)`; templates live in app/hub/templates and the
page's own small script and style sheet in app/hub/static (nothing third-party)."""

from __future__ import annotations

from typing import Any

from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles


def routes(hub: Any) -> list[BaseRoute]:
    from app.hub.web import auth, pages

    static = StaticFiles(packages=[("app.hub", "static")])
    return [*auth.routes(), *pages.routes(), Mount("/static", static, name="static")]


def middleware(hub: Any) -> list[Middleware]:
    from app.hub.web.fleet import FleetLifespan
    from app.hub.web.security import SecurityHeaders

    return [Middleware(SecurityHeaders), Middleware(FleetLifespan, hub=hub)]
