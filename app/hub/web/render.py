"""The dashboard's Jinja2 environment (autoescaped, templates in app/hub/templates) and the
small filters its pages share: times, counts and verdict words."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from app.hub.clock import utc_now

VERDICT_WORDS = {
    "ok": "Working",
    "degraded": "Partly working",
    "down": "Mail server down",
    "local": "Laptop's own connection",
    "unknown": "Unknown",
    "": "Not reported yet",
}

_env: jinja2.Environment | None = None


def when(value: datetime | None) -> str:
    """'2026-12-01 07:45 UTC'; the page's script shows it in the reader's own time zone."""
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def iso(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def ago(value: datetime | None, now: datetime | None = None) -> str:
    if value is None:
        return ""
    seconds = max(0, int(((now or utc_now()) - value).total_seconds()))
    if seconds < 60:
        return "just now"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min ago"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min ago" if minutes else f"{hours} h ago"
    days = hours // 24
    return f"{days} day{'s' if days != 1 else ''} ago"


def plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def pretty_json(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False, sort_keys=False)
    except ValueError:
        return text


def env() -> jinja2.Environment:
    global _env
    if _env is None:
        e = jinja2.Environment(
            loader=jinja2.PackageLoader("app.hub", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        e.filters.update(when=when, iso=iso, ago=ago, plural=plural, pretty_json=pretty_json,
                         verdict_words=lambda v: VERDICT_WORDS.get(v or "", v))
        _env = e
    return _env


def render(request: Request, name: str, status: int = 200, headers: dict[str, str] | None = None,
           **context: Any) -> HTMLResponse:
    context.setdefault("session", getattr(request.state, "session", None))
    context.setdefault("csrf", getattr(getattr(request.state, "session", None), "csrf", ""))
    context.setdefault("active", "")
    html = env().get_template(name).render(request=request, **context)
    return HTMLResponse(html, status_code=status, headers=headers)


def fragment(name: str, **context: Any) -> str:
    """A template rendered on its own: the live update's pieces of the page."""
    return env().get_template(name).render(**context)
