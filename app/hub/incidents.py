"""Incidents: the ones IT posts (API or dashboard) and the one the hub opens itself when an
outage is plainly shared; and the native status feed (SPEC section 6) every tray reads.

IT's edits win: once IT changed an incident (`edited`), the hub never rewrites it.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Connection, func, insert, or_, select, update

from app.hub import schema as t
from app.hub.clock import utc_now
from app.hub.store import GROUPER_LOCK, Store
from app.jsonio import iso_utc

if TYPE_CHECKING:
    from app.hub.settings import HubSettings

STATUSES = ("investigating", "identified", "monitoring", "resolved")
FEED_RESOLVED_FOR = timedelta(hours=24)  # resolved incidents stay in the feed this long


class IncidentError(ValueError):
    """A request about incidents that cannot be done; `status` is the HTTP status it maps to."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def incident_object(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "title": row.title,
        "status": row.status,
        "message": row.message,
        "started_at": iso_utc(row.started_at),
        "updated_at": iso_utc(row.updated_at),
        "next_update_at": iso_utc(row.next_update_at) if row.next_update_at else None,
        "affects": orjson.loads(row.affects),
        "group": row.group_id,
        "auto": bool(row.auto),
    }


# ---------------------------------------------------------------- used by the grouper


def group_of_incidents(conn: Connection, ids: set[str]) -> dict[str, int | None]:
    """Unresolved incidents among `ids` -> the group each belongs to (None: none yet)."""
    if not ids:
        return {}
    c = t.incidents.c
    rows = conn.execute(select(c.id, c.group_id).where(c.id.in_(sorted(ids)), c.status != "resolved"))
    return {r.id: r.group_id for r in rows}


def link_group(conn: Connection, incident_id: str, group_id: int) -> None:
    conn.execute(update(t.incidents).where(t.incidents.c.id == incident_id, t.incidents.c.group_id.is_(None))
                 .values(group_id=group_id))


def _auto_message(row: Any) -> str:
    laptops = f"{row.laptops} laptop{'s' if row.laptops != 1 else ''}"
    people = f"{row.people} {'person' if row.people == 1 else 'people'}"
    networks = f"{row.networks} network{'s' if row.networks != 1 else ''}"
    since = row.first_at.strftime("%H:%M UTC")
    return (f"IT was alerted automatically: {laptops} ({people}) on {networks} have had this problem "
            f"since {since}. IT is looking into it; you do not need to report it.")


def auto_incident(conn: Connection, group: Any, now: datetime) -> None:
    """The group is plainly shared: open its incident (status investigating), or refresh it."""
    if group.incident_id:
        return refresh_auto_incident(conn, group, now)
    incident_id = f"HUB-{group.id}"
    title = (group.headline or "Mail is not working for several people")[:200]
    conn.execute(insert(t.incidents).values(
        id=incident_id, title=title, status="investigating", message=_auto_message(group), started_at=now,
        updated_at=now, next_update_at=None, affects='["mail"]', group_id=group.id, auto=True, edited=False,
    ))
    conn.execute(update(t.groups).where(t.groups.c.id == group.id).values(incident_id=incident_id, changed_at=now))


def refresh_auto_incident(conn: Connection, group: Any, now: datetime) -> None:
    """New counts in the automatic incident's message, unless IT has taken it over."""
    c = t.incidents.c
    message = _auto_message(group)
    conn.execute(update(t.incidents).where(
        c.id == group.incident_id, c.auto.is_(True), c.edited.is_(False), c.status != "resolved", c.message != message
    ).values(message=message, updated_at=now))


def resolve_auto_incident(conn: Connection, incident_id: str, now: datetime) -> None:
    c = t.incidents.c
    conn.execute(update(t.incidents).where(
        c.id == incident_id, c.auto.is_(True), c.edited.is_(False), c.status != "resolved"
    ).values(status="resolved", updated_at=now, next_update_at=None,
             message="Mail works again on every laptop that had this problem."))


# ---------------------------------------------------------------- IT's API


def _clean(changes: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """Validate a POST/PATCH body; IncidentError(400) naming what is wrong."""
    known = {"id", "title", "message", "next_update_at", "affects", "group", "status"} if creating else \
        {"title", "status", "message", "next_update_at"}
    unknown = sorted(set(changes) - known)
    if unknown:
        raise IncidentError(400, f"unknown field {unknown[0]!r}; expected {', '.join(sorted(known))}")
    out: dict[str, Any] = {}
    for key in ("title", "message"):
        if key in changes:
            value = changes[key]
            if not isinstance(value, str) or len(value) > (200 if key == "title" else 5000):
                raise IncidentError(400, f"{key} must be text of at most {200 if key == 'title' else 5000} characters")
            out[key] = value.strip()
    if "title" in out and not out["title"]:
        raise IncidentError(400, "title must not be empty")
    if "status" in changes:
        if changes["status"] not in STATUSES:
            raise IncidentError(400, f"status must be one of {', '.join(STATUSES)}")
        out["status"] = changes["status"]
    if "next_update_at" in changes:
        value = changes["next_update_at"]
        if value is None:
            out["next_update_at"] = None
        else:
            from app.jsonio import parse_iso

            try:
                out["next_update_at"] = parse_iso(value) if isinstance(value, str) else _bad_time()
            except ValueError:
                raise IncidentError(400, "next_update_at must be an ISO 8601 time or null") from None
    if "affects" in changes:
        value = changes["affects"]
        if not isinstance(value, list) or not value or not all(isinstance(a, str) and 0 < len(a) <= 50 for a in value):
            raise IncidentError(400, 'affects must be a list of service names like ["mail"]')
        out["affects"] = orjson.dumps(value).decode()
    if "id" in changes:
        value = changes["id"]
        if not isinstance(value, str) or not 0 < len(value) <= 64 or not value.replace("-", "").replace("_", "").isalnum():
            raise IncidentError(400, "id must be letters, digits, - or _ (at most 64)")
        out["id"] = value
    if "group" in changes:
        if changes["group"] is not None and (not isinstance(changes["group"], int) or isinstance(changes["group"], bool)):
            raise IncidentError(400, "group must be a group id or null")
        out["group_id"] = changes["group"]
    return out


def _bad_time() -> datetime:
    raise ValueError


def post_incident(store: Store, body: dict[str, Any]) -> dict[str, Any]:
    """IT posts an incident (status investigating unless given). 409 when the id exists."""
    values = _clean(body, creating=True)
    if "title" not in values:
        raise IncidentError(400, "title is required")
    now = utc_now()
    incident_id = values.pop("id", None) or f"INC-{secrets.token_hex(3).upper()}"
    group_id = values.pop("group_id", None)
    with store.begin() as conn:
        store.lock(conn, GROUPER_LOCK)
        if conn.execute(select(t.incidents.c.id).where(t.incidents.c.id == incident_id)).first():
            raise IncidentError(409, f"an incident with id {incident_id} already exists")
        if group_id is not None:
            group = conn.execute(select(t.groups).where(t.groups.c.id == group_id)).first()
            if group is None:
                raise IncidentError(400, f"there is no group {group_id}")
        conn.execute(insert(t.incidents).values(
            id=incident_id, title=values["title"], status=values.get("status", "investigating"),
            message=values.get("message", ""), started_at=now, updated_at=now,
            next_update_at=values.get("next_update_at"), affects=values.get("affects", '["mail"]'),
            group_id=group_id, auto=False, edited=True,
        ))
        if group_id is not None:
            conn.execute(update(t.groups).where(t.groups.c.id == group_id).values(incident_id=incident_id, changed_at=now))
        row = conn.execute(select(t.incidents).where(t.incidents.c.id == incident_id)).one()
        return incident_object(row)


def update_incident(store: Store, settings: HubSettings, incident_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """IT changes an incident; its words win from now on. `resolved` resolves its group."""
    from app.hub.grouping import resolve_group

    changes = _clean(body, creating=False)
    if not changes:
        raise IncidentError(400, "nothing to change: give title, status, message or next_update_at")
    now = utc_now()
    with store.begin() as conn:
        store.lock(conn, GROUPER_LOCK)  # the grouper must not queue a digest for a group being closed
        row = conn.execute(select(t.incidents).where(t.incidents.c.id == incident_id)).first()
        if row is None:
            raise IncidentError(404, f"there is no incident {incident_id}")
        if changes.get("status") == "resolved":
            changes.setdefault("next_update_at", None)
        conn.execute(update(t.incidents).where(t.incidents.c.id == incident_id).values(**changes, updated_at=now, edited=True))
        if changes.get("status") == "resolved" and row.group_id is not None:
            group = conn.execute(select(t.groups).where(t.groups.c.id == row.group_id, t.groups.c.state == "open")).first()
            if group is not None:
                resolve_group(conn, settings, group, now, why="incident")
        return incident_object(conn.execute(select(t.incidents).where(t.incidents.c.id == incident_id)).one())


def list_incidents(store: Store, *, unresolved_only: bool = False) -> list[dict[str, Any]]:
    query = select(t.incidents).order_by(t.incidents.c.started_at.desc())
    if unresolved_only:
        query = query.where(t.incidents.c.status != "resolved")
    with store.read() as conn:
        return [incident_object(r) for r in conn.execute(query)]


# ---------------------------------------------------------------- the feed


def feed_version(store: Store) -> tuple[Any, int]:
    """A cheap fingerprint of the incidents: the newest change and how many there are."""
    c = t.incidents.c
    with store.read() as conn:
        newest, count = conn.execute(select(func.max(c.updated_at), func.count())).one()
    return newest, count


def feed_document(store: Store) -> tuple[bytes, str, datetime]:
    """(body, ETag, Last-Modified) of the native feed: unresolved incidents and those resolved
    in the last day, so trays also see the all-clear."""
    now = utc_now()
    c = t.incidents.c
    with store.read() as conn:
        rows = conn.execute(
            select(t.incidents).where(or_(c.status != "resolved", c.updated_at >= now - FEED_RESOLVED_FOR))
            .order_by(c.started_at.desc()).limit(200)
        ).all()
        newest = conn.execute(select(func.max(c.updated_at))).scalar()
    modified = (newest or now.replace(year=2000, month=1, day=1)).replace(microsecond=0)
    items = []
    for row in rows:
        item = incident_object(row)
        item.pop("group")
        item.pop("auto")
        items.append(item)
    body = orjson.dumps({"schema": 1, "updated_at": iso_utc(modified), "incidents": items})
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return body, etag, modified
