"""Retention (hub.retention_days): reports, state events, resolved groups and sent notifications
older than that are deleted; laptops not seen for that long are forgotten."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, select

from app.hub import schema as t
from app.hub.store import GROUPER_LOCK, Store

if TYPE_CHECKING:
    from app.hub.settings import HubSettings

log = logging.getLogger(__name__)


def prune(store: Store, settings: HubSettings, now: datetime) -> dict[str, int]:
    cutoff = now - timedelta(days=settings.retention_days)
    removed: dict[str, int] = {}
    with store.begin() as conn:
        if not store.try_lock(conn, GROUPER_LOCK):
            return removed
        g = t.groups.c
        old_groups = select(g.id).where(g.state == "resolved", g.resolved_at < cutoff)
        removed["notifications"] = conn.execute(delete(t.notifications).where(
            t.notifications.c.state.in_(("sent", "failed")), t.notifications.c.created_at < cutoff)).rowcount
        removed["members"] = conn.execute(delete(t.group_members).where(t.group_members.c.group_id.in_(old_groups))).rowcount
        removed["groups"] = conn.execute(delete(t.groups).where(g.state == "resolved", g.resolved_at < cutoff)).rowcount
        removed["reports"] = conn.execute(delete(t.reports).where(t.reports.c.received_at < cutoff, t.reports.c.grouped.is_(True))).rowcount
        removed["states"] = conn.execute(delete(t.states).where(t.states.c.received_at < cutoff, t.states.c.grouped.is_(True))).rowcount
        removed["laptops"] = conn.execute(delete(t.laptops).where(t.laptops.c.last_seen < cutoff)).rowcount
        removed["sessions"] = conn.execute(delete(t.sessions).where(t.sessions.c.expires_at < now)).rowcount
    if any(removed.values()):
        log.info("retention: removed %s", ", ".join(f"{v} {k}" for k, v in removed.items() if v))
    return removed
