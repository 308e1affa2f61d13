"""What the dashboard reads from the hub's database: the open groups with their members,
notes and timeline, the fleet seen in the last 24 h by verdict and by network, incidents, and
one report's stored body. Read-only; every query is bounded so the first page stays fast with
100,000 laptops and many thousands of reports."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, or_, select

from app.hub import schema as t

FLEET_WINDOW = timedelta(hours=24)
NOTES_PER_GROUP = 5
TOP_NETWORKS = 12
MAX_GROUPS = 50
TIMELINE_LIMIT = 200
MEMBERS_LIMIT = 500


@dataclass
class Group:
    id: int
    state: str
    verdict: str
    layer: str
    headline: str
    failing: list[dict[str, str]]
    laptops: int
    people: int
    networks: int
    first_at: datetime
    last_at: datetime
    resolved_at: datetime | None
    incident: dict[str, Any] | None
    notified_at: datetime | None = None
    notified_laptops: int = 0
    notes: list[dict[str, Any]] = field(default_factory=list)
    reports: int = 0


def _failing(text: str) -> list[dict[str, str]]:
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return []
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _reports_of(row: Any):
    """Reports the hub counted in this group (indexed by group)."""
    return t.reports.c.group_id == row.id


def _incident_row(conn: Connection, incident_id: str | None) -> dict[str, Any] | None:
    if not incident_id:
        return None
    row = conn.execute(select(t.incidents).where(t.incidents.c.id == incident_id)).first()
    return dict(row._mapping) if row else None


def _group(conn: Connection, row: Any, *, notes: int = NOTES_PER_GROUP) -> Group:
    group = Group(
        id=row.id, state=row.state, verdict=row.verdict, layer=row.layer, headline=row.headline,
        failing=_failing(row.failing), laptops=row.laptops, people=row.people, networks=row.networks,
        first_at=row.first_at, last_at=row.last_at, resolved_at=row.resolved_at,
        incident=_incident_row(conn, row.incident_id),
        notified_at=row.notified_at, notified_laptops=row.notified_laptops,
    )
    where = _reports_of(row)
    group.reports = conn.execute(select(func.count()).select_from(t.reports).where(where)).scalar() or 0
    if notes:
        rows = conn.execute(
            select(t.reports.c.id, t.reports.c.created_at, t.reports.c.username, t.reports.c.note)
            .where(where, t.reports.c.note != "")
            .order_by(t.reports.c.created_at.desc())
            .limit(notes)
        )
        group.notes = [dict(r._mapping) for r in rows]
    return group


def open_groups(conn: Connection, limit: int = MAX_GROUPS) -> list[Group]:
    rows = conn.execute(
        select(t.groups).where(t.groups.c.state == "open").order_by(t.groups.c.last_at.desc()).limit(limit)
    ).all()
    return [_group(conn, r) for r in rows]


def recent_resolved(conn: Connection, since: datetime, limit: int = 10) -> list[Group]:
    rows = conn.execute(
        select(t.groups)
        .where(t.groups.c.state == "resolved", t.groups.c.resolved_at >= since)
        .order_by(t.groups.c.resolved_at.desc())
        .limit(limit)
    ).all()
    return [_group(conn, r, notes=0) for r in rows]


def group_detail(conn: Connection, group_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(t.groups).where(t.groups.c.id == group_id)).first()
    if row is None:
        return None
    group = _group(conn, row, notes=0)
    members = [
        dict(r._mapping)
        for r in conn.execute(
            select(t.group_members.c.laptop, t.group_members.c.username, t.group_members.c.network,
                   t.group_members.c.since, t.group_members.c.last_at, t.group_members.c.left_at,
                   t.group_members.c.by_state)
            .where(t.group_members.c.group_id == group_id)
            .order_by(t.group_members.c.since)
            .limit(MEMBERS_LIMIT)
        )
    ]
    reports = [
        dict(r._mapping)
        for r in conn.execute(
            select(t.reports.c.id, t.reports.c.laptop, t.reports.c.created_at, t.reports.c.username,
                   t.reports.c.network, t.reports.c.note)
            .where(_reports_of(row))
            .order_by(t.reports.c.created_at.desc())
            .limit(TIMELINE_LIMIT)
        )
    ]
    notifications = [
        dict(r._mapping)
        for r in conn.execute(
            select(t.notifications.c.event, t.notifications.c.channel, t.notifications.c.sent_at,
                   t.notifications.c.state)
            .where(t.notifications.c.group_id == group_id, t.notifications.c.sent_at.is_not(None))
            .order_by(t.notifications.c.sent_at)
            .limit(TIMELINE_LIMIT)
        )
    ]
    return {"group": group, "members": members, "reports": reports,
            "timeline": timeline(group, members, reports, notifications)}


def timeline(group: Group, members: list[dict], reports: list[dict], notifications: list[dict]) -> list[dict]:
    """What happened to one group, oldest first: it opened, laptops joined and left, people
    reported (with their words), IT was told, the incident, and the end."""
    # a member may have been seen a moment before the group was written: it opened with them
    opened = min([group.first_at, *(m["since"] for m in members)])
    events: list[dict[str, Any]] = [{"at": opened, "kind": "opened", "text": "The outage group opened"}]
    for m in members:
        who = m["username"] or f"laptop {m['laptop'][:8]}"
        how = "its shared state" if m["by_state"] else "a report"
        events.append({"at": m["since"], "kind": "joined", "text": f"{who} joined ({how})"})
        if m["left_at"] is not None:
            events.append({"at": m["left_at"], "kind": "left", "text": f"{who} works again"})
    for r in reports:
        who = r["username"] or f"laptop {r['laptop'][:8]}"
        events.append({"at": r["created_at"], "kind": "report", "text": f"{who} sent a report",
                       "note": r["note"], "report": r["id"]})
    for n in notifications:
        events.append({"at": n["sent_at"], "kind": "notified",
                       "text": f"IT was notified via {n['channel']} ({n['event']})"})
    if group.incident:
        events.append({"at": group.incident["started_at"], "kind": "incident",
                       "text": f"Incident {group.incident['id']} posted: {group.incident['title']}"})
    if group.resolved_at is not None:
        events.append({"at": group.resolved_at, "kind": "resolved", "text": "The outage group resolved"})
    for e in events:
        e.setdefault("note", "")
        e.setdefault("report", "")
    order = {"opened": 0, "resolved": 9}
    events.sort(key=lambda e: (e["at"], order.get(e["kind"], 5)))
    return events[-TIMELINE_LIMIT:]


def fleet(conn: Connection, now: datetime) -> dict[str, Any]:
    """Laptops seen in the last 24 h, by verdict and by network (the biggest networks first).
    One pass over the day's laptops, grouped by (verdict, network); the rest is arithmetic."""
    recent = t.laptops.c.last_seen >= now - FLEET_WINDOW
    rows = conn.execute(
        select(t.laptops.c.verdict, t.laptops.c.network, func.count())
        .where(recent)
        .group_by(t.laptops.c.verdict, t.laptops.c.network)
    ).all()
    by_verdict: dict[str, int] = {}
    per_network: dict[str, list[int]] = {}
    for verdict, network, n in rows:
        by_verdict[verdict or ""] = by_verdict.get(verdict or "", 0) + n
        counts = per_network.setdefault(network or "", [0, 0])
        counts[0] += n
        if verdict not in ("ok", ""):
            counts[1] += n
    biggest = sorted(per_network.items(), key=lambda kv: (-kv[1][0], kv[0]))[:TOP_NETWORKS]
    return {
        "total": sum(by_verdict.values()),
        "by_verdict": by_verdict,
        "networks": [{"network": k, "laptops": v[0], "affected": v[1]} for k, v in biggest],
        "network_count": sum(1 for k in per_network if k),
    }


def incidents(conn: Connection, *, resolved_since: datetime) -> dict[str, list[dict[str, Any]]]:
    rows = [dict(r._mapping) for r in conn.execute(
        select(t.incidents)
        .where(or_(t.incidents.c.status != "resolved", t.incidents.c.updated_at >= resolved_since))
        .order_by(t.incidents.c.updated_at.desc())
        .limit(100)
    )]
    return {"open": [r for r in rows if r["status"] != "resolved"],
            "resolved": [r for r in rows if r["status"] == "resolved"]}


def report_body(conn: Connection, report_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(t.reports.c.id, t.reports.c.body, t.reports.c.received_at, t.reports.c.laptop,
               t.reports.c.group_key)
        .where(t.reports.c.id == report_id)
    ).first()
    return dict(row._mapping) if row else None


def version(conn: Connection) -> str:
    """Changes whenever anything the live page shows may have changed: cheap enough to ask
    every two seconds (indexed maxima and one count)."""
    g = conn.execute(select(func.max(t.groups.c.changed_at), func.max(t.groups.c.last_at),
                            func.count()).where(t.groups.c.state == "open")).one()
    r = conn.execute(select(func.max(t.reports.c.seq))).scalar()
    i = conn.execute(select(func.max(t.incidents.c.updated_at))).scalar()
    resolved = conn.execute(select(func.max(t.groups.c.resolved_at))).scalar()
    return "|".join(str(v) for v in (*g, r, i, resolved))
