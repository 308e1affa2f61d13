"""The incident editor's forms: read and check what IT typed (title, message, status, when the
next update comes), then post, update or resolve through the hub's own incident functions, so
the dashboard, the IT API and the feed share one path. Bad input comes back as sentences beside
the fields, with what was typed kept."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.errors import MailBeaconError

log = logging.getLogger(__name__)

STATUSES = ("investigating", "identified", "monitoring", "resolved")
MAX_TITLE = 200
MAX_MESSAGE = 4000
NEXT_UPDATE_CHOICES = (("", "No time promised"), ("15m", "In 15 minutes"), ("30m", "In 30 minutes"),
                       ("1h", "In 1 hour"), ("2h", "In 2 hours"), ("4h", "In 4 hours"))


@dataclass
class Result:
    ok: bool
    incident_id: str = ""
    form_id: str = ""  # which form the errors belong to ("new" or an incident id)
    errors: dict[str, str] = field(default_factory=dict)


def _text(form: dict[str, Any], name: str, limit: int) -> str:
    value = form.get(name, "")
    return value.strip()[:limit] if isinstance(value, str) else ""


def _next_update(form: dict[str, Any], errors: dict[str, str]) -> tuple[bool, datetime | None]:
    """(given, when): "" means no time promised; durations like 30m or 1h30m from now."""
    raw = _text(form, "next_update", 40)
    if not raw:
        return ("next_update" in form), None
    from app.feed.write import parse_next_update
    from app.hub.clock import utc_now

    try:
        return True, parse_next_update(raw, now=utc_now())
    except MailBeaconError:
        errors["next_update"] = "Give the next update as a duration like 30m, 1h or 1h30m."
        return True, None


def prefill(store: Any, group: str | None) -> dict[str, str] | None:
    """A new incident's words taken from an outage group (the "Post an incident" button)."""
    if not group or not group.isdigit():
        return None
    from sqlalchemy import select

    from app.hub import schema as t

    with store.read() as conn:
        row = conn.execute(select(t.groups.c.id, t.groups.c.headline, t.groups.c.laptops)
                           .where(t.groups.c.id == int(group))).first()
    if row is None:
        return None
    return {"group": str(row.id), "title": row.headline.rstrip(".")[:MAX_TITLE],
            "message": "We know about this and are working on it."}


def _iso(when: datetime | None) -> str | None:
    from app.jsonio import iso_utc

    return iso_utc(when) if when is not None else None


def post(store: Any, form: dict[str, Any], user: str) -> Result:
    from app.hub import incidents

    errors: dict[str, str] = {}
    title = _text(form, "title", MAX_TITLE)
    message = _text(form, "message", MAX_MESSAGE)
    if not title:
        errors["title"] = "Give the incident a title people will understand, like “Mail server outage”."
    if not message:
        errors["message"] = "Say what is happening and what people can do."
    _, next_update = _next_update(form, errors)
    group = _text(form, "group", 20)
    if errors:
        return Result(False, form_id="new", errors=errors)
    body: dict[str, Any] = {"title": title, "message": message, "next_update_at": _iso(next_update)}
    if group.isdigit():
        body["group"] = int(group)
    try:
        incident = incidents.post_incident(store, body)
    except incidents.IncidentError as exc:
        return Result(False, form_id="new", errors={"form": _sentence(exc)})
    log.info("%s posted incident %s", user, incident["id"])
    return Result(True, incident_id=str(incident["id"]))


def change(store: Any, settings: Any, incident_id: str, form: dict[str, Any], user: str) -> Result:
    from app.hub import incidents

    errors: dict[str, str] = {}
    changes: dict[str, Any] = {}
    action = _text(form, "action", 20)
    status = "resolved" if action == "resolve" else _text(form, "status", 20)
    if status:
        if status not in STATUSES:
            errors["status"] = "Choose one of the listed states."
        changes["status"] = status
    message = _text(form, "message", MAX_MESSAGE)
    if message:
        changes["message"] = message
    title = _text(form, "title", MAX_TITLE)
    if title:
        changes["title"] = title
    given, next_update = _next_update(form, errors)
    if given and "next_update" not in errors and status != "resolved":
        changes["next_update_at"] = _iso(next_update)
    if errors:
        return Result(False, form_id=incident_id, errors=errors)
    if not changes:
        return Result(False, form_id=incident_id, errors={"form": "Nothing was changed."})
    try:
        incidents.update_incident(store, settings, incident_id, changes)
    except incidents.IncidentError as exc:
        return Result(False, form_id=incident_id, errors={"form": _sentence(exc)})
    log.info("%s changed incident %s: %s", user, incident_id, ", ".join(sorted(changes)))
    return Result(True, incident_id=incident_id)


def _sentence(exc: Exception) -> str:
    text = str(exc).strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "."
