"""Reading the hub's state as the JSON objects of SPEC section 8 (groups, members, reports) and
the fleet summary; shared by the API, the notifications and the dashboard."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy import Connection, and_, false, func, select

from app.hub import schema as t
from app.hub.clock import utc_now
from app.hub.store import Store
from app.jsonio import iso_utc

MEMBERS_SHOWN = 1000  # a group object lists at most this many members; the counts say the rest
REPORTS_SHOWN = 50


def _iso(value: Any) -> str | None:
    return iso_utc(value) if value is not None else None


def group_summary(row: Any) -> dict[str, Any]:
    """The group object without members and reports (lists, counts)."""
    return {
        "id": row.id,
        "state": row.state,
        "verdict": row.verdict,
        "layer": row.layer,
        "failing": orjson.loads(row.failing),
        "headline": row.headline,
        "laptops": row.laptops,
        "people": row.people,
        "networks": row.networks,
        "first_at": _iso(row.first_at),
        "last_at": _iso(row.last_at),
        "resolved_at": _iso(row.resolved_at),
        "incident": row.incident_id,
    }


def group_object(conn: Connection, group_id: int) -> dict[str, Any] | None:
    """SPEC section 8's group object: counts, members still in it, the newest reports."""
    row = conn.execute(select(t.groups).where(t.groups.c.id == group_id)).first()
    if row is None:
        return None
    out = group_summary(row)
    m = t.group_members.c
    members = conn.execute(
        select(m.laptop, m.username, m.network, m.since)
        .where(m.group_id == group_id, m.left_at.is_(None))
        .order_by(m.since, m.laptop)
        .limit(MEMBERS_SHOWN)
    )
    out["members"] = [
        {"laptop": r.laptop, "username": r.username, "network": r.network, "since": _iso(r.since)} for r in members
    ]
    r_ = t.reports.c
    reports = conn.execute(
        select(r_.id, r_.laptop, r_.created_at, r_.note)
        .where(r_.group_id == group_id)
        .order_by(r_.created_at.desc())
        .limit(REPORTS_SHOWN)
    )
    out["reports"] = [
        {"id": r.id, "laptop": r.laptop, "created_at": _iso(r.created_at), "note": r.note} for r in reports
    ]
    return out


def get_group(store: Store, group_id: int) -> dict[str, Any] | None:
    with store.read() as conn:
        return group_object(conn, group_id)


def list_groups(store: Store, state: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Groups newest first (by when they last changed), as summaries."""
    query = select(t.groups).order_by(t.groups.c.first_at.desc(), t.groups.c.id.desc()).limit(limit)
    if state:
        query = query.where(t.groups.c.state == state)
    with store.read() as conn:
        return [group_summary(r) for r in conn.execute(query)]


def group_timeline(store: Store, group_id: int, limit: int = 500) -> list[dict[str, Any]]:
    """Who joined and left, and the reports, oldest first."""
    m = t.group_members.c
    r_ = t.reports.c
    events: list[dict[str, Any]] = []
    with store.read() as conn:
        for row in conn.execute(select(m.laptop, m.username, m.since, m.left_at).where(m.group_id == group_id).limit(limit)):
            events.append({"at": _iso(row.since), "kind": "joined", "laptop": row.laptop, "username": row.username})
            if row.left_at is not None:
                events.append({"at": _iso(row.left_at), "kind": "left", "laptop": row.laptop, "username": row.username})
        for row in conn.execute(
            select(r_.id, r_.laptop, r_.username, r_.created_at, r_.note).where(r_.group_id == group_id).limit(limit)
        ):
            events.append({"at": _iso(row.created_at), "kind": "report", "laptop": row.laptop,
                           "username": row.username, "report": row.id, "note": row.note})
    events.sort(key=lambda e: e["at"] or "")
    return events


def get_report(store: Store, report_id: str) -> dict[str, Any] | None:
    """A report's full JSON exactly as the laptop sent it."""
    with store.read() as conn:
        body = conn.execute(select(t.reports.c.body).where(t.reports.c.id == report_id)).scalar()
    return orjson.loads(body) if body is not None else None


def fleet(store: Store, since_hours: float = 24) -> dict[str, Any]:
    """Laptops seen in the last `since_hours`, by verdict and by network."""
    since = utc_now() - timedelta(hours=since_hours)
    lc = t.laptops.c
    seen = lc.last_seen >= since
    with store.read() as conn:
        total = conn.execute(select(func.count()).where(seen)).scalar() or 0
        by_verdict = {r[0] or "unknown": r[1] for r in conn.execute(select(lc.verdict, func.count()).where(seen).group_by(lc.verdict))}
        by_network = {
            r[0] or "unknown": r[1]
            for r in conn.execute(
                select(lc.network, func.count()).where(seen).group_by(lc.network).order_by(func.count().desc()).limit(100)
            )
        }
    return {"laptops": total, "by_verdict": by_verdict, "by_network": by_network, "since_hours": since_hours}


def changes_since(store: Store, cursor: str | None) -> tuple[str | None, list[int]]:
    """(new cursor, ids of groups changed after `cursor`) for live pages: poll with the cursor
    returned last time (None at first: every open group)."""
    g = t.groups.c
    with store.read() as conn:
        if cursor is None:
            rows = conn.execute(select(g.id, g.changed_at).where(g.state == "open")).all()
            newest = conn.execute(select(func.max(g.changed_at))).scalar()
        else:
            from app.jsonio import parse_iso

            after = parse_iso(cursor)
            rows = conn.execute(select(g.id, g.changed_at).where(and_(g.changed_at > after))).all()
            newest = max((r.changed_at for r in rows), default=after)
    return (newest.isoformat() if newest is not None else cursor), [r.id for r in rows]


def ungrouped(store: Store) -> dict[str, int]:
    """Reports and state events stored but not yet grouped (read through their partial index)."""
    out = {}
    with store.read() as conn:
        for name, table in (("reports", t.reports), ("states", t.states)):
            out[name] = conn.execute(select(func.count()).where(table.c.grouped == false())).scalar_one()
    return out
